"""The brain under a household budget: orders trimmed to the cap, or held for approval."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from edge_agent.budget import BudgetSettings, order_cents
from edge_agent.core import Brain, OrderDecision
from edge_agent.errors import ApprovalError
from edge_agent.policy import LinePlan
from edge_agent.protocol import Reading
from tests.items import COFFEE, MILK, T0

PRICES = {"milk": MILK.price, "coffee": COFFEE.price}


def empty_coffee(budget: BudgetSettings) -> tuple[Brain, datetime]:
    """A brain whose coffee reads empty: due at once, and one pack costs 12.00."""
    brain = Brain("h", [COFFEE], budget=budget)
    now = T0
    for hour in range(3):
        now = T0 + timedelta(hours=hour)
        brain.observe("coffee", Reading(ts=now, value=0, unit="g", seq=hour), now)
    return brain, now


def held_order(approve_above: float = 5.0) -> tuple[Brain, OrderDecision, datetime]:
    brain, now = empty_coffee(BudgetSettings(approve_above=approve_above))
    (decision,) = brain.decide(now)
    assert decision.awaiting_approval
    return brain, decision, now


def test_order_above_the_limit_is_held_and_says_why() -> None:
    """The held order names the amount and the limit at the end of its explanation."""
    _, decision, _ = held_order()
    cost = order_cents(decision.lines, PRICES) / 100
    assert decision.explanation.startswith("Ordering because coffee has 0 g left")
    assert decision.explanation.endswith(
        f"; held for approval as €{cost:.2f} is above the €5.00 approval limit."
    )


def test_held_order_keeps_its_items_from_being_ordered_again() -> None:
    """While it waits, the items count as on their way: no new order on the next tick,
    and the held order is not given up as overdue, however long it waits."""
    brain, decision, now = held_order()
    assert brain.decide(now + timedelta(minutes=15)) == []
    ordered = sum(line.packs for line in decision.lines) * COFFEE.pack_size
    assert brain.on_the_way("coffee", now + timedelta(days=30)) == ordered
    assert brain.awaiting_approval == [decision]
    assert brain.spending.spent_cents(now) == 0


def test_approved_order_is_placed_and_counts_against_the_month() -> None:
    """Approval clears the hold, adds the cost to the month, and orders nothing new."""
    brain, decision, now = held_order()
    approved = brain.approve(decision.request_id, now + timedelta(hours=1))
    assert not approved.awaiting_approval
    assert approved.request_id == decision.request_id
    assert approved.lines == decision.lines
    assert brain.awaiting_approval == []
    assert brain.open_orders == [approved]
    assert brain.spending.spent_cents(now) == order_cents(decision.lines, PRICES)
    assert brain.decide(now + timedelta(hours=2)) == []


def test_late_approval_counts_as_on_its_way_from_the_approval() -> None:
    """An order approved days after it was decided is not given up for overdue at once."""
    brain, decision, now = held_order()
    approved_at = now + timedelta(days=10)
    brain.approve(decision.request_id, approved_at)
    # Ten days after it was decided, a placed order would have counted as overdue.
    ordered = sum(line.packs for line in decision.lines) * COFFEE.pack_size
    assert brain.on_the_way("coffee", approved_at + timedelta(days=1)) == ordered


def test_declined_order_stops_counting_and_its_items_wait() -> None:
    """A declined order is off the way; its items wait as after a refusal, then reorder."""
    brain, decision, now = held_order()
    brain.decline(decision.request_id, now)
    assert brain.open_orders == []
    assert brain.on_the_way("coffee", now) == 0
    assert brain.decide(now + timedelta(hours=1)) == []
    (again,) = brain.decide(now + brain.settings.after_refusal + timedelta(minutes=15))
    assert again.awaiting_approval  # still above the limit: it asks again
    assert again.request_id != decision.request_id


@pytest.mark.parametrize("action", ["approve", "decline"])
def test_only_a_held_order_can_be_approved_or_declined(action: str) -> None:
    """Approving or declining twice, or an unknown order, is an error naming it."""
    brain, decision, now = held_order()
    getattr(brain, action)(decision.request_id, now)
    with pytest.raises(ApprovalError, match=decision.request_id):
        getattr(brain, action)(decision.request_id, now)
    with pytest.raises(ApprovalError, match="'nope'"):
        getattr(brain, action)("nope", now)


def test_order_that_fits_nowhere_under_the_cap_is_held() -> None:
    """With the month's cap already used up, the order waits for approval."""
    brain, now = empty_coffee(BudgetSettings(monthly_cap=20))
    earlier = OrderDecision(
        request_id="earlier",
        created_at=now - timedelta(days=2),
        lines=(LinePlan(item="coffee", packs=1, explanation="coffee was low"),),
    )
    brain.track(earlier, "delivered")  # 12.00 of 20.00 spent this month
    (decision,) = brain.decide(now)
    assert decision.awaiting_approval
    assert "does not fit the €20.00 monthly cap (€12.00 spent this month)" in decision.note


