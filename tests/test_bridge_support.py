"""Helpers for the bridge tests: signed requests, a running bridge and a fake shop.

This module holds no tests; it lives beside them because the bridge tests share it.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from cloud_bridge.app import STORE, create_app
from cloud_bridge.auth import DEVICE_HEADER, HOUSEHOLD_HEADER
from cloud_bridge.intake import Household, Subscription
from cloud_bridge.settings import BridgeSettings
from cloud_bridge.store import Store
from edge_agent.clock import Clock, SystemClock
from edge_agent.webhooks import new_secret, sign

WAIT = 10  # seconds: the most any test waits for anything

BridgeClient = TestClient[web.Request, web.Application]


def order_json(*lines: tuple[str, int], explanation: str | None = None) -> bytes:
    body: dict[str, Any] = {"lines": [{"item": item, "packs": packs} for item, packs in lines]}
    if explanation is not None:
        body["explanation"] = explanation
    return json.dumps(body).encode()


def signed(
    secret: str,
    body: bytes = b"",
    *,
    msg_id: str | None = None,
    now: datetime | None = None,
    household: str | None = None,
    device: str | None = None,
) -> dict[str, str]:
    """Standard Webhooks headers for ``body``, plus the device headers if given."""
    headers = sign(
        secret, msg_id or f"msg_{secrets.token_hex(8)}", now or SystemClock().now(), body
    )
    headers["content-type"] = "application/json"
    if household is not None:
        headers[HOUSEHOLD_HEADER] = household
    if device is not None:
        headers[DEVICE_HEADER] = device
    return headers


@dataclass(frozen=True)
class Device:
    household: str
    device: str
    secret: str

    def headers(self, body: bytes = b"", **kwargs: Any) -> dict[str, str]:
        return signed(self.secret, body, household=self.household, device=self.device, **kwargs)


def add_device(client: BridgeClient, household: str, device: str) -> Device:
    secret = client.app[STORE].add_device(household, device, now=SystemClock().now())
    return Device(household, device, secret)


def register(db_path: Path, household: str, device: str) -> Device:
    with Store(db_path) as store:
        return Device(
            household, device, store.add_device(household, device, now=SystemClock().now())
        )


@asynccontextmanager
async def running_bridge(
    settings: BridgeSettings, *, clock: Clock | None = None, signing_clock: Clock | None = None
) -> AsyncIterator[BridgeClient]:
    """The real bridge app on a free loopback port, with a client for it."""
    app = create_app(settings, clock=clock or SystemClock(), signing_clock=signing_clock)
    async with TestClient(TestServer(app)) as client:
        yield client


@dataclass(frozen=True)
class Delivery:
    """One webhook the shop received."""

    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class FakeShop:
    """A tiny real shop that answers ``failures`` errors first, then 200 and dedupes by id."""

    failures: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def receive(self, request: web.Request) -> web.Response:
        self.deliveries.append(Delivery(dict(request.headers), await request.read()))
        self.changed.set()
        if len(self.deliveries) <= self.failures:
            return web.json_response({"error": "try later"}, status=503)
        webhook_id = request.headers["webhook-id"]
        if webhook_id not in self.accepted:
            self.accepted.append(webhook_id)
        return web.json_response({"ok": True})

    async def wait_for(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT):
            while not done():
                self.changed.clear()
                await self.changed.wait()


@asynccontextmanager
async def fake_shop(*, failures: int = 0) -> AsyncIterator[tuple[FakeShop, str]]:
    """A :class:`FakeShop` on a free loopback port, and its webhook URL."""
    shop = FakeShop(failures=failures)
    app = web.Application()
    app.router.add_post("/webhooks", shop.receive)
    server = TestServer(app)
    await server.start_server()
    try:
        yield shop, str(server.make_url("/webhooks"))
    finally:
        await server.close()


async def wait_until(done: Callable[[], bool]) -> None:
    """Poll ``done`` until it holds; fail after :data:`WAIT` seconds.

    For state only the bridge's database shows, which offers nothing to wait on.
    """
    async with asyncio.timeout(WAIT):
        while not done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def bridge_settings(tmp_path: Path, shop_url: str, **overrides: Any) -> BridgeSettings:
    values: dict[str, Any] = {
        "db_path": tmp_path / "bridge.db",
        "shop_url": shop_url,
        "shop_secret": SHOP_SECRET,
        "retry_initial": 0.01,
        "retry_max": 0.05,
        "admin_token": ADMIN_TOKEN,
        "poll": 0.05,
    }
    values.update(overrides)
    return BridgeSettings(**values)


SHOP_SECRET = new_secret()
ADMIN_TOKEN = "admin-" + secrets.token_hex(16)
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def subscribe(
    client: BridgeClient,
    household: str,
    item: str,
    *,
    price_cents: int = 100,
    enabled: bool = True,
    skip_next: bool = False,
) -> Subscription:
    """Subscribe ``household`` to ``item`` directly in the running bridge's store."""
    return client.app[STORE].accounts.put_subscription(
        Subscription(
            household=household,
            item=item,
            sku=f"SKU-{item.upper()}",
            pack="1 pack",
            price_cents=price_cents,
            enabled=enabled,
            skip_next=skip_next,
        ),
        now=SystemClock().now(),
    )


def set_limits(
    client: BridgeClient, household: str, *, cap: int | None = None, auto_approve: int | None = None
) -> None:
    client.app[STORE].accounts.put_household(
        Household(household, monthly_cap_cents=cap, auto_approve_cents=auto_approve),
        now=SystemClock().now(),
    )


async def place(
    client: BridgeClient, device: Device, *lines: tuple[str, int], msg_id: str | None = None
) -> dict[str, Any]:
    """Place an order of ``lines`` as ``device``; return the answer's JSON (201 or 200)."""
    body = order_json(*lines)
    response = await client.post(
        "/v1/orders", data=body, headers=device.headers(body, msg_id=msg_id)
    )
    assert response.status in (200, 201), await response.text()
    order: dict[str, Any] = await response.json()
    return order


async def act(
    client: BridgeClient, order_id: str, action: str, who: Device | None, body: bytes = b""
) -> tuple[int, Any]:
    """POST /v1/orders/{id}/{action} as a device, or as the admin when ``who`` is None."""
    headers = ADMIN if who is None else who.headers(body)
    response = await client.post(f"/v1/orders/{order_id}/{action}", data=body, headers=headers)
    return response.status, await response.json()
