"""The consumption model: repeatable for a seed, and right on average."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import msgspec
import pytest

from edge_agent.catalog import Device, SensorKind
from simulators.errors import SimulatorError
from simulators.household import ConsumptionModel, mean_daily_use
from simulators.scenario import ModelSettings, Scenario, builtin_scenario, load_scenario

START = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo() -> Scenario:
    return load_scenario(builtin_scenario("demo"))


def test_same_seed_same_events(demo: Scenario) -> None:
    """Two models with one seed give identical events."""
    first = list(ConsumptionModel(demo.items, seed=5).events(START, 14))
    second = list(ConsumptionModel(demo.items, seed=5).events(START, 14))
    assert first == second


def test_other_seed_other_events(demo: Scenario) -> None:
    """A different seed gives a different household."""
    first = list(ConsumptionModel(demo.items, seed=5).events(START, 14))
    other = list(ConsumptionModel(demo.items, seed=6).events(START, 14))
    assert first != other


def test_events_in_time_order_within_days(demo: Scenario) -> None:
    """Events come in time order, all inside the requested days."""
    events = list(ConsumptionModel(demo.items, seed=1).events(START, 21))
    assert all(a.ts <= b.ts for a, b in pairwise(events))
    assert events[0].ts >= START
    assert events[-1].ts < START + timedelta(days=21)


def test_long_run_mean_is_pack_over_cycle(demo: Scenario) -> None:
    """Over 98 weeks each item's mean daily use is within 5% of pack_size / cycle_days."""
    days = 7 * 98
    totals: dict[str, float] = defaultdict(float)
    for event in ConsumptionModel(demo.items, seed=3).events(START, days):
        totals[event.item] += event.quantity
    for item in demo.items:
        assert totals[item.id] / days == pytest.approx(mean_daily_use(item), rel=0.05), item.id


def test_count_items_use_whole_units(demo: Scenario) -> None:
    """Eggs and tablets are used one whole unit at a time."""
    counted = {item.id for item in demo.items if item.sensor is SensorKind.COUNT}
    events = [
        e for e in ConsumptionModel(demo.items, seed=2).events(START, 30) if e.item in counted
    ]
    assert events
    assert all(e.quantity == int(e.quantity) and e.quantity >= 1 for e in events)


def test_washer_doses_per_wash(demo: Scenario) -> None:
    """Each wash takes one auto-dose of 60-80 ml of detergent."""
    events = [
        e for e in ConsumptionModel(demo.items, seed=2).events(START, 30) if e.item == "detergent"
    ]
    assert events
    assert all(60 <= e.quantity <= 80 for e in events)


@pytest.mark.parametrize(
    ("device", "changes", "dose"),
    [
        # Detergent bought by the litre: a wash is still 60-80 ml.
        (Device.WASHER, {"unit": "L", "pack_size": 1.5, "capacity": 3, "initial": 1}, (0.06, 0.08)),
        # Pods, counted: one a wash.
        (Device.WASHER, {"sensor": SensorKind.COUNT, "unit": "pod", "pack_size": 20}, (1, 1)),
        # Dishwasher powder on a load cell: 15-25 g a run, not one gram.
        (Device.DISHWASHER, {"sensor": SensorKind.WEIGHT, "unit": "g"}, (15, 25)),
    ],
)
def test_a_dose_is_in_the_items_unit(
    demo: Scenario, device: Device, changes: dict[str, object], dose: tuple[float, float]
) -> None:
    """A wash or a dishwasher run takes its dose in the item's own unit."""
    source = "detergent" if device is Device.WASHER else "tablets"
    item = msgspec.structs.replace(demo.item(source), cycle_days=None, **changes)
    events = list(ConsumptionModel([item], seed=2, model=ModelSettings(people=3)).events(START, 60))
    assert len(events) > 10
    low, high = dose
    assert all(low <= e.quantity <= high for e in events), {e.quantity for e in events}


