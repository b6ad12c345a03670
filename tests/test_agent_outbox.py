"""The agent's outbox against a real bridge: an order is resent with one id until confirmed."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from cloud_bridge.app import create_app
from cloud_bridge.settings import BridgeSettings
from cloud_bridge.store import Store
from edge_agent import protocol
from edge_agent.clock import SimulatedClock, SystemClock
from edge_agent.store import AgentStore
from edge_agent.webhooks import new_secret
from simulators.demo import serve
from simulators.ports import free_port
from tests.agents import fail_first_call, full_fridge, make_agent, running
from tests.items import T0
from tests.test_bridge_support import wait_until

WAIT = 10


class ShopInbox:
    """A fake shop that records the webhook-ids of the orders it receives."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.received = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.ids.append(request.headers["webhook-id"])
        self.received.set()
        return web.json_response({"ok": True})


@asynccontextmanager
async def running_bridge(db: Path, port: int, inbox: ShopInbox) -> AsyncIterator[None]:
    shop = web.Application()
    shop.router.add_post("/orders", inbox.handle)
    shop_port = free_port()
    settings = BridgeSettings(
        db_path=db,
        shop_url=f"http://127.0.0.1:{shop_port}/orders",
        shop_secret=new_secret(),
        port=port,
    )
    async with serve(shop, shop_port), serve(create_app(settings, clock=SystemClock()), port):
        yield


def empty_coffee() -> bytes:
    return protocol.encode(protocol.Reading(ts=T0, value=0, unit="g", seq=1))


async def test_order_is_resent_with_the_same_id_until_the_bridge_confirms(
    tmp_path: Path,
) -> None:
    """With the bridge down the order stays queued; once it is up, it is placed exactly once."""
    db = tmp_path / "bridge.db"
    with Store(db) as bridge_store:
        secret = bridge_store.add_device("home", "agent", now=SystemClock().now())
    port = free_port()
    agent = make_agent(AgentStore(tmp_path / "agent.db"), bridge_port=port, secret=secret)
    full_fridge(agent)
    agent.handle(protocol.reading_topic("home", "coffee_machine", "coffee"), empty_coffee())
    (queued,) = agent.store.orders(queued_only=True)

    async with agent.bridge:
        async with asyncio.timeout(WAIT):
            assert await agent.send_queued() is True  # nobody listening yet
        (still,) = agent.store.orders(queued_only=True)
        assert still.attempts == 1
        assert still.decision.request_id == queued.decision.request_id

        inbox = ShopInbox()
        async with running_bridge(db, port, inbox):
            async with asyncio.timeout(WAIT):
                assert await agent.send_queued() is False
                await inbox.received.wait()
            # A resend of the same order (say, the confirmation was lost) is harmless.
            async with asyncio.timeout(WAIT):
                placed = await agent.bridge.place_order(queued.decision)
            await asyncio.sleep(0.2)  # give a wrongly forwarded duplicate time to show up

    (confirmed,) = agent.store.orders()
    assert confirmed.confirmed
    assert confirmed.bridge_order_id == placed.order_id
    assert inbox.ids == [placed.order_id]
    with Store(db) as bridge_store:
        rows = bridge_store.db.query("select order_id from orders")
        assert [row["order_id"] for row in rows] == [placed.order_id]


async def test_an_outbox_error_after_the_bridge_took_the_order_neither_stops_nor_doubles_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The database is locked just as the agent records the bridge's confirmation: the
    running agent logs it, sends the order again under the same id, and the shop gets
    it once."""
    db = tmp_path / "bridge.db"
    with Store(db) as bridge_store:
        secret = bridge_store.add_device("home", "agent", now=SystemClock().now())
    port = free_port()
    clock = SimulatedClock(T0, speed=600.0)  # the first retry, 30 s on, comes in 0.05 s
    agent = make_agent(
        AgentStore(tmp_path / "agent.db"), bridge_port=port, secret=secret, clock=clock
    )
    locked = sqlite3.OperationalError("database is locked")
    calls = fail_first_call(monkeypatch, agent.store, "confirm", locked)
    inbox = ShopInbox()
    async with running_bridge(db, port, inbox):
        full_fridge(agent)
        agent.handle(protocol.reading_topic("home", "coffee_machine", "coffee"), empty_coffee())
        async with running(agent):
            await wait_until(lambda: agent.store.orders()[0].confirmed)
    assert len(calls) == 2
    (order,) = agent.store.orders()
    assert inbox.ids == [order.bridge_order_id]
    assert any(r.getMessage() == "the outbox failed; trying again" for r in caplog.records)
