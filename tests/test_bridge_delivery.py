"""Durable order webhooks: retries with backoff and Retry-After, 410, dead letters, redelivery."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from cloud_bridge.app import STORE
from cloud_bridge.forwarder import MAX_RETRY_AFTER, retry_after
from cloud_bridge.store import OrderFilter, Store
from edge_agent.clock import SimulatedClock, SystemClock
from simulators.ports import free_port
from tests.test_bridge_support import (
    ADMIN,
    WAIT,
    BridgeClient,
    Delivery,
    add_device,
    bridge_settings,
    place,
    running_bridge,
    wait_until,
)

#: (status, headers) the shop answers one request with; ``record`` says it kept the order.
Answer = tuple[int, dict[str, str], bool]


@dataclass
class ScriptedShop:
    """A real shop on a fixed loopback port whose answers a test scripts, and can go down."""

    answer: Callable[[int], Answer]
    port: int = field(default_factory=free_port)
    deliveries: list[Delivery] = field(default_factory=list)
    kept: dict[str, int] = field(default_factory=dict)  # webhook-id -> times kept
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks"

    async def receive(self, request: web.Request) -> web.Response:
        delivery = Delivery(dict(request.headers), await request.read())
        self.deliveries.append(delivery)
        status, headers, record = self.answer(len(self.deliveries))
        if record:
            self.kept[delivery.webhook_id] = self.kept.get(delivery.webhook_id, 0) + 1
        return web.json_response({}, status=status, headers=headers)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/webhooks", self.receive)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def accepted_once(self) -> list[str]:
        """The webhook-ids the shop kept, once each, as a shop deduplicating by id would."""
        return sorted(self.kept)


@asynccontextmanager
async def scripted_shop(answer: Callable[[int], Answer]) -> AsyncIterator[ScriptedShop]:
    shop = ScriptedShop(answer)
    await shop.start()
    try:
        yield shop
    finally:
        await shop.stop()


def ok(_: int) -> Answer:
    return 200, {}, True


def _order(client: BridgeClient, order_id: str) -> Any:
    return client.app[STORE].get_order(order_id)


# --- Retry-After ------------------------------------------------------------------------


def test_retry_after_seconds_and_dates() -> None:
    """Retry-After is read as seconds or as an HTTP-date; junk is ignored; huge is capped."""
    now = datetime(2030, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(minutes=2), usegmt=True)
    assert retry_after({"Retry-After": "120"}, now=now) == 120
    assert retry_after({"Retry-After": later}, now=now) == 120
    assert retry_after({"Retry-After": "soon"}, now=now) is None
    assert retry_after({}, now=now) is None
    assert retry_after({"Retry-After": "99999999"}, now=now) == MAX_RETRY_AFTER


async def test_retry_after_is_honoured(tmp_path: Path) -> None:
    """After a 503 with Retry-After: 600 the next attempt is 600 s away, not the backoff's."""
    clock = SimulatedClock(SystemClock().now(), speed=1)
    busy: Callable[[int], Answer] = lambda n: (503, {"Retry-After": "600"}, False)  # noqa: E731
    async with (
        scripted_shop(busy) as shop,
        running_bridge(bridge_settings(tmp_path, shop.url), clock=clock) as client,
    ):
        order_id = (await place(client, add_device(client, "home1", "fridge"), ("milk", 1)))[
            "order_id"
        ]
        await wait_until(lambda: _order(client, order_id).last_error is not None)
        order = _order(client, order_id)
    assert order.next_attempt_at >= clock.now() + timedelta(seconds=590)
    assert len(shop.deliveries) == 1


# --- 410 Gone ---------------------------------------------------------------------------


async def test_gone_disables_the_endpoint_until_enabled(tmp_path: Path) -> None:
    """A 410 stops forwarding for every order; enabling the endpoint sends them all."""
    answers = iter([(410, {}, False)])
    gone_once: Callable[[int], Answer] = lambda n: next(answers, (200, {}, True))  # noqa: E731
    async with (
        scripted_shop(gone_once) as shop,
        running_bridge(bridge_settings(tmp_path, shop.url)) as client,
    ):
        fridge = add_device(client, "home1", "fridge")
        first = (await place(client, fridge, ("milk", 1)))["order_id"]
        await wait_until(lambda: client.app[STORE].endpoint_disabled(shop.url) is not None)
        second = (await place(client, fridge, ("eggs", 1)))["order_id"]
        endpoint = await (await client.get("/v1/admin/endpoint", headers=ADMIN)).json()
        assert _order(client, second).forward_attempts == 0
        enabled = await (await client.post("/v1/admin/endpoint/enable", headers=ADMIN)).json()
        await wait_until(lambda: len(shop.kept) == 2)
    assert endpoint["disabled"] is True
    assert enabled["disabled"] is False
    assert shop.accepted_once() == sorted([first, second])


# --- dead letters and redelivery --------------------------------------------------------


