"""The shop's status reports: signed, applied once, audited and published to the agent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from cloud_bridge.app import STORE
from edge_agent.protocol import decode_order_update, order_update_topic
from edge_agent.webhooks import new_secret
from tests.brokers import BrokerAddress
from tests.test_bridge_support import (
    SHOP_SECRET,
    WAIT,
    BridgeClient,
    add_device,
    bridge_settings,
    fake_shop,
    order_json,
    running_bridge,
    signed,
    wait_until,
)

ETA = "2030-01-02T09:00:00Z"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[BridgeClient]:
    async with fake_shop() as (_, url), running_bridge(bridge_settings(tmp_path, url)) as client:
        yield client


async def _sent_order(client: BridgeClient) -> str:
    """An order the shop has accepted."""
    fridge = add_device(client, "home1", "fridge")
    body = order_json(("milk", 2))
    response = await client.post("/v1/orders", data=body, headers=fridge.headers(body))
    order_id: str = (await response.json())["order_id"]
    await wait_until(lambda: client.app[STORE].get_order(order_id).status == "sent")
    return order_id


async def _report(
    client: BridgeClient,
    order_id: str,
    report: dict[str, Any],
    *,
    secret: str = SHOP_SECRET,
    msg_id: str | None = None,
) -> tuple[int, Any]:
    body = json.dumps(report).encode()
    response = await client.post(
        f"/v1/shop/orders/{order_id}/status",
        data=body,
        headers=signed(secret, body, msg_id=msg_id),
    )
    return response.status, await response.json()


async def test_report_updates_the_order(client: BridgeClient) -> None:
    """A signed report sets the status and eta and is returned with the order."""
    order_id = await _sent_order(client)
    status, order = await _report(client, order_id, {"status": "shipped", "eta": ETA})
    assert status == 200
    assert (order["status"], order["eta"]) == ("shipped", ETA)


async def test_report_is_audited(client: BridgeClient) -> None:
    """Each status change leaves an audit event naming its cause."""
    order_id = await _sent_order(client)
    await _report(client, order_id, {"status": "failed", "reason": "out of milk"})
    events = client.app[STORE].events(order_id)
    assert [(e.status, e.cause) for e in events][-1] == (
        "failed",
        "shop reported failed: out of milk",
    )


async def test_report_with_bad_signature_is_refused(client: BridgeClient) -> None:
    """A report signed with another secret gets 401 and changes nothing."""
    order_id = await _sent_order(client)
    status, body = await _report(client, order_id, {"status": "shipped"}, secret=new_secret())
    assert (status, body["error"]["code"]) == (401, "signature_invalid")
    assert client.app[STORE].get_order(order_id).status == "sent"


async def test_unsigned_report_is_refused(client: BridgeClient) -> None:
    """A report without signature headers gets 401 signature_missing."""
    order_id = await _sent_order(client)
    response = await client.post(
        f"/v1/shop/orders/{order_id}/status", data=b'{"status": "shipped"}'
    )
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "signature_missing"


async def test_illegal_transition_is_refused(client: BridgeClient) -> None:
    """A delivered order cannot be shipped again: 409 illegal_transition."""
    order_id = await _sent_order(client)
    await _report(client, order_id, {"status": "delivered"})
    status, body = await _report(client, order_id, {"status": "shipped"})
    assert (status, body["error"]["code"]) == (409, "illegal_transition")


async def test_replayed_report_is_applied_once(client: BridgeClient) -> None:
    """A report whose webhook-id was seen is answered with the order and not re-applied."""
    order_id = await _sent_order(client)
    await _report(client, order_id, {"status": "shipped"}, msg_id="shop_1")
    status, order = await _report(client, order_id, {"status": "failed"}, msg_id="shop_1")
    assert (status, order["status"]) == (200, "shipped")


async def test_report_on_unknown_order_is_not_found(client: BridgeClient) -> None:
    """A report about an order that does not exist gets 404 order_not_found."""
    status, body = await _report(client, "ord_missing", {"status": "shipped"})
    assert (status, body["error"]["code"]) == (404, "order_not_found")


async def test_report_with_unknown_status_is_refused(client: BridgeClient) -> None:
    """The shop may not invent statuses: 422 naming $.status."""
    order_id = await _sent_order(client)
    status, body = await _report(client, order_id, {"status": "lost"})
    assert (status, body["error"]["field"]) == (422, "$.status")


@pytest.mark.broker
async def test_report_is_published_to_the_agent(tmp_path: Path, broker: BrokerAddress) -> None:
    """The update goes out retained on the order's topic, with eta and the request id."""
    async with fake_shop() as (_, url):
        settings = bridge_settings(tmp_path, url, mqtt_url=broker.url)
        async with running_bridge(settings) as client:
            order_id = await _sent_order(client)
            await _report(client, order_id, {"status": "shipped", "eta": ETA})
            message = await _wait_for_update("home1", order_id, "shipped", broker)
            request_id = client.app[STORE].get_order(order_id).request_id
    assert isinstance(message.payload, bytes)
    update = decode_order_update(message.payload)
    assert update.eta is not None
    assert update.eta.isoformat() == "2030-01-02T09:00:00+00:00"
    assert update.request_id == request_id
    assert update.lines[0].item == "milk"


async def _wait_for_update(
    household: str, order_id: str, status: str, broker: BrokerAddress
) -> aiomqtt.Message:
    """The first message updating ``order_id`` to ``status``, live or retained."""
    topic = order_update_topic(household, order_id)
    async with aiomqtt.Client(broker.host, broker.port) as subscriber:
        await subscriber.subscribe(topic, qos=1)
        async with asyncio.timeout(WAIT):
            async for message in subscriber.messages:
                assert isinstance(message.payload, bytes)
                update = decode_order_update(message.payload)
                if update.status == status:
                    return message
    raise AssertionError("unreachable")


@pytest.mark.broker
async def test_update_is_retained_for_late_subscribers(
    tmp_path: Path, broker: BrokerAddress
) -> None:
    """An agent that subscribes after the update still receives it, flagged retained."""
    async with fake_shop() as (_, url):
        settings = bridge_settings(tmp_path, url, mqtt_url=broker.url)
        async with running_bridge(settings) as client:
            order_id = await _sent_order(client)
            await _report(client, order_id, {"status": "delivered"})
            await _wait_for_update("home1", order_id, "delivered", broker)
    late = await _wait_for_update("home1", order_id, "delivered", broker)
    assert late.retain


async def test_bridge_works_while_the_broker_is_down(tmp_path: Path) -> None:
    """With its broker unreachable the bridge still takes orders and reports."""
    async with fake_shop() as (_, url):
        settings = bridge_settings(tmp_path, url, mqtt_url="mqtt://127.0.0.1:9")
        async with running_bridge(settings) as client:
            order_id = await _sent_order(client)
            status, order = await _report(client, order_id, {"status": "shipped"})
    assert (status, order["status"]) == (200, "shipped")
