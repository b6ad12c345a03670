"""The ``[model]`` table shapes consumption: who is home, on which days, and habit shifts."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from simulators.household import (
    Consumption,
    ConsumptionModel,
    mean_daily_use,
    scenario_consumption,
)
from simulators.scenario import (
    WEEKDAYS,
    Away,
    Guests,
    HabitShift,
    ModelSettings,
    Scenario,
    builtin_scenario,
    load_scenario,
)

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday


@pytest.fixture(scope="module")
def demo() -> Scenario:
    return load_scenario(builtin_scenario("demo"))


def day(n: float) -> datetime:
    return START + timedelta(days=n)


def run(demo: Scenario, model: ModelSettings, days: int, seed: int = 3) -> list[Consumption]:
    return list(ConsumptionModel(demo.items, seed=seed, model=model).events(START, days))


def totals(
    events: list[Consumption], start: datetime = START, end: datetime | None = None
) -> dict[str, float]:
    """Each item's use in ``[start, end)``, or from ``start`` on."""
    used: dict[str, float] = defaultdict(float)
    for event in events:
        if start <= event.ts and (end is None or event.ts < end):
            used[event.item] += event.quantity
    return used


def test_nothing_is_used_while_away(demo: Scenario) -> None:
    """No item is used inside an away window, and use resumes after it."""
    away = Away(start=day(10.5), end=day(20.25))
    events = run(demo, ModelSettings(away=(away,)), 30)
    assert not [e for e in events if away.start <= e.ts < away.end]
    assert set(totals(events, day(5), away.start)) == {item.id for item in demo.items}
    assert set(totals(events, away.end, day(30))) == {item.id for item in demo.items}


def test_guests_scale_shared_use_exactly(demo: Scenario) -> None:
    """Two guests with two residents double each use in their window, and nothing else."""
    guests = Guests(start=day(7), end=day(14), people=2)
    alone = run(demo, ModelSettings(), 21)
    hosting = run(demo, ModelSettings(guests=(guests,)), 21)
    shared = {"milk", "yogurt", "juice", "coffee", "water_filter"}
    usual = totals(alone, guests.start, guests.end)
    during = totals(hosting, guests.start, guests.end)
    for item_id in shared:
        assert during[item_id] == pytest.approx(2 * usual[item_id]), item_id
    assert [e for e in hosting if e.ts < guests.start] == [e for e in alone if e.ts < guests.start]
    after = [e for e in hosting if e.ts >= guests.end and e.item in shared]
    assert after == [e for e in alone if e.ts >= guests.end and e.item in shared]


def test_guests_scale_whole_uses_on_average(demo: Scenario) -> None:
    """Washes, dishwasher runs and eggs come in whole units: doubled on average."""
    days = 7 * 100
    items = [demo.item("detergent"), demo.item("tablets"), demo.item("eggs")]
    model = ModelSettings(people=1, guests=(Guests(start=day(0), end=day(days), people=1),))
    used = totals(list(ConsumptionModel(items, seed=3, model=model).events(START, days)))
    for item in items:
        usual = mean_daily_use(item, model)
        assert used[item.id] / days == pytest.approx(2 * usual, rel=0.1), item.id


def test_shift_changes_use_for_good(demo: Scenario) -> None:
    """From ``at`` on the use is ``factor`` times what it would have been; before, unchanged."""
    shift = HabitShift(at=day(20), factor=0.5)
    usual = run(demo, ModelSettings(), 60)
    shifted = run(demo, ModelSettings(shifts=(shift,)), 60)
    assert totals(shifted, START, shift.at) == totals(usual, START, shift.at)
    after, usual_after = totals(shifted, shift.at), totals(usual, shift.at)
    assert after["milk"] == pytest.approx(0.5 * usual_after["milk"])
    assert after["detergent"] < 0.7 * usual_after["detergent"]


