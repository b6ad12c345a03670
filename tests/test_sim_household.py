"""The consumption model: repeatable for a seed, and right on average."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from edge_agent.catalog import SensorKind
from simulators.household import ConsumptionModel, mean_daily_use
from simulators.scenario import Scenario, builtin_scenario, load_scenario

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


def test_adding_an_item_leaves_others_unchanged(demo: Scenario) -> None:
    """Each item has its own random stream, so scenarios can grow without reshuffling."""
    alone = list(ConsumptionModel(demo.items[:1], seed=4).events(START, 10))
    together = list(ConsumptionModel(demo.items, seed=4).events(START, 10))
    assert [e for e in together if e.item == demo.items[0].id] == alone
