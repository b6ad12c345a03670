"""The simulated shop: signed order webhooks in, deliveries and signed statuses out."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from edge_agent.catalog import Device, ItemSpec, LeadTime, SensorKind
from edge_agent.clock import SimulatedClock, SystemClock, sleep_until
from edge_agent.errors import SignatureError
from edge_agent.webhooks import new_secret, secret_key, sign, verify
from simulators.errors import SimulatorError
from simulators.shop import ShopSettings, close_shop, create_shop_app, shop_ledger
from tests.brokers import free_port

START = datetime(2026, 1, 5, tzinfo=UTC)
#: An hour of business time passes in 20 ms.
SPEED = 3600 * 50


def item(item_id: str, low: float, high: float) -> ItemSpec:
    return ItemSpec(
        id=item_id,
        name=item_id.title(),
        device=Device.FRIDGE,
        sensor=SensorKind.COUNT,
        unit="unit",
        pack_size=10,
        capacity=30,
        initial=10,
        lead_time_hours=LeadTime(low, high),
        price=1.0,
    )


ITEMS = (item("eggs", 1, 2), item("cheese", 5, 6))


@dataclass
class Report:
    order_id: str
    body: dict[str, Any]
    webhook_id: str


@dataclass
class FakeBridge:
    """Receives status reports, refusing bad signatures and failing the first few."""

    secret: str
    fail_first: int = 0
    reports: asyncio.Queue[Report] = field(default_factory=asyncio.Queue)
    attempts: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            webhook_id = verify(
                secret_key(self.secret), request.headers, body, now=SystemClock().now()
            )
        except SignatureError as exc:
            return web.json_response({"error": str(exc)}, status=401)
        self.attempts.append(webhook_id)
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.json_response({"error": "try later"}, status=503)
        await self.reports.put(Report(request.match_info["order_id"], json.loads(body), webhook_id))
        return web.json_response({"ok": True})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_routes([web.post("/v1/shop/orders/{order_id}/status", self.handle)])
        return app


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run ``app`` on a free loopback port; yield its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@dataclass
class Deliveries:
    """The shop's ``deliver`` callback, recording the business time of each call."""

    clock: SimulatedClock
    calls: list[tuple[str, str, int, datetime]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, household: str, item_id: str, packs: int) -> None:
        self.calls.append((household, item_id, packs, self.clock.now()))
        self.arrived.set()


@dataclass
class Harness:
    secret: str
    shop_url: str
    app: web.Application
    bridge: FakeBridge
    deliveries: Deliveries
    session: aiohttp.ClientSession

    async def post_order(
        self,
        lines: list[dict[str, Any]],
        *,
        order_id: str | None = None,
        webhook_id: str | None = None,
        secret: str | None = None,
    ) -> tuple[int, dict[str, Any], str]:
        """Post an ``order.created`` webhook; return status, JSON reply and the order id."""
        order_id = order_id or f"ord_{uuid.uuid4().hex[:12]}"
        body = json.dumps(
            {
                "type": "order.created",
                "timestamp": "2026-01-05T00:00:00Z",
                "data": {"order_id": order_id, "household": "home-1", "lines": lines},
            }
        ).encode()
        headers = sign(
            secret or self.secret,
            webhook_id or f"msg_{uuid.uuid4().hex}",
            SystemClock().now(),
            body,
        )
        headers["Content-Type"] = "application/json"
        async with self.session.post(
            f"{self.shop_url}/webhooks/orders", data=body, headers=headers
        ) as response:
            return response.status, await response.json(), order_id


@asynccontextmanager
async def running_shop(*, fail_first: int = 0) -> AsyncIterator[Harness]:
    secret = new_secret()
    clock = SimulatedClock(START, speed=SPEED)
    bridge = FakeBridge(secret, fail_first=fail_first)
    deliveries = Deliveries(clock)
    async with serve(bridge.app()) as bridge_url:
        settings = ShopSettings(
            secret=secret, bridge_url=bridge_url, items=ITEMS, seed=3, retry_delay=0.01
        )
        app = create_shop_app(settings, clock=clock, deliver=deliveries)
        async with serve(app) as shop_url, aiohttp.ClientSession() as session:
            yield Harness(secret, shop_url, app, bridge, deliveries, session)


async def next_report(bridge: FakeBridge) -> Report:
    async with asyncio.timeout(5):
        return await bridge.reports.get()


async def test_bad_signature_is_401() -> None:
    """An order signed with another secret is refused with a JSON error."""
    async with running_shop() as shop:
        status, reply, _ = await shop.post_order(
            [{"item": "eggs", "packs": 1}], secret=new_secret()
        )
    assert status == 401
    assert "signature" in reply["error"]
    assert shop_ledger(shop.app).orders == ()


