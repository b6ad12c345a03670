"""The shipped scenarios load and can be served, and docs/scenarios.md documents every field."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from pathlib import Path

import msgspec
import pytest

from edge_agent.catalog import Device, ItemSpec, LeadTime
from simulators.household import mean_daily_use
from simulators.scenario import (
    FAULTS,
    SCENARIOS_DIR,
    Away,
    Guests,
    HabitShift,
    HouseholdSpec,
    ModelSettings,
    Purchase,
    Scenario,
    SensorSettings,
    load_scenario,
    parse_scenario,
)

DOC = Path(__file__).parent.parent / "docs" / "scenarios.md"
SHIPPED = sorted(SCENARIOS_DIR.glob("*.toml"))
SCENARIOS = {path.name: load_scenario(path) for path in SHIPPED}
#: Households kept out of the suite (docs/scenarios.md, after "Shipped scenarios").
UNSEEN = sorted((SCENARIOS_DIR / "unseen").glob("*.toml"))

_HEADING = re.compile(r"^(#{1,6}) (.+)$", re.MULTILINE)
_TABLE_ROW = re.compile(r"^\| `([^`]+)` \|", re.MULTILINE)
_TOML_BLOCK = re.compile(r"```toml\n(.*?)```", re.DOTALL)


def doc_sections() -> dict[str, str]:
    """The text under each heading of docs/scenarios.md, up to the next heading."""
    text = DOC.read_text(encoding="utf-8")
    headings = list(_HEADING.finditer(text))
    ends = [match.start() for match in headings[1:]] + [len(text)]
    return {
        match.group(2).strip(): text[match.end() : end]
        for match, end in zip(headings, ends, strict=True)
    }


SECTIONS = doc_sections()


def names(struct: type[msgspec.Struct]) -> list[str]:
    """The names a struct's fields have in a TOML file (``from`` and ``to`` for periods)."""
    return [field.encode_name for field in msgspec.structs.fields(struct)]


def table_rows(heading: str) -> set[str]:
    """The first-column names of the tables under ``heading`` (one level, no subsections)."""
    return set(_TABLE_ROW.findall(SECTIONS[heading]))


def peak_daily_use(item: ItemSpec, scenario: Scenario) -> float:
    """The item's mean daily use at its busiest: after every shift up, with every guest."""
    model = scenario.model
    shifted = 1.0
    for shift in model.shifts:
        if not shift.items or item.id in shift.items:
            shifted *= shift.factor
    guests = max((g.people for g in model.guests), default=0)
    return mean_daily_use(item, model) * max(shifted, 1.0) * (model.people + guests) / model.people


ITEMS = [(name, item) for name, scenario in SCENARIOS.items() for item in scenario.items]
ITEM_IDS = [f"{name}:{item.id}" for name, item in ITEMS]


# --- the shipped files -----------------------------------------------------------------


def test_at_least_ten_scenarios_are_shipped() -> None:
    """The package ships the demo and at least nine other situations."""
    assert len(SHIPPED) >= 10
    assert "demo.toml" in SCENARIOS


@pytest.mark.parametrize("path", SHIPPED + UNSEEN, ids=[path.name for path in SHIPPED + UNSEEN])
def test_shipped_scenario_starts_on_a_monday_at_midnight(path: Path) -> None:
    """Every shipped scenario loads and starts on a Monday at 00:00Z, so weeks line up."""
    start = load_scenario(path).start
    assert start.tzinfo is UTC
    assert start.weekday() == 0
    assert (start.hour, start.minute, start.second, start.microsecond) == (0, 0, 0, 0)


def test_household_ids_and_seeds_are_unique() -> None:
    """No two shipped scenarios share a household id or a seed."""
    ids = [scenario.household.id for scenario in SCENARIOS.values()]
    seeds = [scenario.household.seed for scenario in SCENARIOS.values()]
    assert len(set(ids)) == len(ids)
    assert len(set(seeds)) == len(seeds)


def test_shipped_scenarios_use_every_device() -> None:
    """Across the set, every appliance senses at least one item."""
    devices = {item.device for _, item in ITEMS}
    assert devices == set(Device)


