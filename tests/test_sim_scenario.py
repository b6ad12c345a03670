"""Scenario files: the demo loads, and every kind of mistake names the file, line and field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge_agent.catalog import Device, SensorKind
from simulators.errors import ScenarioError
from simulators.scenario import (
    SensorSettings,
    StuckFault,
    builtin_scenario,
    load_scenario,
    parse_scenario,
)

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


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "scenario.toml"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return path


def error_for(tmp_path: Path, text: str | bytes) -> str:
    """The ScenarioError's message for ``text``, after the file's path."""
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:")
    return message.removeprefix(str(path))


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th ``needle`` in ``text``."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    return text.count("\n", 0, index) + 1


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
    """A valid file gives the household's end as start plus days, and default sensors."""
    scenario = load_scenario(write(tmp_path, VALID))
    assert scenario.end == datetime(2026, 2, 5, tzinfo=UTC)
    assert scenario.sensors == SensorSettings()


def test_fault_switches(tmp_path: Path) -> None:
    """``fault = true`` switches a fault on with its defaults, ``fault = false`` off."""
    text = VALID + "\n[sensors]\nstuck = true\nnoise = false\n"
    sensors = load_scenario(write(tmp_path, text)).sensors
    assert sensors.stuck == StuckFault()
    assert sensors.noise is None


def test_item_without_cycle_loads(tmp_path: Path) -> None:
    """cycle_days is optional: the consumption model falls back to typical use."""
    scenario = load_scenario(write(tmp_path, VALID.replace("cycle_days = 20\n", "")))
    assert scenario.item("coffee").cycle_days is None


def test_crlf_and_bom_are_accepted(tmp_path: Path) -> None:
    """A scenario saved on Windows, with CRLF line ends and a byte-order mark, loads."""
    text = "\ufeff" + VALID.replace("\n", "\r\n")
    assert load_scenario(write(tmp_path, text)).household.id == "flat-7"


def test_wrong_type_names_line_field_and_item(tmp_path: Path) -> None:
    """A string where a number belongs names its line, its path and the item's id."""
    text = VALID.replace("pack_size = 1000\ncapacity = 2000", 'pack_size = "big"\ncapacity = 2000')
    assert error_for(tmp_path, text) == (
        f":{line_of(text, 'pack_size', 2)}: items[1].pack_size (item 'coffee'):"
        " Expected `float`, got `str`"
    )


def test_missing_field_names_the_table_header(tmp_path: Path) -> None:
    """A missing required field is named, at the line of its [[items]] header."""
    text = VALID.replace('name = "Milk"\n', "")
    assert error_for(tmp_path, text) == (
        f":{line_of(text, '[[items]]')}: items[0] (item 'milk'): missing required field `name`"
    )


def test_unknown_field_names_its_line(tmp_path: Path) -> None:
    """A misspelt key is refused at the line it is written on."""
    text = VALID.replace("price = 16.9", "price = 16.9\ncolour = 'brown'")
    assert error_for(tmp_path, text) == (
        f":{line_of(text, 'colour')}: items[1] (item 'coffee'): unknown field `colour`"
    )


def test_bad_lead_time_names_its_line(tmp_path: Path) -> None:
    """A lead time whose min exceeds its max is refused at its inline table's line."""
    text = VALID.replace("{ min = 24, max = 48 }", "{ min = 48, max = 24 }")
    message = error_for(tmp_path, text)
    assert message.startswith(f":{line_of(text, 'lead_time_hours')}: items[0].lead_time_hours")
    assert "min <= max" in message


def test_item_check_names_the_field_line(tmp_path: Path) -> None:
    """An item's own check (a negative price) points at the field it names."""
    text = VALID.replace("price = 16.9", "price = -1")
    assert error_for(tmp_path, text) == (
        f":{line_of(text, 'price = -1')}: items[1].price:"
        " price must not be negative for item 'coffee'"
    )


def test_missing_household_field_names_the_header(tmp_path: Path) -> None:
    """The household table's required fields are checked too."""
    text = VALID.replace("seed = 7\n", "")
    assert error_for(tmp_path, text) == (
        f":{line_of(text, '[household]')}: household: missing required field `seed`"
    )


def test_household_check_names_the_field_line(tmp_path: Path) -> None:
    """days = 0 is refused at the line of days."""
    text = VALID.replace("days = 3", "days = 0")
    assert error_for(tmp_path, text) == (
        f":{line_of(text, 'days = 0')}: household.days: days must be at least 1, got 0"
    )


def test_naive_start_is_refused(tmp_path: Path) -> None:
    """A start without a timezone is refused rather than guessed at, at its line."""
    text = VALID.replace("2026-02-02T00:00:00Z", "2026-02-02T00:00:00")
    message = error_for(tmp_path, text)
    assert message.startswith(f":{line_of(text, 'start')}: household.start: ")
    assert "timezone" in message