def test_shifts_compound_and_name_items(demo: Scenario) -> None:
    """Shifts multiply each other, and one naming items leaves the others alone."""
    shifts = (
        HabitShift(at=day(10), factor=0.5),
        HabitShift(at=day(20), factor=3.0, items=("milk",)),
    )
    usual = run(demo, ModelSettings(), 30)
    shifted = run(demo, ModelSettings(shifts=shifts), 30)
    late, usual_late = totals(shifted, day(20)), totals(usual, day(20))
    assert late["milk"] == pytest.approx(1.5 * usual_late["milk"])
    assert late["coffee"] == pytest.approx(0.5 * usual_late["coffee"])
    middle, usual_middle = totals(shifted, day(10), day(20)), totals(usual, day(10), day(20))
    assert middle["milk"] == pytest.approx(0.5 * usual_middle["milk"])


@pytest.mark.parametrize("days", [("sat",), ("mon", "thu")])
def test_use_days_concentrate_use(demo: Scenario, days: tuple[str, ...]) -> None:
    """Lumpy items are used only on their days, and as much a week as on average."""
    weeks = 200
    items = [demo.item("milk"), demo.item("detergent")]
    model = ModelSettings(use_days={"detergent": days, "milk": days})
    lumpy = list(ConsumptionModel(items, seed=3, model=model).events(START, 7 * weeks))
    assert {WEEKDAYS[e.ts.weekday()] for e in lumpy} == set(days)
    used = totals(lumpy)
    for item in items:
        weekly = 7 * mean_daily_use(item, model)
        assert used[item.id] / weeks == pytest.approx(weekly, rel=0.1), item.id


def weekend_ratio(events: list[Consumption], item_id: str) -> float:
    """An item's mean use on a weekend day over its mean use on a weekday."""
    by_kind: dict[bool, float] = defaultdict(float)
    for event in events:
        if event.item == item_id:
            by_kind[event.ts.weekday() >= 5] += event.quantity
    return (by_kind[True] / 2) / (by_kind[False] / 5)


def test_weekend_factor_shifts_use_to_weekends(demo: Scenario) -> None:
    """``weekend_factor`` multiplies the pattern's weekend use, keeping the weekly total."""
    usual = run(demo, ModelSettings(), 7 * 200)
    lazy = run(demo, ModelSettings(weekend_factor=2.0), 7 * 200)
    assert weekend_ratio(usual, "milk") == pytest.approx(1.2, rel=0.1)  # BREAKFAST's own
    assert weekend_ratio(lazy, "milk") == pytest.approx(2 * weekend_ratio(usual, "milk"))
    assert weekend_ratio(lazy, "detergent") > 1.5 * weekend_ratio(usual, "detergent")
    assert totals(lazy)["milk"] == pytest.approx(totals(usual)["milk"], rel=0.02)


def test_settings_are_deterministic(demo: Scenario) -> None:
    """The same settings and seed give the same events, with every feature switched on."""
    model = ModelSettings(
        people=3,
        weekend_factor=1.5,
        use_days={"detergent": ("sat",)},
        away=(Away(start=day(3), end=day(5)),),
        guests=(Guests(start=day(8), end=day(9), people=4),),
        shifts=(HabitShift(at=day(6), factor=1.3),),
    )
    assert run(demo, model, 14) == run(demo, model, 14)
    assert run(demo, model, 14) != run(demo, ModelSettings(), 14)


def test_adding_an_item_leaves_others_unchanged_with_settings(demo: Scenario) -> None:
    """Each item keeps its own stream when the settings name several items."""
    model = ModelSettings(guests=(Guests(start=day(2), end=day(4)),), use_days={"milk": ("tue",)})
    alone = list(ConsumptionModel(demo.items[:2], seed=4, model=model).events(START, 10))
    together = run(demo, model, 10, seed=4)
    assert [e for e in together if e.item in {"milk", "eggs"}] == alone


def test_scenario_consumption_uses_the_scenario_model(demo: Scenario) -> None:
    """A household away for the whole scenario uses nothing."""
    model = ModelSettings(away=(Away(start=demo.start, end=demo.end),))
    assert list(scenario_consumption(msgspec.structs.replace(demo, model=model))) == []
    assert next(scenario_consumption(demo), None) is not None