def test_adding_an_item_leaves_others_unchanged(demo: Scenario) -> None:
    """Each item has its own random stream, so scenarios can grow without reshuffling."""
    alone = list(ConsumptionModel(demo.items[:1], seed=4).events(START, 10))
    together = list(ConsumptionModel(demo.items, seed=4).events(START, 10))
    assert [e for e in together if e.item == demo.items[0].id] == alone


def test_naive_start_is_refused(demo: Scenario) -> None:
    """The model works in UTC, so a start without a timezone is an error."""
    with pytest.raises(SimulatorError, match="timezone"):
        next(ConsumptionModel(demo.items, seed=1).events(datetime(2026, 1, 5), 1))


def test_daily_use_overrides_cycle(demo: Scenario) -> None:
    """``[model] daily_use`` is the mean, whatever the cycle says."""
    model = ModelSettings(daily_use={"milk": 321.0})
    assert mean_daily_use(demo.item("milk"), model) == 321.0
    assert mean_daily_use(demo.item("eggs"), model) == 2.0  # 10 eggs every 5 days


@pytest.mark.parametrize(
    ("item_id", "people", "expected"),
    [
        ("milk", 1, 150.0),
        ("milk", 4, 600.0),
        ("eggs", 2, 1.0),
        ("detergent", 2, 40.0),
        ("tablets", 4, 1.0),
        ("coffee", 3, 54.0),
        ("water_filter", 2, 4.0),  # counted in L, typical use in ml
    ],
)
def test_typical_use_without_cycle(
    demo: Scenario, item_id: str, people: int, expected: float
) -> None:
    """Without a cycle, the mean is the typical use of the people living there."""
    item = msgspec.structs.replace(demo.item(item_id), cycle_days=None)
    assert mean_daily_use(item, ModelSettings(people=people)) == pytest.approx(expected)


def test_typical_use_converts_units(demo: Scenario) -> None:
    """An item counted in kilograms uses the typical grams, converted."""
    item = msgspec.structs.replace(demo.item("milk"), cycle_days=None, unit="kg", pack_size=1)
    assert mean_daily_use(item, ModelSettings(people=2)) == pytest.approx(0.3)


@pytest.mark.parametrize(
    "changes",
    [
        {"unit": "ml"},  # a load cell's item counted by volume: no typical figure
        {"sensor": SensorKind.COUNT, "unit": "g"},  # a counter counts pieces, not grams
        {"device": Device.COFFEE_MACHINE, "sensor": SensorKind.LEVEL, "unit": "ml"},
    ],
)
def test_unknown_use_is_a_pack_a_week(demo: Scenario, changes: dict[str, object]) -> None:
    """Without a cycle or a typical figure that fits, a pack lasts a week."""
    item = msgspec.structs.replace(demo.item("milk"), cycle_days=None, **changes)
    assert mean_daily_use(item, ModelSettings(people=3)) == pytest.approx(1000 / 7)


def test_long_run_mean_without_cycle(demo: Scenario) -> None:
    """Items without a cycle are used at their typical rate, within 5% over 98 weeks."""
    items = [msgspec.structs.replace(item, cycle_days=None) for item in demo.items]
    model = ModelSettings(people=3)
    days = 7 * 98
    totals: dict[str, float] = defaultdict(float)
    for event in ConsumptionModel(items, seed=8, model=model).events(START, days):
        totals[event.item] += event.quantity
    for item in items:
        assert totals[item.id] / days == pytest.approx(mean_daily_use(item, model), rel=0.05)


def weekday_spread(people: int, demo: Scenario) -> float:
    """The coefficient of variation of milk's weekday totals over a year."""
    model = ModelSettings(people=people)
    daily: dict[object, float] = defaultdict(float)
    for event in ConsumptionModel([demo.item("milk")], seed=1, model=model).events(START, 364):
        if event.ts.weekday() < 5:
            daily[event.ts.date()] += event.quantity
    return statistics.stdev(daily.values()) / statistics.mean(daily.values())


def test_more_people_make_days_less_noisy(demo: Scenario) -> None:
    """Many people's habits average out: six people's days vary far less than one's."""
    assert weekday_spread(6, demo) < 0.6 * weekday_spread(1, demo)
