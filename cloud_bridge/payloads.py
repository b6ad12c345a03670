"""The bridge's HTTP bodies, as msgspec structs, and the one place they are decoded.

Request structs ignore unknown fields, so a newer agent or shop can add an optional
field without an older bridge refusing its requests; every known field is validated,
and errors name the field (``$.lines[0].packs``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Final, Literal, TypeVar

import msgspec

from cloud_bridge.errors import InvalidPayload, MalformedRequest
from cloud_bridge.intake import PricedLine, Subscription
from cloud_bridge.store import Order
from edge_agent.catalog import IDENTIFIER
from edge_agent.protocol import OrderLine, OrderStatus

MAX_LINES: Final = 100
MAX_TEXT: Final = 500
#: Money limits, in cents: a hundred million is far above any household's month.
MAX_CENTS: Final = 10_000_000_000
MAX_CADENCE_DAYS: Final = 3650.0
#: An order's explanation has a sentence part per line, about 200 characters each.
MAX_EXPLANATION: Final = 4000

ShopStatus = Literal["acknowledged", "shipped", "delivered", "failed"]


class OrderRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """``POST /v1/orders``: what a device asks the bridge to order."""

    lines: Annotated[tuple[OrderLine, ...], msgspec.Meta(min_length=1, max_length=MAX_LINES)]
    explanation: Annotated[str, msgspec.Meta(max_length=MAX_EXPLANATION)] | None = None

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for line in self.lines:
            if line.item in seen:
                raise ValueError(f"item {line.item!r} appears in more than one line")
            seen.add(line.item)


class StatusReport(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """``POST /v1/shop/orders/{order_id}/status``: where the shop says an order stands."""

    status: ShopStatus
    eta: datetime | None = None
    reason: Annotated[str, msgspec.Meta(max_length=MAX_TEXT)] | None = None

    def __post_init__(self) -> None:
        if self.eta is not None and self.eta.tzinfo is None:
            raise ValueError("eta must be ISO-8601 with a timezone, e.g. 2026-01-01T07:00:00Z")


class ActionRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """``POST /v1/orders/{id}/cancel`` or ``/approve``: an optional reason, kept in the audit."""

    reason: Annotated[str, msgspec.Meta(max_length=MAX_TEXT)] | None = None


Cents = Annotated[int, msgspec.Meta(ge=0, le=MAX_CENTS)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class HouseholdLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """``PUT /v1/admin/households/{household}``: ``null`` means no cap, or no approval."""

    monthly_cap_cents: Cents | None = None
    auto_approve_cents: Cents | None = None


class SubscriptionRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """``PUT /v1/admin/households/{household}/subscriptions/{item}``."""

    sku: Text
    pack: Text
    price_cents: Cents
    cadence_days: Annotated[float, msgspec.Meta(gt=0, le=MAX_CADENCE_DAYS)] | None = None
    enabled: bool = True
    skip_next: bool = False


class SubscriptionPatch(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """``PATCH /v1/household/subscriptions/{item}``: pause, resume or skip the next order."""

    enabled: bool | None = None
    skip_next: bool | None = None


class SubscriptionBody(msgspec.Struct, frozen=True):
    """A subscription as the API shows it."""

    item: str
    sku: str
    pack: str
    price_cents: int
    cadence_days: float | None
    enabled: bool
    skip_next: bool


class HouseholdBody(msgspec.Struct, frozen=True):
    """A household's limits, this month's committed spending and its subscriptions."""

    household: str
    monthly_cap_cents: int | None
    auto_approve_cents: int | None
    month_spent_cents: int
    subscriptions: tuple[SubscriptionBody, ...]


class OrderBody(msgspec.Struct, frozen=True, omit_defaults=False):
    """An order as the bridge shows it to devices and sends it to the shop."""

    order_id: str
    request_id: str
    household: str
    device: str
    status: OrderStatus
    lines: tuple[OrderLine, ...]
    explanation: str | None
    eta: datetime | None
    created_at: datetime
    updated_at: datetime
    #: The lines with SKU, pack and price, for items the household subscribes to.
    priced_lines: tuple[PricedLine, ...] = ()
    total_cents: int = 0
    #: Until when the order can be cancelled, while it waits to go to the shop.
    cancel_until: datetime | None = None


class DeliveryState(msgspec.Struct, frozen=True):
    """Where an order's webhook to the shop stands (admin views only)."""

    attempts: int
    next_attempt_at: datetime | None
    forwarded_at: datetime | None
    dead_lettered_at: datetime | None
    last_error: str | None


class AdminOrderBody(OrderBody, frozen=True):
    """An order with its webhook delivery state, for the admin."""

    delivery: DeliveryState | None = None


class OrderList(msgspec.Struct, frozen=True):
    """``GET /v1/orders``: orders, newest first."""

    orders: tuple[OrderBody, ...]


