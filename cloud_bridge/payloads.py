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
from cloud_bridge.store import Order
from edge_agent.protocol import OrderLine, OrderStatus

MAX_LINES: Final = 100
MAX_TEXT: Final = 500
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
    )


def order_created(order: Order) -> OrderCreated:
    """The ``order.created`` event; it is the same bytes on every retry of one order."""
    return OrderCreated(timestamp=order.created_at, data=order_body(order))


# --- encoding and decoding ---------------------------------------------------------

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
_order_request = msgspec.json.Decoder(OrderRequest)
_status_report = msgspec.json.Decoder(StatusReport)
_AT_PATH = re.compile(r" - at `(\$[^`]*)`$")
_MISSING = re.compile(r"missing required field `([^`]+)`")


def encode(value: OrderBody | OrderCreated | ErrorBody) -> bytes:
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
