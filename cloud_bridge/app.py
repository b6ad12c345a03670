"""The bridge's HTTP service: ``create_app`` builds it; resources live in ``cleanup_ctx``.

Endpoints (docs/bridge.md describes them):

* ``GET /healthz``
* ``POST /v1/orders``: a device places an order (signed with its device secret)
* ``GET /v1/orders/{order_id}``: a device of the same household reads an order
* ``POST /v1/shop/orders/{order_id}/status``: the shop reports (signed with the shop secret)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Final

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

from cloud_bridge.auth import authenticate_device, authenticate_shop
from cloud_bridge.downlink import Downlink, MqttDownlink, NoDownlink
from cloud_bridge.errors import (
    AuthenticationError,
    CloudBridgeError,
    DeviceExists,
    IdempotencyConflict,
    IllegalTransition,
    InvalidPayload,
    MalformedRequest,
    OrderNotFound,
)
from cloud_bridge.forwarder import Backoff, Forwarder
from cloud_bridge.orders import Orders
from cloud_bridge.payloads import (
    ErrorBody,
    ErrorDetail,
    OrderBody,
    decode_order_request,
    decode_status_report,
    encode,
    order_body,
)
from cloud_bridge.settings import BridgeSettings
from cloud_bridge.store import Store
from edge_agent.clock import Clock, SystemClock

SETTINGS: Final = web.AppKey("settings", BridgeSettings)
CLOCK: Final = web.AppKey[Clock]("clock")
SIGNING_CLOCK: Final = web.AppKey[Clock]("signing_clock")
STORE: Final = web.AppKey("store", Store)
DOWNLINK: Final = web.AppKey[Downlink]("downlink")
ORDERS: Final = web.AppKey("orders", Orders)
SHOP_CLIENT: Final = web.AppKey("shop_client", aiohttp.ClientSession)
FORWARDER: Final = web.AppKey("forwarder", Forwarder)

#: Order requests and status reports are small; refuse anything much bigger.
MAX_BODY_BYTES: Final = 64 * 1024


def create_app(
    settings: BridgeSettings, *, clock: Clock, signing_clock: Clock | None = None
) -> web.Application:
    """The bridge app, its resources opened on start-up and closed on clean-up.

    ``clock`` is the business clock: order times and the retry schedule. ``signing_clock``
    (real time by default) judges the freshness of incoming signatures and stamps
    outgoing ones, since the replay window is real time even when business time is fast.
    """
    app = web.Application(middlewares=[json_errors], client_max_size=MAX_BODY_BYTES)
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[SIGNING_CLOCK] = signing_clock or SystemClock()
    app.cleanup_ctx.extend([_storage, _downlink, _shop_client, _forwarding])
    app.router.add_routes(
        [
            web.get("/healthz", healthz),
            web.post("/v1/orders", place_order),
            web.get("/v1/orders/{order_id}", get_order),
            web.post("/v1/shop/orders/{order_id}/status", shop_status),
        ]
    )
    return app


# --- resources ----------------------------------------------------------------------


async def _storage(app: web.Application) -> AsyncIterator[None]:
    with Store(app[SETTINGS].db_path) as store:
        app[STORE] = store
        yield


async def _downlink(app: web.Application) -> AsyncIterator[None]:
    address = app[SETTINGS].mqtt_address()
    if address is None:
        app[DOWNLINK] = NoDownlink()
        yield
        return
    async with MqttDownlink(address.host, address.port) as downlink:
        app[DOWNLINK] = downlink
        yield


async def _shop_client(app: web.Application) -> AsyncIterator[None]:
    async with aiohttp.ClientSession() as session:
        app[SHOP_CLIENT] = session
        yield


async def _forwarding(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[ORDERS] = orders = Orders(app[STORE], clock=app[CLOCK], downlink=app[DOWNLINK])
    app[FORWARDER] = forwarder = Forwarder(
        orders,
        app[SHOP_CLIENT],
        shop_url=settings.shop_url,
        shop_secret=settings.shop_secret,
        clock=app[CLOCK],
        signing_clock=app[SIGNING_CLOCK],
        backoff=Backoff(settings.retry_initial, settings.retry_max),
        timeout=settings.forward_timeout,
    )
    task = asyncio.create_task(forwarder.run(), name="restock-bridge-forwarder")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# --- handlers -----------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def place_order(request: web.Request) -> web.Response:
    app = request.app
    body = await request.read()
    who, request_id = authenticate_device(
        app[STORE],
        request.headers,
        body,
        now=app[SIGNING_CLOCK].now(),
        tolerance=app[SETTINGS].signature_tolerance,
    )
    order, created = app[ORDERS].place(
        who.household, who.device, request_id, decode_order_request(body)
    )
    if created:
        app[FORWARDER].wake()
    return _order_response(
        order_body(order),
        status=201 if created else 200,
        headers={"Location": f"/v1/orders/{order.order_id}"},
    )


async def get_order(request: web.Request) -> web.Response:
    app = request.app
    who, _ = authenticate_device(
        app[STORE],
        request.headers,
        await request.read(),
        now=app[SIGNING_CLOCK].now(),
        tolerance=app[SETTINGS].signature_tolerance,
    )
    order = app[ORDERS].for_household(request.match_info["order_id"], who.household)
    return _order_response(order_body(order))


async def shop_status(request: web.Request) -> web.Response:
    app = request.app
    body = await request.read()
    webhook_id = authenticate_shop(
        app[SETTINGS].shop_secret,
        request.headers,
        body,
        now=app[SIGNING_CLOCK].now(),
        tolerance=app[SETTINGS].signature_tolerance,
    )
    order = app[ORDERS].apply_shop_report(
        request.match_info["order_id"], decode_status_report(body), webhook_id=webhook_id
    )
    return _order_response(order_body(order))


def _order_response(
    body: OrderBody, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=encode(body), status=status, headers=headers, content_type="application/json"
    )


# --- errors -------------------------------------------------------------------------

#: HTTP status of each error class; subclasses inherit their base's.
HTTP_STATUS: Final[dict[type[CloudBridgeError], int]] = {
    MalformedRequest: 400,
    AuthenticationError: 401,
    OrderNotFound: 404,
    DeviceExists: 409,
    IdempotencyConflict: 409,
    IllegalTransition: 409,
    InvalidPayload: 422,
}


def http_status(error: CloudBridgeError) -> int:
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as ``{"error": {"code": ..., "message": ...}}``."""
    try:
        return await handler(request)
    except CloudBridgeError as exc:
        field = exc.field if isinstance(exc, InvalidPayload) else None
        return _error(http_status(exc), ErrorDetail(exc.code, str(exc), field))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return _error(exc.status, ErrorDetail(code, exc.reason), headers=allow)


def _error(
    status: int, detail: ErrorDetail, *, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=encode(ErrorBody(detail)),
        status=status,
        headers=headers,
        content_type="application/json",
    )
