"""The handlers devices and the shop call (docs/bridge.md describes each endpoint).

Devices sign every request with their own secret and see only their own household;
the order routes that act on one order also take the admin's bearer token. The shop
signs with the shop secret.
"""

from __future__ import annotations

import re
from typing import Final, get_args

from aiohttp import web

from cloud_bridge.auth import (
    AUTHORIZATION,
    Caller,
    DeviceIdentity,
    authenticate_admin,
    authenticate_device,
    authenticate_shop,
)
from cloud_bridge.errors import InvalidPayload, OrderNotFound
from cloud_bridge.intake import Household
from cloud_bridge.openapi import spec_bytes
from cloud_bridge.payloads import (
    HouseholdBody,
    OrderList,
    check_path_identifier,
    decode_action,
    decode_order_request,
    decode_patch,
    decode_status_report,
    encode,
    order_body,
    subscription_body,
)
from cloud_bridge.state import DOWNLINK, FORWARDER, INTAKE, ORDERS, SETTINGS, SIGNING_CLOCK, STORE
from cloud_bridge.store import OrderFilter
from edge_agent.protocol import OrderStatus

#: Order ids the bridge issues look like ``ord_`` and hex; anything else cannot exist.
_ORDER_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_LIST: Final = 500
_STATUSES: Final = frozenset(get_args(OrderStatus))


def json_response(
    body: bytes, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(body=body, status=status, headers=headers, content_type="application/json")


# --- who is calling -----------------------------------------------------------------


async def device(request: web.Request) -> tuple[DeviceIdentity, str, bytes]:
    """The signing device, the request's ``webhook-id``, and the body it signed."""
    app = request.app
    body = await request.read()
    who, request_id = authenticate_device(
        app[STORE],
        request.headers,
        body,
        now=app[SIGNING_CLOCK].now(),
        tolerance=app[SETTINGS].signature_tolerance,
    )
    return who, request_id, body


async def device_or_admin(request: web.Request) -> tuple[Caller, bytes]:
    """The admin if the request carries a bearer token, else the signing device."""
    if AUTHORIZATION in request.headers:
        caller = authenticate_admin(request.app[SETTINGS].admin_token, request.headers)
        return caller, await request.read()
    who, _, body = await device(request)
    return Caller(who.household, who.device), body


def order_id(request: web.Request) -> str:
    value = request.match_info["order_id"]
    if not _ORDER_ID.match(value):
        raise OrderNotFound(f"order {value[:80]!r} does not exist")
    return value


def limit(request: web.Request) -> int:
    raw = request.query.get("limit", "100")
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_LIST):
        raise InvalidPayload(f"limit must be a whole number from 1 to {MAX_LIST}", field="limit")
    return int(raw)


def status_filter(request: web.Request) -> OrderStatus | None:
    raw = request.query.get("status")
    if raw is None:
        return None
    if raw not in _STATUSES:
        raise InvalidPayload(
            f"status must be one of {', '.join(sorted(_STATUSES))}", field="status"
        )
    return raw  # type: ignore[return-value]


# --- public -------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def openapi_spec(request: web.Request) -> web.Response:
    return json_response(spec_bytes())


# --- orders -------------------------------------------------------------------------


async def place_order(request: web.Request) -> web.Response:
    app = request.app
    who, request_id, body = await device(request)
    request_body = decode_order_request(body)
    order, created = await app[INTAKE].run(
        lambda orders: orders.place(who.household, who.device, request_id, request_body)
    )
    if created:
        app[DOWNLINK].notify()
        app[FORWARDER].due_at(order.next_attempt_at)
    return json_response(
        encode(order_body(order)),
        status=201 if created else 200,
        headers={"Location": f"/v1/orders/{order.order_id}"},
    )


async def list_orders(request: web.Request) -> web.Response:
    """A device's household's orders, newest first."""
    who, _, _ = await device(request)
    which = OrderFilter(
        household=who.household, status=status_filter(request), limit=limit(request)
    )
    orders = request.app[ORDERS].list_orders(which)
    return json_response(encode(OrderList(tuple(order_body(order) for order in orders))))


async def get_order(request: web.Request) -> web.Response:
    who, _ = await device_or_admin(request)
    order = request.app[ORDERS].for_household(order_id(request), who.household)
    return json_response(encode(order_body(order)))


async def cancel_order(request: web.Request) -> web.Response:
    who, body = await device_or_admin(request)
    action = decode_action(body)
    order = request.app[ORDERS].cancel(
        order_id(request), household=who.household, by=who.describe(), reason=action.reason
    )
    return json_response(encode(order_body(order)))


async def approve_order(request: web.Request) -> web.Response:
    app = request.app
    who, body = await device_or_admin(request)
    decode_action(body)
    order = app[ORDERS].approve(order_id(request), household=who.household, by=who.describe())
    app[FORWARDER].wake()
    return json_response(encode(order_body(order)))


# --- the household ------------------------------------------------------------------


def household_body(request: web.Request, limits: Household) -> HouseholdBody:
    app = request.app
    household = limits.household
    accounts = app[STORE].accounts
    return HouseholdBody(
        household=household,
        monthly_cap_cents=limits.monthly_cap_cents,
        auto_approve_cents=limits.auto_approve_cents,
        month_spent_cents=app[STORE].month_spent_cents(household, app[ORDERS].clock.now()),
        subscriptions=tuple(
            subscription_body(s) for s in accounts.subscriptions(household).values()
        ),
    )


async def get_household(request: web.Request) -> web.Response:
    """The device's household: its limits, this month's spending, its subscriptions."""
    who, _, _ = await device(request)
    limits = request.app[STORE].accounts.household_or_default(who.household)
    return json_response(encode(household_body(request, limits)))


async def patch_subscription(request: web.Request) -> web.Response:
    """A device pauses or resumes one of its household's subscriptions, or skips one."""
    app = request.app
    who, _, body = await device(request)
    item = check_path_identifier(request.match_info["item"], "item")
    patch = decode_patch(body)
    subscription = app[STORE].accounts.set_subscription_flags(
        who.household,
        item,
        now=app[ORDERS].clock.now(),
        enabled=patch.enabled,
        skip_next=patch.skip_next,
    )
    return json_response(encode(subscription_body(subscription)))


# --- the shop -----------------------------------------------------------------------


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
        order_id(request), decode_status_report(body), webhook_id=webhook_id
    )
    return json_response(encode(order_body(order)))
