"""Packs bought by hand: the scenario's own purchases and random ones at shopping hours."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import msgspec
import pytest

from simulators.errors import SimulatorError
from simulators.household import (
    SHOPPING_HOURS,
    ConsumptionModel,
    HandPurchase,
    scenario_purchases,
)
from simulators.scenario import (
    Away,
    ModelSettings,
    Purchase,
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


def bought(
    demo: Scenario, model: ModelSettings, days: int, seed: int = 1
) -> tuple[HandPurchase, ...]:
    return ConsumptionModel(demo.items, seed=seed, model=model).purchases(START, days)


def test_explicit_purchases_inside_the_window(demo: Scenario) -> None:
    """The scenario's purchases come back as given, those outside the window left out."""
    model = ModelSettings(
        purchases=(
            Purchase(at=day(3.5), item="milk", packs=2),
            Purchase(at=day(1.25), item="coffee"),
            Purchase(at=day(9), item="eggs"),
        )
    )
    assert bought(demo, model, 7) == (
        HandPurchase(day(1.25), "coffee", 1),
        HandPurchase(day(3.5), "milk", 2),
    )


def test_no_random_purchases_by_default(demo: Scenario) -> None:
    """With ``hand_bought_per_week`` at 0 nothing is bought by hand."""
    assert bought(demo, ModelSettings(), 7 * 20) == ()


def test_random_purchases_at_the_weekly_rate(demo: Scenario) -> None:
    """Each item is bought by hand about ``hand_bought_per_week`` times a week, a pack each."""
    weeks = 100
    purchases = bought(demo, ModelSettings(hand_bought_per_week=1.5), 7 * weeks)
    per_item = Counter(p.item for p in purchases)
    assert set(per_item) == {item.id for item in demo.items}
    assert sum(per_item.values()) / len(demo.items) / weeks == pytest.approx(1.5, rel=0.1)
    assert all(p.packs == 1 for p in purchases)


def test_random_purchases_at_shopping_hours(demo: Scenario) -> None:
    """People buy after work on weekdays and on Saturday morning, in time order."""
    purchases = bought(demo, ModelSettings(hand_bought_per_week=3), 7 * 20)
    assert purchases
    assert all(a.ts <= b.ts for a, b in pairwise(purchases))
    for purchase in purchases:
        opens, closes = SHOPPING_HOURS[purchase.ts.weekday()]
        hour = purchase.ts.hour + purchase.ts.minute / 60 + purchase.ts.second / 3600
        assert opens <= hour <= closes, purchase


def test_random_purchases_are_deterministic(demo: Scenario) -> None:
    """The same seed buys the same; another seed buys differently."""
    model = ModelSettings(hand_bought_per_week=2)
    assert bought(demo, model, 7 * 8) == bought(demo, model, 7 * 8)
    assert bought(demo, model, 7 * 8) != bought(demo, model, 7 * 8, seed=2)


def test_nothing_is_bought_while_away(demo: Scenario) -> None:
    """Nobody shops while the household is away, and shopping resumes after."""
    away = Away(start=day(7), end=day(21))
    purchases = bought(demo, ModelSettings(hand_bought_per_week=4, away=(away,)), 28)
    assert not [p for p in purchases if away.start <= p.ts < away.end]
    assert [p for p in purchases if p.ts < away.start]
    assert [p for p in purchases if p.ts >= away.end]


def test_adding_an_item_leaves_others_purchases_unchanged(demo: Scenario) -> None:
    """Each item's hand purchases come from its own random stream."""
    model = ModelSettings(hand_bought_per_week=2)
    alone = ConsumptionModel(demo.items[:1], seed=4, model=model).purchases(START, 56)
    together = bought(demo, model, 56, seed=4)
    assert alone
    assert tuple(p for p in together if p.item == demo.items[0].id) == alone


def test_scenario_purchases_use_the_scenario_model(demo: Scenario) -> None:
    """``scenario_purchases`` reads the scenario's ``[model]`` table and seed."""
    model = ModelSettings(purchases=(Purchase(at=day(2), item="juice", packs=3),))
    scenario = msgspec.structs.replace(demo, model=model)
    assert scenario_purchases(scenario) == (HandPurchase(day(2), "juice", 3),)
    assert scenario_purchases(demo) == ()


def test_naive_start_is_refused(demo: Scenario) -> None:
    """Purchases, like uses, need a timezone-aware start."""
    with pytest.raises(SimulatorError, match="timezone"):
        ConsumptionModel(demo.items, seed=1).purchases(datetime(2026, 1, 5), 7)


def test_hand_bought_rates_by_item_buy_only_the_items_named() -> None:
    demo = load_scenario(builtin_scenario("demo"))
    purchases = bought(demo, ModelSettings(hand_bought_per_week={"milk": 3.0}), 28)
    assert purchases
    assert {purchase.item for purchase in purchases} == {"milk"}