def test_spending_of_last_month_does_not_count() -> None:
    """The cap is per calendar month: January's orders leave February's cap whole."""
    brain, now = empty_coffee(BudgetSettings(monthly_cap=20))
    last_month = OrderDecision(
        request_id="december",
        created_at=now - timedelta(days=10),  # T0 is 5 January
        lines=(LinePlan(item="coffee", packs=1, explanation="coffee was low"),),
    )
    brain.track(last_month, "delivered")
    assert brain.spending.spent_cents(now) == 0
    (decision,) = brain.decide(now)
    assert not decision.awaiting_approval
    assert order_cents(decision.lines, PRICES) <= 2000


def test_cancelled_order_frees_the_cap() -> None:
    """An order placed and then cancelled no longer counts against the month."""
    brain, now = empty_coffee(BudgetSettings(monthly_cap=20))
    (first,) = brain.decide(now)
    assert not first.awaiting_approval
    assert brain.spending.spent_cents(now) == order_cents(first.lines, PRICES)
    brain.update_status(first.request_id, "cancelled", now)
    assert brain.spending.spent_cents(now) == 0


def empty_milk_and_coffee(budget: BudgetSettings | None) -> list[OrderDecision]:
    brain = Brain("h", [MILK, COFFEE], budget=budget)
    now = T0
    for hour in range(3):
        now = T0 + timedelta(hours=hour)
        for item in ("milk", "coffee"):
            brain.observe(item, Reading(ts=now, value=0, unit="g", seq=hour), now)
    return brain.decide(now)


def test_cap_trims_the_order_and_says_so() -> None:
    """Over the cap, the coffee order loses packs and its explanation names the cap."""
    milk, coffee = empty_milk_and_coffee(None)
    assert coffee.lines[0].packs >= 2, "this test needs coffee ordered by more than one pack"
    milk_cost = order_cents(milk.lines, PRICES)
    cap = (milk_cost + 1250) / 100  # milk, and one pack of coffee with 0.50 to spare
    trimmed_milk, trimmed_coffee = empty_milk_and_coffee(BudgetSettings(monthly_cap=cap))
    assert trimmed_milk == milk  # the first order fits as decided
    assert [(x.item, x.packs) for x in trimmed_coffee.lines] == [("coffee", 1)]
    assert not trimmed_coffee.awaiting_approval
    assert trimmed_coffee.note == (
        f"trimmed to the €{cap:.2f} monthly cap (€{milk_cost / 100:.2f} spent this month):"
        f" coffee cut from {coffee.lines[0].packs} packs to 1 pack"
    )


def test_without_a_budget_nothing_is_held() -> None:
    """The default brain places what it decides, with no budget note."""
    brain = Brain("h", [COFFEE])
    for hour in range(3):
        now = T0 + timedelta(hours=hour)
        brain.observe("coffee", Reading(ts=now, value=0, unit="g", seq=hour), now)
    (decision,) = brain.decide(now)
    assert not decision.awaiting_approval
    assert decision.note == ""