async def test_repeated_webhook_id_does_nothing() -> None:
    """A retried webhook (same webhook-id) is answered 200 and records no second order."""
    async with running_shop() as shop:
        first, _, order_id = await shop.post_order(
            [{"item": "eggs", "packs": 1}], webhook_id="msg_1"
        )
        again, reply, _ = await shop.post_order(
            [{"item": "eggs", "packs": 1}], order_id=order_id, webhook_id="msg_1"
        )
        orders = shop_ledger(shop.app).orders
    assert (first, again) == (200, 200)
    assert reply["status"] == "duplicate"
    assert [order.order_id for order in orders] == [order_id]


async def test_delivery_comes_after_the_lead_time() -> None:
    """The shop calls deliver for the order's line once its lead time has passed."""
    async with running_shop() as shop:
        status, _, order_id = await shop.post_order([{"item": "eggs", "packs": 2}])
        async with asyncio.timeout(5):
            await shop.deliveries.arrived.wait()
        order = shop_ledger(shop.app).orders[0]
    assert status == 200
    [(household, item_id, packs, when)] = shop.deliveries.calls
    assert (household, item_id, packs) == ("home-1", "eggs", 2)
    assert when >= order.received_at + timedelta(hours=1)
    assert order.order_id == order_id


async def test_lines_arrive_together_after_the_slowest_lead_time() -> None:
    """An order's lines arrive as one delivery, no sooner than its slowest item allows."""
    async with running_shop() as shop:
        await shop.post_order([{"item": "eggs", "packs": 1}, {"item": "cheese", "packs": 1}])
        statuses = [(await next_report(shop.bridge)).body["status"] for _ in range(3)]
        order = shop_ledger(shop.app).orders[0]
    assert statuses[-1] == "delivered"
    assert order.eta - order.received_at >= timedelta(hours=5)
    assert [call[1] for call in shop.deliveries.calls] == ["eggs", "cheese"]
    assert len(shop_ledger(shop.app).deliveries) == 1


async def test_statuses_are_reported_signed_and_in_order() -> None:
    """The bridge hears acknowledged, shipped and delivered, each signed with its own id."""
    async with running_shop() as shop:
        _, _, order_id = await shop.post_order([{"item": "eggs", "packs": 1}])
        reports = [await next_report(shop.bridge) for _ in range(3)]
    assert [r.body["status"] for r in reports] == ["acknowledged", "shipped", "delivered"]
    assert {r.order_id for r in reports} == {order_id}
    assert len({r.webhook_id for r in reports}) == 3
    assert reports[0].body["eta"] == reports[1].body["eta"]
    assert reports[0].body["eta"].endswith("Z")


async def test_a_closed_shop_delivers_nothing_more_and_takes_no_orders() -> None:
    """A simulation closes its shop before the household goes offline: an order still on
    its way is not delivered to a home that is gone, and a new order is refused."""
    async with running_shop() as shop:
        await shop.post_order([{"item": "cheese", "packs": 1}])
        [order] = shop_ledger(shop.app).orders
        await close_shop(shop.app)
        async with asyncio.timeout(5):
            await sleep_until(shop.deliveries.clock, order.eta + timedelta(hours=1))
        status, reply, _ = await shop.post_order([{"item": "eggs", "packs": 1}])
    assert shop.deliveries.calls == []
    assert shop_ledger(shop.app).deliveries == ()
    assert status == 503
    assert "closed" in reply["error"]
    assert len(shop_ledger(shop.app).orders) == 1


async def test_failed_status_report_is_retried() -> None:
    """A bridge that fails at first still gets the report, with the same webhook-id."""
    async with running_shop(fail_first=2) as shop:
        await shop.post_order([{"item": "eggs", "packs": 1}])
        report = await next_report(shop.bridge)
    assert report.body["status"] == "acknowledged"
    assert shop.bridge.attempts[:3] == [report.webhook_id] * 3


async def test_unknown_item_is_refused() -> None:
    """An order for something the shop does not sell is refused with 422."""
    async with running_shop() as shop:
        status, reply, _ = await shop.post_order([{"item": "caviar", "packs": 1}])
    assert status == 422
    assert "caviar" in reply["error"]


async def test_malformed_order_is_400() -> None:
    """A signed webhook whose body is not a valid order is refused with 400."""
    async with running_shop() as shop:
        status, reply, _ = await shop.post_order([{"item": "eggs", "packs": 0}])
    assert status == 400
    assert "packs" in reply["error"]


def test_settings_refuse_a_bad_secret() -> None:
    """A secret that is not whsec_ is refused at start-up, naming the field."""
    with pytest.raises(SimulatorError, match="secret"):
        ShopSettings(secret="hunter2", bridge_url="http://127.0.0.1:1", items=ITEMS)