@pytest.mark.parametrize(("name", "item"), ITEMS, ids=ITEM_IDS)
def test_capacity_leaves_room_to_order_in_time(name: str, item: ItemSpec) -> None:
    """A pack ordered in time fits: capacity holds a pack plus the busiest lead time's use.

    A water filter holds one cartridge (plus spares, if any): its new cartridge replaces
    the spent one, so only whole cartridges are checked.
    """
    scenario = SCENARIOS[name]
    lead_days = item.lead_time_hours.max / 24
    if item.device is Device.WATER_FILTER:
        assert item.capacity % item.pack_size == 0
        assert item.pack_size / mean_daily_use(item, scenario.model) > 3 * lead_days
        return
    needed = item.pack_size + peak_daily_use(item, scenario) * lead_days
    assert item.capacity >= needed


@pytest.mark.parametrize(("name", "item"), ITEMS, ids=ITEM_IDS)
def test_initial_stock_outlasts_the_first_order(name: str, item: ItemSpec) -> None:
    """What is in stock at the start lasts longer than the slowest delivery takes."""
    use = mean_daily_use(item, SCENARIOS[name].model)
    assert timedelta(days=item.initial / use) > timedelta(hours=item.lead_time_hours.max)


@pytest.mark.parametrize(("name", "item"), ITEMS, ids=ITEM_IDS)
def test_a_pack_is_used_before_it_expires(name: str, item: ItemSpec) -> None:
    """At the usual rate one pack is used well within its shelf life."""
    if item.shelf_life_days is None:
        return
    days_per_pack = item.pack_size / mean_daily_use(item, SCENARIOS[name].model)
    assert days_per_pack < 0.8 * item.shelf_life_days


# --- docs/scenarios.md -----------------------------------------------------------------

FAULT_SECTIONS = [(key, f"`{key}`") for key in FAULTS]
PERIODS: list[tuple[type[msgspec.Struct], str]] = [
    (Away, "`[[model.away]]`"),
    (Guests, "`[[model.guests]]`"),
    (HabitShift, "`[[model.shifts]]`"),
    (Purchase, "`[[model.purchases]]`"),
]


@pytest.mark.parametrize(
    ("struct", "heading"),
    [
        (HouseholdSpec, "`[household]`"),
        (ItemSpec, "`[[items]]`"),
        (SensorSettings, "`[sensors]`"),
        (ModelSettings, "`[model]`"),
        *PERIODS,
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_every_field_has_a_row_in_its_section(struct: type[msgspec.Struct], heading: str) -> None:
    """Each field of each table is a row of the table under that table's heading."""
    missing = set(names(struct)) - table_rows(heading)
    assert not missing, f"docs/scenarios.md {heading} does not document {sorted(missing)}"


@pytest.mark.parametrize(("key", "heading"), FAULT_SECTIONS, ids=list(FAULTS))
def test_every_fault_parameter_is_documented(key: str, heading: str) -> None:
    """Each fault has its own section, with a row for each of its parameters."""
    missing = set(names(FAULTS[key])) - table_rows(heading)
    assert not missing, f"docs/scenarios.md {heading} does not document {sorted(missing)}"


def test_lead_time_bounds_are_documented() -> None:
    """``lead_time_hours`` is described with its ``min`` and ``max``."""
    rows = SECTIONS["`[[items]]`"]
    for name in names(LeadTime):
        assert re.search(rf"\b{name} = ", rows), name


def test_complete_example_loads() -> None:
    """The complete example in the docs is a valid scenario that sets every table."""
    blocks = _TOML_BLOCK.findall(SECTIONS["A complete example"])
    assert len(blocks) == 1
    scenario = parse_scenario(blocks[0], source="docs/scenarios.md")
    assert {item.device for item in scenario.items} >= {Device.FRIDGE, Device.WATER_FILTER}
    model = scenario.model
    assert all((model.away, model.guests, model.shifts, model.purchases))


def test_every_shipped_scenario_is_listed() -> None:
    """The lists of shipped scenarios, and of those kept out of the suite, name each
    file, and only files that exist."""
    unseen = {f"unseen/{path.name}" for path in UNSEEN}
    assert len(unseen) >= 2
    assert table_rows("Shipped scenarios") == set(SCENARIOS) | unseen
