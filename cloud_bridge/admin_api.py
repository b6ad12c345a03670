"""The operator's handlers, all behind ``Authorization: Bearer <admin token>``.

Households' limits and subscriptions, every household's orders with their webhook
state (the dead-letter list among them), redelivery, the shop endpoint, and metrics.
"""

from __future__ import annotations

from aiohttp import web

from cloud_bridge.api import household_body, json_response, limit, order_id, status_filter
from cloud_bridge.auth import authenticate_admin
from cloud_bridge.errors import InvalidPayload
from cloud_bridge.intake import Household, Subscription
from cloud_bridge.metrics import CONTENT_TYPE
from cloud_bridge.payloads import (
    AdminOrderList,
    EndpointBody,
    admin_order_body,
    check_path_identifier,
    decode_limits,
    decode_subscription,
    encode,
    subscription_body,
)
from cloud_bridge.state import CLOCK, FORWARDER, METRICS, ORDERS, SETTINGS, STORE
from cloud_bridge.store import OrderFilter


async def admin(request: web.Request) -> bytes:
    """Check the admin token; return the request's body."""
    authenticate_admin(request.app[SETTINGS].admin_token, request.headers)
    return await request.read()


def _household(request: web.Request) -> str:
    return check_path_identifier(request.match_info["household"], "household")


def _dead_letter(request: web.Request) -> bool | None:
    raw = request.query.get("dead_letter")
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise InvalidPayload("dead_letter must be true or false", field="dead_letter")
    return raw == "true"


async def list_orders(request: web.Request) -> web.Response:
    """Orders of every household, or one; ``dead_letter=true`` is the dead-letter list."""
    await admin(request)
    household = request.query.get("household")
    if household is not None:
        check_path_identifier(household, "household")
    which = OrderFilter(
        household=household,
        status=status_filter(request),
        dead_letter=_dead_letter(request),
        limit=limit(request),
    )
    orders = request.app[ORDERS].list_orders(which)
    return json_response(encode(AdminOrderList(tuple(admin_order_body(o) for o in orders))))


async def redeliver(request: web.Request) -> web.Response:
    await admin(request)
    order = request.app[ORDERS].redeliver(order_id(request))
    request.app[FORWARDER].wake()
    return json_response(encode(admin_order_body(order)))


async def get_household(request: web.Request) -> web.Response:
    await admin(request)
    limits = request.app[STORE].accounts.household(_household(request))
    return json_response(encode(household_body(request, limits)))


async def put_household(request: web.Request) -> web.Response:
    """Create a household, or set its monthly cap and auto-approve limit."""
    body = await admin(request)
    requested = decode_limits(body)
    limits = request.app[STORE].accounts.put_household(
        Household(
            _household(request),
            monthly_cap_cents=requested.monthly_cap_cents,
            auto_approve_cents=requested.auto_approve_cents,
        ),
        now=request.app[CLOCK].now(),
    )
    return json_response(encode(household_body(request, limits)))


async def put_subscription(request: web.Request) -> web.Response:
    """Create or replace one of a household's subscriptions."""
    body = await admin(request)
    household = _household(request)
    item = check_path_identifier(request.match_info["item"], "item")
    requested = decode_subscription(body)
    subscription = request.app[STORE].accounts.put_subscription(
        Subscription(
            household=household,
            item=item,
            sku=requested.sku,
            pack=requested.pack,
            price_cents=requested.price_cents,
            cadence_days=requested.cadence_days,
            enabled=requested.enabled,
            skip_next=requested.skip_next,
        ),
        now=request.app[CLOCK].now(),
    )
    return json_response(encode(subscription_body(subscription)))


def _endpoint(request: web.Request) -> EndpointBody:
    url = request.app[SETTINGS].shop_url
    reason = request.app[STORE].endpoint_disabled(url)
    return EndpointBody(url=url, disabled=reason is not None, reason=reason)


async def get_endpoint(request: web.Request) -> web.Response:
    await admin(request)
    return json_response(encode(_endpoint(request)))


async def enable_endpoint(request: web.Request) -> web.Response:
    """Send webhooks to the shop again after a 410 disabled its endpoint."""
    await admin(request)
    request.app[STORE].enable_endpoint(request.app[SETTINGS].shop_url)
    request.app[FORWARDER].wake()
    return json_response(encode(_endpoint(request)))


async def metrics(request: web.Request) -> web.Response:
    await admin(request)
    return web.Response(
        body=request.app[METRICS].exposition(), headers={"Content-Type": CONTENT_TYPE}
    )