async def test_exhausted_retries_dead_letter_the_order(tmp_path: Path) -> None:
    """After max_attempts failures the order is on the dead-letter list, still placed."""
    failing: Callable[[int], Answer] = lambda n: (500, {}, False)  # noqa: E731
    async with (
        scripted_shop(failing) as shop,
        running_bridge(bridge_settings(tmp_path, shop.url, max_attempts=3)) as client,
    ):
        order_id = (await place(client, add_device(client, "home1", "fridge"), ("milk", 1)))[
            "order_id"
        ]
        await wait_until(lambda: _order(client, order_id).dead_lettered_at is not None)
        listed = await client.get("/v1/admin/orders?dead_letter=true", headers=ADMIN)
        dead = (await listed.json())["orders"]
        causes = [e.cause for e in client.app[STORE].events(order_id)]
    assert len(shop.deliveries) == 3
    assert [(o["order_id"], o["status"], o["delivery"]["attempts"]) for o in dead] == [
        (order_id, "placed", 3)
    ]
    assert causes[-1] == "dead-lettered after 3 attempts: shop answered HTTP 500"


async def test_redelivery_sends_the_same_webhook_again(tmp_path: Path) -> None:
    """A redelivered dead letter reaches the recovered shop with its webhook-id and bytes."""
    shop_up = asyncio.Event()
    recovering: Callable[[int], Answer] = lambda n: (  # noqa: E731
        (200, {}, True) if shop_up.is_set() else (500, {}, False)
    )
    async with (
        scripted_shop(recovering) as shop,
        running_bridge(bridge_settings(tmp_path, shop.url, max_attempts=2)) as client,
    ):
        order_id = (await place(client, add_device(client, "home1", "fridge"), ("milk", 1)))[
            "order_id"
        ]
        await wait_until(lambda: _order(client, order_id).dead_lettered_at is not None)
        shop_up.set()
        response = await client.post(f"/v1/admin/orders/{order_id}/redeliver", headers=ADMIN)
        await wait_until(lambda: _order(client, order_id).status == "sent")
        dead = client.app[STORE].list_orders(OrderFilter(dead_letter=True))
    assert response.status == 200
    assert {d.webhook_id for d in shop.deliveries} == {order_id}
    assert len({d.body for d in shop.deliveries}) == 1
    assert shop.accepted_once() == [order_id]
    assert dead == []


async def test_an_unsent_order_cannot_be_redelivered(tmp_path: Path) -> None:
    """Redelivering an order still in its cancel window is refused: not_redeliverable."""
    async with (
        scripted_shop(ok) as shop,
        running_bridge(bridge_settings(tmp_path, shop.url, cancel_window=3600)) as client,
    ):
        order_id = (await place(client, add_device(client, "home1", "fridge"), ("milk", 1)))[
            "order_id"
        ]
        response = await client.post(f"/v1/admin/orders/{order_id}/redeliver", headers=ADMIN)
        error = (await response.json())["error"]
    assert (response.status, error["code"]) == (409, "not_redeliverable")


# --- the acceptance run -----------------------------------------------------------------

SPEED = 36_000.0  # simulated seconds per real second: an hour in 0.1 s


async def test_flaky_shop_down_for_an_hour_gets_every_order_exactly_once(tmp_path: Path) -> None:
    """Half the shop's answers fail (some after it kept the order) and it is down for an
    hour of simulated time; after deduplicating by webhook-id it has every order once,
    each with one body, and nothing is dead-lettered."""
    rng = random.Random(42)

    def flaky(_: int) -> Answer:
        roll = rng.random()
        if roll < 0.25:
            return 503, {}, False  # refused
        if roll < 0.5:
            return 500, {}, True  # kept the order, but the answer says failure
        return 200, {}, True

    clock = SimulatedClock(SystemClock().now(), speed=SPEED)
    async with scripted_shop(flaky) as shop:
        settings = bridge_settings(
            tmp_path, shop.url, retry_initial=30, retry_max=3600, max_attempts=40
        )
        async with running_bridge(settings, clock=clock) as client:
            devices = [add_device(client, f"home{n}", "agent") for n in range(5)]
            ids = [
                (await place(client, devices[n % 5], ("milk", 1 + n % 3)))["order_id"]
                for n in range(10)
            ]
            await shop.stop()  # down for an hour of simulated time
            down_until = clock.now() + timedelta(hours=1)
            ids += [
                (await place(client, devices[n % 5], ("eggs", 1)))["order_id"] for n in range(10)
            ]
            await clock.sleep((down_until - clock.now()).total_seconds())
            await shop.start()
            async with asyncio.timeout(WAIT * 3):
                while not all(_order(client, i).status == "sent" for i in ids):  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
    with Store(settings.db_path) as store:
        dead = store.list_orders(OrderFilter(dead_letter=True))
    assert shop.accepted_once() == sorted(ids)
    bodies: dict[str, set[bytes]] = {}
    for delivery in shop.deliveries:
        bodies.setdefault(delivery.webhook_id, set()).add(delivery.body)
    assert all(len(seen) == 1 for seen in bodies.values())
    assert dead == []
    assert len(shop.deliveries) > len(ids)  # it really did fail, and the bridge retried