class AdminOrderList(msgspec.Struct, frozen=True):
    """``GET /v1/admin/orders``: orders with their delivery state, newest first."""

    orders: tuple[AdminOrderBody, ...]


class EndpointBody(msgspec.Struct, frozen=True):
    """The shop endpoint and whether webhooks to it are disabled (after a 410)."""

    url: str
    disabled: bool
    reason: str | None


class OrderCreated(msgspec.Struct, frozen=True):
    """The webhook the bridge sends the shop for each new order."""

    timestamp: datetime
    data: OrderBody
    type: Literal["order.created"] = "order.created"


class ErrorDetail(msgspec.Struct, frozen=True, omit_defaults=True):
    code: str
    message: str
    field: str | None = None


class ErrorBody(msgspec.Struct, frozen=True):
    """Every error response: ``{"error": {"code": ..., "message": ..., "field": ...}}``."""

    error: ErrorDetail


def order_body(order: Order) -> OrderBody:
    return OrderBody(
        order_id=order.order_id,
        request_id=order.request_id,
        household=order.household,
        device=order.device,
        status=order.status,
        lines=order.lines,
        explanation=order.explanation,
        eta=order.eta,
        created_at=order.created_at,
        updated_at=order.updated_at,
        priced_lines=order.priced,
        total_cents=order.total_cents,
        cancel_until=order.cancel_until if _cancellable(order) else None,
    )


def _cancellable(order: Order) -> bool:
    """Whether ``cancel_until`` means anything: a pending order can be cancelled until
    it is approved, and a sent one not at all."""
    return order.status == "placed" and order.forward_attempts == 0


def admin_order_body(order: Order) -> AdminOrderBody:
    public = order_body(order)
    return AdminOrderBody(
        **msgspec.structs.asdict(public),
        delivery=DeliveryState(
            attempts=order.forward_attempts,
            next_attempt_at=order.next_attempt_at,
            forwarded_at=order.forwarded_at,
            dead_lettered_at=order.dead_lettered_at,
            last_error=order.last_error,
        ),
    )


def subscription_body(subscription: Subscription) -> SubscriptionBody:
    return SubscriptionBody(
        item=subscription.item,
        sku=subscription.sku,
        pack=subscription.pack,
        price_cents=subscription.price_cents,
        cadence_days=subscription.cadence_days,
        enabled=subscription.enabled,
        skip_next=subscription.skip_next,
    )


def order_created(order: Order) -> OrderCreated:
    """The ``order.created`` event, as first sent; the bridge keeps those bytes for retries."""
    data = msgspec.structs.replace(order_body(order), cancel_until=None)
    return OrderCreated(timestamp=order.created_at, data=data)


# --- encoding and decoding ---------------------------------------------------------

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
_order_request = msgspec.json.Decoder(OrderRequest)
_status_report = msgspec.json.Decoder(StatusReport)
_action = msgspec.json.Decoder(ActionRequest)
_limits = msgspec.json.Decoder(HouseholdLimits)
_subscription = msgspec.json.Decoder(SubscriptionRequest)
_patch = msgspec.json.Decoder(SubscriptionPatch)
_AT_PATH = re.compile(r" - at `(\$[^`]*)`$")
_MISSING = re.compile(r"missing required field `([^`]+)`")


def encode(value: msgspec.Struct) -> bytes:
    return _encoder.encode(value)


def _field(message: str) -> str | None:
    """The JSON path a msgspec validation message points at, if it names one."""
    at = _AT_PATH.search(message)
    path = at.group(1) if at else "$"
    missing = _MISSING.search(message)
    if missing:
        return f"{path}.{missing.group(1)}"
    return path if at else None


def _decode(decoder: msgspec.json.Decoder[T], body: bytes) -> T:
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise InvalidPayload(str(exc), field=_field(str(exc))) from None
    except msgspec.DecodeError as exc:
        raise MalformedRequest("invalid_json", f"body is not valid JSON: {exc}") from None


def decode_order_request(body: bytes) -> OrderRequest:
    return _decode(_order_request, body)


def decode_status_report(body: bytes) -> StatusReport:
    return _decode(_status_report, body)


def decode_action(body: bytes) -> ActionRequest:
    """An empty body is an action without a reason."""
    return ActionRequest() if not body.strip() else _decode(_action, body)


def decode_limits(body: bytes) -> HouseholdLimits:
    return _decode(_limits, body)


def decode_subscription(body: bytes) -> SubscriptionRequest:
    return _decode(_subscription, body)


def decode_patch(body: bytes) -> SubscriptionPatch:
    return _decode(_patch, body)


def check_path_identifier(value: str, what: str) -> str:
    """A household, device or item named in a URL path must be an identifier."""
    if not IDENTIFIER.match(value):
        raise InvalidPayload(
            f"{what} {value!r} must be 1-64 characters of a-z, 0-9, _ and -,"
            " starting with a letter or digit",
            field=what,
        )
    return value
