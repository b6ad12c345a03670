"""The OpenAPI description: served, kept in docs/, complete, and fuzzed with schemathesis.

The fuzz test runs the real app on a free loopback port, in a thread with its own event
loop (schemathesis sends blocking requests), and signs every generated request as a
registered device, the shop or the admin would, so the generated bodies, paths and
queries reach the handlers. Whatever it sends, no answer may be a 5xx, and every
error must be the bridge's JSON error shape.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings

from cloud_bridge.app import ROUTES, create_app
from cloud_bridge.openapi import OPERATIONS, build_spec, spec_bytes
from cloud_bridge.settings import BridgeSettings
from cloud_bridge.store import Store
from edge_agent.clock import SystemClock
from simulators.ports import free_port
from tests.test_bridge_support import ADMIN_TOKEN, SHOP_SECRET, Device, order_json, signed

ROOT = Path(__file__).parent.parent
SCHEMA = schemathesis.openapi.from_dict(build_spec())


def test_docs_copy_is_current() -> None:
    """docs/openapi.json is exactly what the bridge serves (regenerate it with
    `restock bridge openapi > docs/openapi.json`)."""
    assert (ROOT / "docs" / "openapi.json").read_bytes() == spec_bytes()


def test_every_route_is_described() -> None:
    """The spec lists each route of the app, and nothing the app does not serve."""
    served = {(route.method.lower(), route.path) for route in ROUTES}
    described = {(op.method, op.path) for op in OPERATIONS}
    assert served == described


def test_spec_is_valid_openapi() -> None:
    """schemathesis loads the spec and finds every operation in it."""
    operations = [result.ok() for result in SCHEMA.get_all_operations()]
    assert len(operations) == len(OPERATIONS)


@dataclass(frozen=True)
class LiveBridge:
    url: str
    device: Device
    order_id: str


class ThreadedApp:
    """An aiohttp app served on a loopback port by its own event loop in a thread."""

    def __init__(self, app: web.Application, port: int) -> None:
        self._app = app
        self._port = port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="fuzzed-bridge", daemon=True)

    def _run(self) -> None:
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        runner = web.AppRunner(self._app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self._port).start()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def __enter__(self) -> ThreadedApp:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the bridge did not start within 10 s")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture(scope="module")
def live_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveBridge]:
    """The bridge on a free port in its own thread, with a device and one order of its own."""
    db = tmp_path_factory.mktemp("fuzz") / "bridge.db"
    with Store(db) as store:
        secret = store.add_device("home1", "agent", now=SystemClock().now())
    port = free_port()
    bridge_settings = BridgeSettings(
        db_path=db,
        shop_url="http://127.0.0.1:9/webhooks",
        shop_secret=SHOP_SECRET,
        admin_token=ADMIN_TOKEN,
        cancel_window=3600,
        retry_initial=3600,
        retry_max=3600,
    )
    with ThreadedApp(create_app(bridge_settings, clock=SystemClock()), port):
        url = f"http://127.0.0.1:{port}"
        device = Device("home1", "agent", secret)
        body = order_json(("milk", 1))
        placed = requests.post(
            f"{url}/v1/orders", data=body, headers=device.headers(body), timeout=10
        )
        yield LiveBridge(url, device, placed.json()["order_id"])


def _sign(live: LiveBridge, auth: str, kwargs: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The body bytes schemathesis meant to send, and headers that authenticate them."""
    if "json" in kwargs:
        body = json.dumps(kwargs.pop("json")).encode()
    else:
        raw = kwargs.pop("data", b"") or b""
        body = raw if isinstance(raw, bytes) else str(raw).encode()
    generated = kwargs.pop("headers")
    headers = {k: v for k, v in generated.items() if k.lower() not in _AUTH_HEADERS}
    if auth == "device_or_admin":  # either may call: take turns, deterministically
        auth = "admin" if len(body) % 2 else "device"
    if auth == "admin":
        headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    elif auth == "shop":
        headers |= signed(SHOP_SECRET, body, msg_id=f"fuzz_{secrets.token_hex(8)}")
    elif auth == "device":
        headers |= live.device.headers(body)
    return body, headers


_AUTH_HEADERS = {"webhook-signature", "authorization"}
_AUTH = {(op.method.upper(), op.path): op.auth for op in OPERATIONS}


@SCHEMA.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_makes_the_bridge_fail(case: schemathesis.Case, live_bridge: LiveBridge) -> None:
    """Generated requests, valid and invalid, never get a 5xx; errors are JSON with a code."""
    ids = case.path_parameters or {}
    if "order_id" in ids and len(str(ids["order_id"])) % 3 == 0:
        ids["order_id"] = live_bridge.order_id  # a third of the time, an order that exists
    kwargs = case.as_transport_kwargs(base_url=live_bridge.url)
    body, headers = _sign(
        live_bridge, _AUTH.get((case.method.upper(), case.path), "public"), kwargs
    )
    kwargs.pop("cookies", None)
    response = requests.request(
        kwargs.pop("method"), kwargs.pop("url"), data=body, headers=headers, timeout=10, **kwargs
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"]
        assert error["message"]
