"""The bridge store: devices, idempotent orders, the audit trail and the forwarding queue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from cloud_bridge.errors import DeviceExists, OrderNotFound, UnknownDevice
from cloud_bridge.store import NewOrder, Store
from edge_agent.protocol import OrderLine

T0 = datetime(2030, 1, 1, 7, tzinfo=UTC)


@pytest.fixture
def store() -> Iterator[Store]:
    with Store(memory=True) as store:
        yield store


def _new(order_id: str = "ord_1", request_id: str = "m1", **overrides: object) -> NewOrder:
    values: dict[str, object] = {
        "order_id": order_id,
        "household": "home1",
        "device": "fridge",
        "request_id": request_id,
        "lines": (OrderLine("milk", 2),),
        "explanation": None,
        "status": "placed",
        "created_at": T0,
        "next_attempt_at": T0,
    }
    values.update(overrides)
    return NewOrder(**values)  # type: ignore[arg-type]


def test_added_device_secret_can_be_looked_up(store: Store) -> None:
    """add_device returns the secret that device_secret later finds."""
    secret = store.add_device("home1", "fridge", now=T0)
    assert secret.startswith("whsec_")
    assert store.device_secret("home1", "fridge") == secret


def test_duplicate_device_is_refused(store: Store) -> None:
    """A device can be registered only once."""
    store.add_device("home1", "fridge", now=T0)
    with pytest.raises(DeviceExists):
        store.add_device("home1", "fridge", now=T0)


def test_unknown_device_secret_raises(store: Store) -> None:
    """Looking up an unregistered device raises UnknownDevice."""
    with pytest.raises(UnknownDevice):
        store.device_secret("home1", "toaster")


def test_same_request_id_gives_the_first_order(store: Store) -> None:
    """A second order with the same device and request id returns the first, not created."""
    first, created = store.create_order(_new("ord_1"))
    again, created_again = store.create_order(_new("ord_2"))
    assert (created, created_again) == (True, False)
    assert again == first
    with pytest.raises(OrderNotFound):
        store.get_order("ord_2")


def test_same_request_id_from_another_device_is_another_order(store: Store) -> None:
    """Request ids are per device."""
    store.create_order(_new("ord_1"))
    _, created = store.create_order(_new("ord_2", device="washer"))
    assert created


def test_set_status_writes_an_audit_event(store: Store) -> None:
    """Every status change is recorded with its time and cause."""
    store.create_order(_new())
    later = T0 + timedelta(hours=1)
    order = store.set_status("ord_1", "shipped", at=later, cause="shop said so", eta=later)
    assert (order.status, order.eta, order.updated_at) == ("shipped", later, later)
    assert [(e.status, e.ts, e.cause) for e in store.events("ord_1")] == [
        ("placed", T0, "created"),
        ("shipped", later, "shop said so"),
    ]


def test_orders_due_respects_next_attempt(store: Store) -> None:
    """Only orders whose next attempt has come are due; held and forwarded ones never are."""
    store.create_order(_new("ord_now", "m1"))
    store.create_order(_new("ord_later", "m2", next_attempt_at=T0 + timedelta(minutes=5)))
    store.create_order(_new("ord_held", "m3", next_attempt_at=None))
    store.create_order(_new("ord_done", "m4"))
    store.record_forwarded("ord_done", at=T0)
    assert [o.order_id for o in store.orders_due(T0, limit=10)] == ["ord_now"]
    assert store.next_attempt_at() == T0


def test_failed_attempt_is_rescheduled(store: Store) -> None:
    """A claimed attempt is counted; its failure keeps the error and moves the next attempt."""
    store.create_order(_new())
    retry_at = T0 + timedelta(seconds=30)
    assert store.claim_attempt("ord_1", now=T0, lease_until=T0 + timedelta(hours=1))
    store.record_forward_failure("ord_1", error="HTTP 503", retry_at=retry_at)
    order = store.get_order("ord_1")
    assert (order.forward_attempts, order.last_error, order.next_attempt_at) == (
        1,
        "HTTP 503",
        retry_at,
    )
    assert store.orders_due(T0, limit=10) == []


def test_orders_survive_reopening(tmp_path: Path) -> None:
    """A file store keeps its queue across close and reopen."""
    with Store(tmp_path / "bridge.db") as store:
        store.create_order(_new())
    with Store(tmp_path / "bridge.db") as store:
        assert [o.order_id for o in store.orders_due(T0, limit=10)] == ["ord_1"]


def test_shop_message_is_claimed_once(store: Store) -> None:
    """A shop webhook-id can be claimed only once."""
    store.create_order(_new())
    assert store.claim_shop_message("shop_1", "ord_1", at=T0)
    assert not store.claim_shop_message("shop_1", "ord_1", at=T0)


def test_spend_ledger_follows_orders(store: Store) -> None:
    """An order's price counts in its month until it is cancelled or fails; a rejected
    order never counts."""
    store.create_order(_new("ord_1", "m1", total_cents=300))
    store.create_order(_new("ord_2", "m2", total_cents=200))
    store.create_order(_new("ord_3", "m3", total_cents=900, status="rejected"))
    store.create_order(_new("ord_4", "m4", total_cents=50, created_at=T0 + timedelta(days=40)))
    assert store.month_spent_cents("home1", T0) == 500
    assert store.cancel_if_unsent("ord_1", at=T0, cause="changed my mind")
    store.set_status("ord_2", "failed", at=T0, cause="shop reported failed")
    assert store.month_spent_cents("home1", T0) == 0
    assert store.month_spent_cents("home1", T0 + timedelta(days=40)) == 50


def test_claimed_order_cannot_be_cancelled(store: Store) -> None:
    """Once an attempt has claimed an order a cancel is refused, and vice versa."""
    store.create_order(_new("ord_sent", "m1"))
    store.create_order(_new("ord_kept", "m2"))
    lease = T0 + timedelta(hours=1)
    assert store.claim_attempt("ord_sent", now=T0, lease_until=lease)
    assert not store.cancel_if_unsent("ord_sent", at=T0, cause="too late")
    assert store.cancel_if_unsent("ord_kept", at=T0, cause="in time")
    assert not store.claim_attempt("ord_kept", now=T0, lease_until=lease)


def test_database_from_the_first_release_is_upgraded(tmp_path: Path) -> None:
    """Opening a database whose orders table lacks the new columns adds them, keeps its
    orders readable, and starts the spend ledger from them."""
    path = tmp_path / "old.db"
    db = Database(path)
    db.table("orders").create(
        {
            "order_id": str, "household": str, "device": str, "request_id": str,
            "lines": str, "explanation": str, "status": str, "eta": str,
            "created_at": str, "updated_at": str, "forward_attempts": int,
            "next_attempt_at": str, "forwarded_at": str, "last_error": str,
        },
        pk="order_id",
    )  # fmt: skip
    db.table("orders").insert(
        {
            "order_id": "ord_old", "household": "home1", "device": "agent",
            "request_id": "m1", "lines": '[{"item": "milk", "packs": 1}]',
            "status": "sent", "created_at": "2030-01-01T07:00:00.000000Z",
            "updated_at": "2030-01-01T07:00:00.000000Z", "forward_attempts": 1,
        }
    )  # fmt: skip
    db.close()
    with Store(path) as store:
        order = store.get_order("ord_old")
        assert (order.status, order.requested_lines, order.total_cents) == (
            "sent",
            (OrderLine("milk", 1),),
            0,
        )
        assert store.unannounced(limit=10)[0].order_id == "ord_old"
        assert store.month_spent_cents("home1", T0) == 0
