"""The household budget: a monthly spending cap and an approval limit, judged per order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from edge_agent.budget import (
    Action,
    BudgetSettings,
    MonthlySpending,
    judge,
    month_start,
    order_cents,
    review,
)
from edge_agent.policy import LinePlan

PRICES = {"milk": 1.19, "coffee": 12.0, "tabs": 6.5}


def line(item: str, packs: int) -> LinePlan:
    return LinePlan(item=item, packs=packs, explanation=f"{item} is low")


def packs(lines: tuple[LinePlan, ...]) -> dict[str, int]:
    return {x.item: x.packs for x in lines}


def test_order_within_the_budget_is_placed_as_decided() -> None:
    """Under the cap and the approval limit, nothing changes and nothing is added."""
    lines = (line("coffee", 2), line("milk", 3))
    verdict = judge(
        lines,
        prices=PRICES,
        spent_cents=1000,
        settings=BudgetSettings(monthly_cap=50, approve_above=30),
    )
    assert verdict.action is Action.PLACE
    assert verdict.lines == lines
    assert verdict.cost_cents == 2 * 1200 + 3 * 119
    assert verdict.note == ""


def test_no_budget_places_everything() -> None:
    """Without a cap or a limit, even a costly order is placed."""
    verdict = judge([line("coffee", 50)], prices=PRICES, spent_cents=0, settings=BudgetSettings())
    assert verdict.action is Action.PLACE


def test_cap_trims_the_least_urgent_line_first() -> None:
    """Over the cap, the last (least urgent) line loses packs before earlier ones do."""
    lines = (line("coffee", 2), line("tabs", 2), line("milk", 2))
    # 24.00 + 13.00 + 2.38 = 39.38; 30.00 left under the cap.
    verdict = judge(
        lines,
        prices=PRICES,
        spent_cents=9000,
        settings=BudgetSettings(monthly_cap=120),
        due={"coffee", "tabs"},
    )
    assert verdict.action is Action.TRIM
    # milk (not due) goes first, then tabs down to its one pack: 24.00 + 6.50 = 30.50 is
    # still over, so coffee loses its second pack too.
    assert packs(verdict.lines) == {"coffee": 1, "tabs": 1}
    assert verdict.cost_cents == 1850
    assert verdict.note == (
        "trimmed to the €120.00 monthly cap (€90.00 spent this month):"
        " coffee cut from 2 packs to 1 pack, tabs cut from 2 packs to 1 pack, milk left out"
    )


def test_cap_keeps_a_pack_of_every_due_item_before_dropping_one() -> None:
    """Due items are cut to one pack each before any due item is left out."""
    lines = (line("coffee", 3), line("tabs", 3))
    verdict = judge(
        lines,
        prices=PRICES,
        spent_cents=0,
        settings=BudgetSettings(monthly_cap=20),
        due={"coffee", "tabs"},
    )
    assert packs(verdict.lines) == {"coffee": 1, "tabs": 1}


def test_cap_drops_less_urgent_due_items_when_one_pack_each_is_too_much() -> None:
    """When one pack of every due item is over the cap, the later ones are left out."""
    lines = (line("coffee", 2), line("tabs", 1))
    verdict = judge(
        lines, prices=PRICES, spent_cents=0, settings=BudgetSettings(monthly_cap=15), due=None
    )
    assert verdict.action is Action.TRIM
    assert packs(verdict.lines) == {"coffee": 1}
    assert verdict.note.endswith("coffee cut from 2 packs to 1 pack, tabs left out")


def test_order_is_held_when_not_a_pack_of_the_most_urgent_line_fits() -> None:
    """With too little left under the cap, the order waits, whole, naming the figures."""
    lines = (line("coffee", 1), line("milk", 1))
    verdict = judge(
        lines,
        prices=PRICES,
        spent_cents=11500,
        settings=BudgetSettings(monthly_cap=120),
        due={"coffee"},
    )
    assert verdict.action is Action.HOLD
    assert verdict.held
    assert verdict.lines == lines
    assert verdict.note == (
        "held for approval as the order's €13.19 does not fit the €120.00 monthly cap"
        " (€115.00 spent this month)"
    )


def test_order_above_the_approval_limit_is_held() -> None:
    """An order costing more than the approval limit waits, whatever the cap."""
    lines = (line("coffee", 2),)
    verdict = judge(lines, prices=PRICES, spent_cents=0, settings=BudgetSettings(approve_above=20))
    assert verdict.action is Action.HOLD
    assert verdict.lines == lines
    assert verdict.note == "held for approval as €24.00 is above the €20.00 approval limit"


def test_order_at_the_approval_limit_is_placed() -> None:
    """The limit is inclusive: exactly the limit needs no approval."""
    verdict = judge(
        [line("coffee", 1)], prices=PRICES, spent_cents=0, settings=BudgetSettings(approve_above=12)
    )
    assert verdict.action is Action.PLACE


def test_trimmed_order_still_above_the_limit_is_held_with_both_reasons() -> None:
    """The cap trims first; what is left is then checked against the approval limit."""
    verdict = judge(
        [line("coffee", 3)],
        prices=PRICES,
        spent_cents=0,
        settings=BudgetSettings(monthly_cap=30, approve_above=20),
        due={"coffee"},
    )
    assert verdict.action is Action.HOLD
    assert packs(verdict.lines) == {"coffee": 2}
    assert verdict.note == (
        "trimmed to the €30.00 monthly cap (€0.00 spent this month): coffee cut from 3 packs"
        " to 2 packs; held for approval as €24.00 is above the €20.00 approval limit"
    )


def test_prices_are_summed_exactly_in_cents() -> None:
    """Three packs at 1.19 cost exactly 3.57, so a 3.57 cap fits them."""
    assert order_cents([line("milk", 3)], PRICES) == 357
    verdict = judge(
        [line("milk", 3)], prices=PRICES, spent_cents=0, settings=BudgetSettings(monthly_cap=3.57)
    )
    assert verdict.action is Action.PLACE


def test_orders_decided_together_share_the_cap() -> None:
    """The first order placed counts for the second; a held one does not."""
    settings = BudgetSettings(monthly_cap=30, approve_above=20)
    first, second, third = review(
        [[line("coffee", 2)], [line("tabs", 2)], [line("coffee", 1)]],
        prices=PRICES,
        spent_cents=0,
        settings=settings,
    )
    assert first.held  # 24.00 is above the limit: nothing spent
    assert second.action is Action.PLACE  # 13.00 of 30.00
    assert third.action is Action.PLACE  # 12.00 more: 25.00 of 30.00
    (fourth,) = review([[line("coffee", 1)]], prices=PRICES, spent_cents=2500, settings=settings)
    assert fourth.held


def test_spending_counts_by_the_utc_month_an_order_was_created_in() -> None:
    """A new month starts from nothing; the month is the UTC one, whatever the offset."""
    spending = MonthlySpending()
    spending.add("jan", datetime(2026, 1, 31, 23, 30, tzinfo=UTC), 5000)
    # 00:30 on 1 February in UTC+2 is still January in UTC.
    spending.add("late-jan", datetime(2026, 2, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))), 700)
    spending.add("feb", datetime(2026, 2, 1, 0, 0, tzinfo=UTC), 1200)
    assert spending.spent_cents(datetime(2026, 1, 31, 23, 59, tzinfo=UTC)) == 5700
    assert spending.spent_cents(datetime(2026, 2, 15, tzinfo=UTC)) == 1200
    assert spending.spent_cents(datetime(2026, 3, 1, tzinfo=UTC)) == 0
    assert month_start(datetime(2026, 2, 15, 13, tzinfo=UTC)) == datetime(2026, 2, 1, tzinfo=UTC)


def test_forgotten_order_frees_its_spending() -> None:
    """A cancelled, refused or declined order no longer counts against the cap."""
    spending = MonthlySpending()
    now = datetime(2026, 1, 10, tzinfo=UTC)
    spending.add("a", now, 4000)
    spending.add("b", now, 2500)
    spending.forget("a")
    spending.forget("unknown")
    assert spending.spent_cents(now) == 2500


@pytest.mark.parametrize("field", ["monthly_cap", "approve_above"])
@pytest.mark.parametrize("value", [0, -5, float("nan"), float("inf")])
def test_budget_settings_refuse_amounts_that_are_not_positive(field: str, value: float) -> None:
    """A cap or limit must be a finite amount above zero; the error names the field."""
    with pytest.raises(ValueError, match=field):
        BudgetSettings(**{field: value})
