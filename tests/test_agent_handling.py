"""The agent service's message handling: bad input is logged and dropped, never raised."""

from __future__ import annotations

import logging
import sqlite3
from datetime import timedelta

import pytest

from edge_agent import protocol
from edge_agent.store import AgentStore
from tests.agents import fail_first_call, full_fridge, make_agent
from tests.items import T0


def reading(value: float, seq: int, ts=T0) -> bytes:
    return protocol.encode(protocol.Reading(ts=ts, value=value, unit="g", seq=seq))


MILK_TOPIC = protocol.reading_topic("home", "fridge", "milk")


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (MILK_TOPIC, b"not json", "JSON is malformed"),
        (
            MILK_TOPIC,
            b'{"ts": "2026-01-05T00:00:00Z", "value": "a", "unit": "g", "seq": 1}',
            "at `$.value`",
        ),
        (
            MILK_TOPIC,
            b'{"ts": "2026-01-05T00:00:00", "value": 1, "unit": "g", "seq": 1}',
            "timezone",
        ),
        (
            MILK_TOPIC,
            b'{"ts": "2026-01-05T00:00:00Z", "value": 1, "unit": "kg", "seq": 1}',
            "measured in 'g'",
        ),
        (protocol.reading_topic("home", "fridge", "caviar"), reading(1, 1), "unknown item"),
        (protocol.reading_topic("other", "fridge", "milk"), reading(1, 1), "not ours"),
        ("restock/v1/home/fridge/milk/reading/extra", reading(1, 1), "matches no topic"),
        (protocol.availability_topic("home", "fridge"), b"maybe", "expected online or offline"),
        (protocol.order_update_topic("home", "ord_x"), b"{}", "missing required field"),
        (MILK_TOPIC, reading(1, 1, ts=T0 + timedelta(days=1)), "ahead of the agent's clock"),
    ],
)
def test_bad_message_is_logged_with_reason_and_dropped(
    topic: str, payload: bytes, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Each kind of bad input is dropped with a log line that says what was wrong."""
    service = make_agent()
    with caplog.at_level(logging.WARNING):
        service.handle(topic, payload)
    assert reason in caplog.text
    assert sum(service.dropped.values()) == 1
    assert list(service.store.readings_since(T0 - timedelta(days=1))) == []


def test_good_reading_after_bad_one_is_used() -> None:
    """A bad message does not stall the ones after it."""
    service = make_agent()
    service.handle(MILK_TOPIC, b"\xff\xfe")
    service.handle(MILK_TOPIC, reading(2500, 2))
    estimate = service.brain.estimators["milk"].estimate
    assert estimate is not None
    assert estimate.level == 2500
    assert [item for item, _ in service.store.readings_since(T0)] == ["milk"]


def test_order_is_stored_before_sending_and_survives_restart(tmp_path) -> None:
    """A decided order is in SQLite, queued, before any send; a restart keeps it in flight."""
    path = tmp_path / "agent.db"
    service = make_agent(AgentStore(path))
    full_fridge(service)
    service.handle(protocol.reading_topic("home", "coffee_machine", "coffee"), reading(0, 1))
    queued = service.store.orders(queued_only=True)
    assert [line.item for line in queued[0].decision.lines] == ["coffee"]

    restarted = make_agent(AgentStore(path))
    assert [order.request_id for order in restarted.brain.open_orders] == [
        queued[0].decision.request_id
    ]
    assert restarted.decide(restarted.clock.now()) == []


def test_an_order_that_cannot_be_saved_is_decided_afresh(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Saving a decided order fails (the disk full, say): the order is not placed, and
    the brain does not count it as on its way, so the next decision orders the item."""
    service = make_agent()
    full_fridge(service)
    full = sqlite3.OperationalError("database or disk is full")
    calls = fail_first_call(monkeypatch, service.store, "save_order", full)
    service.handle(protocol.reading_topic("home", "coffee_machine", "coffee"), reading(0, 1))
    assert len(calls) == 1
    assert service.store.orders() == []
    assert service.brain.open_orders == []
    assert service.brain.on_the_way("coffee", T0) == 0
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.getMessage().startswith("could not save order")
    (decided,) = service.decide(T0 + timedelta(minutes=15))
    assert [line.item for line in decided.lines] == ["coffee"]
    assert [order.decision for order in service.store.orders(queued_only=True)] == [decided]
