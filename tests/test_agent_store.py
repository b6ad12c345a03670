"""The agent's store: which orders the outbox and a restart see."""

from __future__ import annotations

from datetime import timedelta

from edge_agent.core import OrderDecision
from edge_agent.policy import LinePlan
from edge_agent.store import QUEUED, AgentStore
from tests.items import T0


def save(store: AgentStore, request_id: str, minutes: int, status: str) -> None:
    decision = OrderDecision(
        request_id=request_id,
        created_at=T0 + timedelta(minutes=minutes),
        lines=(LinePlan(item="milk", packs=1, explanation="because"),),
    )
    store.save_order(decision, T0)
    if status != QUEUED:
        store.set_status(request_id, status, T0)


def test_order_views_filter_by_status_oldest_first() -> None:
    """The outbox sees only queued orders; a restart sees every unfinished one."""
    store = AgentStore(memory=True)
    save(store, "delivered", 0, "delivered")
    save(store, "queued-late", 50, QUEUED)
    save(store, "shipped", 20, "shipped")
    save(store, "rejected", 30, "rejected")
    save(store, "queued-early", 10, QUEUED)

    def ids(orders: list) -> list[str]:
        return [order.decision.request_id for order in orders]

    assert ids(store.orders(queued_only=True)) == ["queued-early", "queued-late"]
    assert ids(store.orders(open_only=True)) == ["queued-early", "shipped", "queued-late"]
    assert ids(store.orders()) == [
        "delivered",
        "queued-early",
        "shipped",
        "rejected",
        "queued-late",
    ]
