"""Forwarding orders to the shop: signed, once per order, retried, durable."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
from standardwebhooks import Webhook

from cloud_bridge.app import FORWARDER, STORE
from cloud_bridge.forwarder import Backoff
from cloud_bridge.payloads import encode, order_created
from cloud_bridge.store import Order
from edge_agent.clock import SimulatedClock, SystemClock
from edge_agent.protocol import OrderLine
from tests.test_bridge_support import (
    SHOP_SECRET,
    BridgeClient,
    Device,
    add_device,
    bridge_settings,
    fake_shop,
    order_json,
    register,
    running_bridge,
    wait_until,
)


async def _place(client: BridgeClient, device: Device, msg_id: str = "m1") -> str:
    body = order_json(("milk", 2))
    response = await client.post(
        "/v1/orders", data=body, headers=device.headers(body, msg_id=msg_id)
    )
    order_id: str = (await response.json())["order_id"]
    return order_id


def _status(client: BridgeClient, order_id: str) -> str:
    return client.app[STORE].get_order(order_id).status


async def test_shop_webhook_verifies_with_standardwebhooks(tmp_path: Path) -> None:
    """The shop receives order.created, signed so the standardwebhooks library verifies it."""
    async with fake_shop() as (shop, url), running_bridge(bridge_settings(tmp_path, url)) as client:
        order_id = await _place(client, add_device(client, "home1", "fridge"))
        await shop.wait_for(lambda: len(shop.deliveries) == 1)
    delivery = shop.deliveries[0]
    payload = Webhook(SHOP_SECRET).verify(delivery.body, delivery.headers)
    assert delivery.webhook_id == order_id
    assert payload["type"] == "order.created"
    assert payload["data"]["order_id"] == order_id
    assert payload["data"]["lines"] == [{"item": "milk", "packs": 2}]


async def test_accepted_order_becomes_sent(tmp_path: Path) -> None:
    """Once the shop answers 2xx the order's status is sent and its error is cleared."""
    async with fake_shop() as (_, url), running_bridge(bridge_settings(tmp_path, url)) as client:
        order_id = await _place(client, add_device(client, "home1", "fridge"))
        await wait_until(lambda: _status(client, order_id) == "sent")
        order = client.app[STORE].get_order(order_id)
        events = client.app[STORE].events(order_id)
    assert (order.forward_attempts, order.last_error) == (1, None)
    assert [event.status for event in events] == ["placed", "sent"]


async def test_repeated_request_is_forwarded_once(tmp_path: Path) -> None:
    """A repeated webhook-id neither creates nor forwards a second order."""
    async with fake_shop() as (shop, url), running_bridge(bridge_settings(tmp_path, url)) as client:
        fridge = add_device(client, "home1", "fridge")
        order_id = await _place(client, fridge, msg_id="m1")
        await wait_until(lambda: _status(client, order_id) == "sent")
        assert await _place(client, fridge, msg_id="m1") == order_id
        # Nothing is due, so a forwarding pass sends nothing.
        assert await client.app[FORWARDER].forward_due() == 0
    assert [d.webhook_id for d in shop.deliveries] == [order_id]


async def test_failing_shop_gets_the_order_once_after_retries(tmp_path: Path) -> None:
    """A shop that fails twice gets the same webhook-id and body until it accepts it once."""
    async with (
        fake_shop(failures=2) as (shop, url),
        running_bridge(bridge_settings(tmp_path, url)) as client,
    ):
        order_id = await _place(client, add_device(client, "home1", "fridge"))
        await shop.wait_for(lambda: len(shop.accepted) == 1)
        await wait_until(lambda: _status(client, order_id) == "sent")
    assert len(shop.deliveries) == 3
    assert {d.webhook_id for d in shop.deliveries} == {order_id}
    assert len({d.body for d in shop.deliveries}) == 1
    assert shop.accepted == [order_id]


async def test_queued_order_survives_a_restart(tmp_path: Path) -> None:
    """An order the shop never took is sent by the next bridge process on the same database."""
    fridge = register(tmp_path / "bridge.db", "home1", "fridge")
    hour = {"retry_initial": 3600, "retry_max": 3600}
    down = bridge_settings(tmp_path, "http://127.0.0.1:9/webhooks", **hour)
    async with running_bridge(down) as client:
        order_id = await _place(client, fridge)
        await wait_until(lambda: client.app[STORE].get_order(order_id).last_error is not None)
    # The retry is at most an hour away; the restarted bridge's clock is two hours on.
    later = SimulatedClock(SystemClock().now() + timedelta(hours=2), speed=1)
    async with (
        fake_shop() as (shop, url),
        running_bridge(bridge_settings(tmp_path, url, **hour), clock=later),
    ):
        await shop.wait_for(lambda: len(shop.accepted) == 1)
    assert shop.accepted == [order_id]


def test_backoff_grows_with_jitter_up_to_the_maximum() -> None:
    """Each delay lies between half and all of initial * 2^(n-1), capped at maximum."""
    backoff = Backoff(initial=1.0, maximum=10.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (50, 10.0)]:
        assert ceiling / 2 <= backoff.delay(attempt, rng) <= ceiling


def test_order_created_body_is_json_with_type_and_timestamp() -> None:
    """The webhook envelope is {type, timestamp, data}, timestamp in ISO-8601 Z."""
    at = datetime(2030, 1, 1, 7, tzinfo=UTC)
    order = Order(
        order_id="ord_1",
        household="home1",
        device="fridge",
        request_id="m1",
        lines=(OrderLine("milk", 2),),
        explanation=None,
        status="placed",
        eta=None,
        created_at=at,
        updated_at=at,
        forward_attempts=0,
        next_attempt_at=at,
        forwarded_at=None,
        last_error=None,
    )
    envelope = msgspec.json.decode(encode(order_created(order)))
    assert envelope["type"] == "order.created"
    assert envelope["timestamp"] == "2030-01-01T07:00:00Z"
    assert envelope["data"]["order_id"] == "ord_1"