def test_duplicate_item_names_the_second_id(tmp_path: Path) -> None:
    """Two items with one id are refused at the second id's line."""
    text = VALID.replace('id = "coffee"', 'id = "milk"')
    line = line_of(text, 'id = "milk"', 2)
    assert error_for(tmp_path, text) == f":{line}: items[1].id: item id 'milk' appears twice"


def test_missing_table_has_no_line(tmp_path: Path) -> None:
    """A table that is not written anywhere has no line to name; the file is still named."""
    text = VALID.split("[[items]]")[0]
    assert error_for(tmp_path, text) == ": missing required field `items`"


def test_sensor_fault_in_its_own_table(tmp_path: Path) -> None:
    """A bad element of a multi-line array in [sensors.stuck] names the element's line."""
    text = VALID + (
        "\n[sensors]\nheartbeat_minutes = 5\n\n[sensors.stuck]\nhours = [\n  3,\n  'x',\n]\n"
    )
    line = line_of(text, "'x'")
    assert error_for(tmp_path, text) == (
        f":{line}: sensors.stuck.hours[1]: Expected `float`, got `str`"
    )


def test_sensor_check_names_the_field_line(tmp_path: Path) -> None:
    """A fault's own check names the key it is about."""
    text = VALID + "\n[sensors]\nduplicates = true\nnoise = { grams = -1 }\n"
    assert error_for(tmp_path, text) == (
        f":{line_of(text, 'noise')}: sensors.noise.grams: noise.grams must not be negative,"
        " got -1.0"
    )


def test_daily_use_names_the_item_key(tmp_path: Path) -> None:
    """A bad value in [model.daily_use] names the key, though msgspec reports only `[...]`."""
    text = VALID + "\n[model]\npeople = 3\n\n[model.daily_use]\nmilk = 500\ncoffee = 'lots'\n"
    assert error_for(tmp_path, text) == (
        f":{line_of(text, 'coffee = ')}: model.daily_use.coffee: Expected `float`, got `str`"
    )


def test_model_naming_unknown_item(tmp_path: Path) -> None:
    """[model] naming an item the scenario lacks points at that name."""
    text = VALID + "\n[model]\npeople = 2\ndaily_use = { milk = 1, tea = 2 }\n"
    assert error_for(tmp_path, text) == (
        f":{line_of(text, 'daily_use')}: model.daily_use.tea:"
        " [model] names item 'tea', which is not among the [[items]]"
    )


def test_second_away_table_is_counted(tmp_path: Path) -> None:
    """Each [[model.away]] is counted, so away[1] is the second table's line."""
    away = "\n[[model.away]]\nfrom = 2026-02-02T00:00:00Z\nto = {to}\n"
    text = VALID + away.format(to="2026-02-03T00:00:00Z") + away.format(to="'soon'")
    line = line_of(text, "to = 'soon'")
    assert error_for(tmp_path, text) == (
        f":{line}: model.away[1].to: Invalid RFC3339 encoded datetime"
    )


def test_inline_array_of_tables(tmp_path: Path) -> None:
    """An element of a multi-line array of inline tables is found by its line."""
    text = VALID + (
        "\n[model]\naway = [\n"
        "  { from = 2026-02-02T00:00:00Z, to = 2026-02-03T00:00:00Z },\n"
        "  { from = 2026-02-04T00:00:00Z, to = 2026-02-03T00:00:00Z },\n"
        "]\n"
    )
    assert error_for(tmp_path, text) == (
        f":{line_of(text, 'from = 2026-02-04')}: model.away[1].to: away needs `to` after `from`"
    )


def test_multiline_string_does_not_shift_lines(tmp_path: Path) -> None:
    """A table header inside a multi-line string is text, not a table, for the locator."""
    text = VALID.replace('name = "Milk"', 'name = """Milk\n[[items]]\n"""').replace(
        "price = 16.9", "price = 'x'"
    )
    line = line_of(text, "price = 'x'")
    assert error_for(tmp_path, text).startswith(f":{line}: items[1].price")


def test_invalid_toml_names_its_line(tmp_path: Path) -> None:
    """A syntax error is reported as a ScenarioError at tomllib's line, not a traceback."""
    text = VALID.replace("days = 3", "days = = 3")
    assert error_for(tmp_path, text) == (
        f":{line_of(text, 'days')}: invalid TOML: Invalid value (column 8)"
    )


def test_non_utf8_scenario_names_its_line(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are refused with the line they are on."""
    data = VALID.replace('"Coffee beans"', '"Caf\xe9"').encode("latin-1")
    message = error_for(tmp_path, data)
    assert message.startswith(f":{line_of(VALID, 'Coffee beans')}: scenario is not UTF-8 text")


def test_parse_scenario_names_its_source() -> None:
    """Text already in memory is named by the source given."""
    with pytest.raises(ScenarioError, match=r"^inline:5: household\.days: "):
        parse_scenario(VALID.replace("days = 3", "days = 0"), source="inline")


def test_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    """A file that does not exist is reported with its path."""
    path = tmp_path / "nope.toml"
    with pytest.raises(ScenarioError, match=r"nope\.toml: cannot read scenario"):
        load_scenario(path)
