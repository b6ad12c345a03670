"""The bridge's HTTP service: ``create_app`` builds it; resources live in ``cleanup_ctx``.

The route table is below; handlers live in api.py (devices and the shop) and
admin_api.py (the operator). docs/bridge.md describes every endpoint, and
``GET /openapi.json`` serves the OpenAPI 3 description (openapi.py builds it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Final

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

from cloud_bridge import admin_api, api
from cloud_bridge.batching import GroupCommit
from cloud_bridge.downlink import Downlink, MqttDownlink, NoDownlink
from cloud_bridge.errors import (
    AuthenticationError,
    CloudBridgeError,
    DeviceExists,
    Forbidden,
    HouseholdNotFound,
    IdempotencyConflict,
    IllegalTransition,
    InvalidPayload,
    MalformedRequest,
    OrderNotFound,
    SubscriptionNotFound,
)
from cloud_bridge.forwarder import Backoff, Forwarder
from cloud_bridge.metrics import BridgeMetrics
from cloud_bridge.orders import Orders
from cloud_bridge.payloads import ErrorBody, ErrorDetail, encode
from cloud_bridge.settings import BridgeSettings
from cloud_bridge.state import (
    CLOCK,
    DOWNLINK,
    FORWARDER,
    INTAKE,
    METRICS,
    ORDERS,
    SETTINGS,
    SHOP_CLIENT,
    SIGNING_CLOCK,
    STORE,
)
from cloud_bridge.store import Store
from edge_agent.clock import Clock, SystemClock

__all__ = [
    "CLOCK",
    "DOWNLINK",
    "FORWARDER",
    "MAX_BODY_BYTES",
    "METRICS",
    "ORDERS",
    "SETTINGS",
    "SHOP_CLIENT",
    "SIGNING_CLOCK",
    "STORE",
    "create_app",
]

logger = logging.getLogger(__name__)

#: Requests are small; refuse anything much bigger.
MAX_BODY_BYTES: Final = 64 * 1024

ROUTES: Final = [
    web.get("/healthz", api.healthz),
    web.get("/openapi.json", api.openapi_spec),
    web.post("/v1/orders", api.place_order),
    web.get("/v1/orders", api.list_orders),
    web.get("/v1/orders/{order_id}", api.get_order),
    web.post("/v1/orders/{order_id}/cancel", api.cancel_order),
    web.post("/v1/orders/{order_id}/approve", api.approve_order),
    web.get("/v1/household", api.get_household),
    web.patch("/v1/household/subscriptions/{item}", api.patch_subscription),
    web.post("/v1/shop/orders/{order_id}/status", api.shop_status),
    web.get("/v1/admin/orders", admin_api.list_orders),
    web.post("/v1/admin/orders/{order_id}/redeliver", admin_api.redeliver),
    web.get("/v1/admin/households/{household}", admin_api.get_household),
    web.put("/v1/admin/households/{household}", admin_api.put_household),
    web.put("/v1/admin/households/{household}/subscriptions/{item}", admin_api.put_subscription),
    web.get("/v1/admin/endpoint", admin_api.get_endpoint),
    web.post("/v1/admin/endpoint/enable", admin_api.enable_endpoint),
    web.get("/metrics", admin_api.metrics),
]


def create_app(
    settings: BridgeSettings, *, clock: Clock, signing_clock: Clock | None = None
) -> web.Application:
    """The bridge app, its resources opened on start-up and closed on clean-up.

    ``clock`` is the business clock: order times, the cancel window and the retry
    schedule. ``signing_clock`` (real time by default) judges the freshness of incoming
    signatures, stamps outgoing ones, and times requests and polls, since those are
    about the network, even when business time runs fast.
    """
    app = web.Application(
        middlewares=[request_metrics, json_errors], client_max_size=MAX_BODY_BYTES
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[SIGNING_CLOCK] = signing_clock or SystemClock()
    app.cleanup_ctx.extend([_storage, _intake, _downlink, _shop_client, _forwarding])
    app.router.add_routes(ROUTES)
    return app


# --- resources ----------------------------------------------------------------------


async def _storage(app: web.Application) -> AsyncIterator[None]:
    with Store(app[SETTINGS].db_path) as store:
        app[STORE] = store
        app[METRICS] = BridgeMetrics(store)
        yield


async def _intake(app: web.Application) -> AsyncIterator[None]:
    """New orders are written in batches: one commit for the orders that came together."""
    store = app[STORE]
    # The downlink is told by the handler, once the batch is committed.
    app[INTAKE] = GroupCommit(store, _orders(app, store, NoDownlink()))
    yield


def _orders(app: web.Application, store: Store, downlink: Downlink) -> Orders:
    settings = app[SETTINGS]
    return Orders(
        store,
        clock=app[CLOCK],
        downlink=downlink,
        cancel_window=settings.cancel_window,
        require_subscription=settings.require_subscription,
    )


async def _downlink(app: web.Application) -> AsyncIterator[None]:
    address = app[SETTINGS].mqtt_address()
    if address is None:
        app[DOWNLINK] = NoDownlink()
        yield
        return
    async with MqttDownlink(
        address.host, address.port, store=app[STORE], poll=app[SETTINGS].poll
    ) as downlink:
        app[DOWNLINK] = downlink
        yield


async def _shop_client(app: web.Application) -> AsyncIterator[None]:
    async with aiohttp.ClientSession() as session:
        app[SHOP_CLIENT] = session
        yield


async def _forwarding(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[ORDERS] = orders = _orders(app, app[STORE], app[DOWNLINK])
    app[FORWARDER] = forwarder = Forwarder(
        orders,
        app[SHOP_CLIENT],
        shop_url=settings.shop_url,
        shop_secret=settings.shop_secret,
        clock=app[CLOCK],
        signing_clock=app[SIGNING_CLOCK],
        backoff=Backoff(settings.retry_initial, settings.retry_max),
        timeout=settings.forward_timeout,
        max_attempts=settings.max_attempts,
        concurrency=settings.forward_concurrency,
        poll=settings.poll,
        observer=app[METRICS],
    )
    task = asyncio.create_task(forwarder.run(), name="restock-bridge-forwarder")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# --- middlewares --------------------------------------------------------------------


@web.middleware
async def request_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Time every request, labelled by its route's pattern (not its path: ids vary)."""
    clock = request.app[SIGNING_CLOCK]
    started = clock.now()
    response = await handler(request)
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    elapsed = (clock.now() - started).total_seconds()
    request.app[METRICS].request(request.method, route, response.status, elapsed)
    return response


#: HTTP status of each error class; subclasses inherit their base's.
HTTP_STATUS: Final[dict[type[CloudBridgeError], int]] = {
    MalformedRequest: 400,
    AuthenticationError: 401,
    Forbidden: 403,
    OrderNotFound: 404,
    HouseholdNotFound: 404,
    SubscriptionNotFound: 404,
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
        status = http_status(exc)
        if status >= 500:
            logger.error("%s %s failed: %s", request.method, request.path, exc)
        field = exc.field if isinstance(exc, InvalidPayload) else None
        return _error(status, ErrorDetail(exc.code, str(exc), field))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return _error(exc.status, ErrorDetail(code, exc.reason), headers=allow)
    except Exception:
        logger.exception("%s %s failed", request.method, request.path)
        return _error(500, ErrorDetail("internal_error", "the bridge failed; see its log"))


def _error(
    status: int, detail: ErrorDetail, *, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=encode(ErrorBody(detail)),
        status=status,
        headers=headers,
        content_type="application/json",
    )
