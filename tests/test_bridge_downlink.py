"""The downlink to the agent is durable: every status, from any process, after any restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiomqtt
import pytest
from click.testing import CliRunner

from cloud_bridge.cli import bridge
from edge_agent.protocol import OrderUpdate, decode_order_update, order_update_topic
from tests.brokers import BrokerAddress
from tests.test_bridge_support import (
    WAIT,
    add_device,
    bridge_settings,
    place,
    register,
    running_bridge,
    set_limits,
    subscribe,
)

UNREACHABLE_SHOP = "http://127.0.0.1:9/webhooks"
pytestmark = pytest.mark.broker


async def _update(broker: BrokerAddress, household: str, order_id: str, status: str) -> OrderUpdate:
    """The first update of ``order_id`` with ``status``, live or retained."""
    async with aiomqtt.Client(broker.host, broker.port) as subscriber:
        await subscriber.subscribe(order_update_topic(household, order_id), qos=1)
        async with asyncio.timeout(WAIT):
            async for message in subscriber.messages:
                assert isinstance(message.payload, bytes)
                update = decode_order_update(message.payload)
                if update.status == status:
                    return update
    raise AssertionError("unreachable")


async def test_pending_and_cancelled_orders_reach_the_agent(
    tmp_path: Path, broker: BrokerAddress
) -> None:
    """An order waiting for approval is announced, and so is its cancellation."""
    settings = bridge_settings(tmp_path, UNREACHABLE_SHOP, mqtt_url=broker.url)
    async with running_bridge(settings) as client:
        fridge = add_device(client, "home1", "fridge")
        set_limits(client, "home1", auto_approve=0)
        subscribe(client, "home1", "milk")
        order = await place(client, fridge, ("milk", 1))
        pending = await _update(broker, "home1", order["order_id"], "pending_confirmation")
        await client.post(f"/v1/orders/{order['order_id']}/cancel", headers=fridge.headers())
        cancelled = await _update(broker, "home1", order["order_id"], "cancelled")
    assert pending.request_id == order["request_id"]
    assert cancelled.lines[0].item == "milk"


async def test_change_made_by_the_cli_is_published(tmp_path: Path, broker: BrokerAddress) -> None:
    """`restock bridge cancel`, another process on the same database, reaches the agent."""
    settings = bridge_settings(tmp_path, UNREACHABLE_SHOP, mqtt_url=broker.url, cancel_window=3600)
    async with running_bridge(settings) as client:
        order_id = (await place(client, add_device(client, "home1", "fridge"), ("milk", 1)))[
            "order_id"
        ]
        result = CliRunner().invoke(bridge, ["cancel", "--db", str(settings.db_path), order_id])
        assert result.exit_code == 0, result.output
        update = await _update(broker, "home1", order_id, "cancelled")
    assert update.order_id == order_id


async def test_update_waiting_in_the_database_is_published_after_a_restart(
    tmp_path: Path, broker: BrokerAddress
) -> None:
    """An order placed while the bridge had no broker is announced by the next bridge."""
    fridge = register(tmp_path / "bridge.db", "home1", "fridge")
    offline = bridge_settings(tmp_path, UNREACHABLE_SHOP, cancel_window=3600)
    async with running_bridge(offline) as client:
        order_id = (await place(client, fridge, ("milk", 1)))["order_id"]
    online = bridge_settings(tmp_path, UNREACHABLE_SHOP, cancel_window=3600, mqtt_url=broker.url)
    async with running_bridge(online):
        update = await _update(broker, "home1", order_id, "placed")
    assert update.order_id == order_id
