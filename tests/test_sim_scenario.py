"""Scenario files: the demo loads, and every kind of mistake names the file and the field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge_agent.catalog import Device, SensorKind
from simulators.errors import ScenarioError
from simulators.scenario import builtin_scenario, load_scenario

VALID = """
[household]
id = "flat-7"
start = 2026-02-02T00:00:00Z
days = 3
seed = 7

[[items]]
id = "milk"
name = "Milk"
device = "fridge"
sensor = "weight"
unit = "g"
pack_size = 1000
capacity = 3000
initial = 1000
lead_time_hours = { min = 24, max = 48 }
price = 1.19
shelf_life_days = 10
cycle_days = 2

[[items]]
id = "coffee"
name = "Coffee beans"
device = "coffee_machine"
sensor = "weight"
unit = "g"
pack_size = 1000
capacity = 2000
initial = 500
lead_time_hours = { min = 48, max = 96 }
price = 16.9
cycle_days = 20
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    return message


def test_demo_scenario_loads() -> None:
    """The shipped demo is a 60-day household of eight items, each with a cycle."""
    scenario = load_scenario(builtin_scenario("demo"))
    assert scenario.household.id == "demo"
    assert scenario.start == datetime(2026, 1, 5, tzinfo=UTC)
    assert scenario.household.days == 60
    assert scenario.household.seed == 42
    assert [item.id for item in scenario.items] == [
        "milk",
        "eggs",
        "yogurt",
        "juice",
        "detergent",
        "tablets",
        "coffee",
        "water_filter",
    ]
    assert scenario.item("water_filter").device is Device.WATER_FILTER
    assert scenario.item("eggs").sensor is SensorKind.COUNT
    assert all(item.cycle_days is not None for item in scenario.items)


def test_valid_scenario_loads_with_end(tmp_path: Path) -> None:
    """A valid file gives the household's end as start plus days."""
    scenario = load_scenario(write(tmp_path, VALID))
    assert scenario.end == datetime(2026, 2, 5, tzinfo=UTC)
    assert scenario.sensors == {}


def test_sensors_table_is_kept_raw(tmp_path: Path) -> None:
    """An optional [sensors] table is accepted and kept as written."""
    scenario = load_scenario(write(tmp_path, VALID + "\n[sensors]\nmilk = { noise = 3.0 }\n"))
    assert scenario.sensors == {"milk": {"noise": 3.0}}


def test_wrong_type_names_field_and_item(tmp_path: Path) -> None:
    """A string where a number belongs names the path and the item's id."""
    message = error_for(
        tmp_path,
        VALID.replace("pack_size = 1000\ncapacity = 2000", 'pack_size = "big"\ncapacity = 2000'),
    )
    assert "`$.items[1].pack_size`" in message
    assert "'coffee'" in message


def test_missing_field_is_named(tmp_path: Path) -> None:
    """A missing required field is named, with where it is missing."""
    message = error_for(tmp_path, VALID.replace('name = "Milk"\n', ""))
    assert "`name`" in message
    assert "`$.items[0]`" in message


def test_bad_lead_time_is_named(tmp_path: Path) -> None:
    """A lead time whose min exceeds its max is refused at its path."""
    message = error_for(tmp_path, VALID.replace("{ min = 24, max = 48 }", "{ min = 48, max = 24 }"))
    assert "`$.items[0].lead_time_hours`" in message
    assert "min <= max" in message


def test_missing_household_field_is_named(tmp_path: Path) -> None:
    """The household table's required fields are checked too."""
    message = error_for(tmp_path, VALID.replace("seed = 7\n", ""))
    assert "`seed`" in message
    assert "`$.household`" in message


def test_naive_start_is_refused(tmp_path: Path) -> None:
    """A start without a timezone is refused rather than guessed at."""
    message = error_for(tmp_path, VALID.replace("2026-02-02T00:00:00Z", "2026-02-02T00:00:00"))
    assert "timezone" in message


def test_item_without_cycle_is_refused(tmp_path: Path) -> None:
    """The simulator cannot use an item without cycle_days, so the scenario is refused."""
    message = error_for(tmp_path, VALID.replace("cycle_days = 20\n", ""))
    assert "cycle_days" in message
    assert "'coffee'" in message


def test_duplicate_item_is_refused(tmp_path: Path) -> None:
    """Two items with one id are refused, naming the id."""
    message = error_for(tmp_path, VALID.replace('id = "coffee"', 'id = "milk"'))
    assert "'milk' appears twice" in message


def test_invalid_toml_is_a_scenario_error(tmp_path: Path) -> None:
    """A syntax error is reported as a ScenarioError, not a traceback."""
    message = error_for(tmp_path, VALID + "\n[household\n")
    assert "invalid TOML" in message


def test_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    """A file that does not exist is reported with its path."""
    path = tmp_path / "nope.toml"
    with pytest.raises(ScenarioError, match=r"nope\.toml: cannot read scenario"):
        load_scenario(path)
