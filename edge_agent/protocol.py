"""Restock's MQTT protocol, version 1: every topic and payload, in one place.

docs/protocol.md is the human description of this module. Agent, simulators, bridge
and tests all build and parse topics and payloads here, and nowhere else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

import msgspec

from edge_agent.catalog import check_identifier
from edge_agent.errors import ProtocolError

PROTOCOL_VERSION = 1
ROOT = f"restock/v{PROTOCOL_VERSION}"
AGENT = "agent"  # the reserved device name under which the agent publishes

ONLINE = b"online"
OFFLINE = b"offline"

OrderStatus = Literal[
    "pending_confirmation",
    "placed",
    "sent",
    "acknowledged",
    "shipped",
    "delivered",
    "cancelled",
    "rejected",
    "failed",
]
#: Statuses after which an order will never arrive, or already has.
FINAL_STATUSES: frozenset[str] = frozenset({"delivered", "cancelled", "rejected", "failed"})
#: Whether an item's readings can be believed (docs/protocol.md, "Item outlook").
SensorState = Literal["waiting", "ok", "silent", "stuck", "below_scale", "offline"]


def _check_version(v: int) -> None:
    if v != PROTOCOL_VERSION:
        raise ValueError(f"unsupported protocol version v={v}, this agent speaks v=1")


def _check_aware(ts: datetime) -> None:
    if ts.tzinfo is None:
        raise ValueError("ts must be ISO-8601 with a timezone, e.g. 2026-01-01T07:00:00Z")


class Reading(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """One sensor reading: the quantity of an item a device measures, at an instant."""

    ts: datetime
    value: float
    unit: str
    seq: int
    v: int = PROTOCOL_VERSION

    def __post_init__(self) -> None:
        _check_version(self.v)
        _check_aware(self.ts)
        if not math.isfinite(self.value):
            raise ValueError("value must be a finite number")
        if self.seq < 0:
            raise ValueError("seq must be 0 or more")
        if not self.unit:
            raise ValueError("unit must not be empty")


class AgentStatus(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """The agent's own retained status; the Last Will publishes the offline form."""

    state: Literal["online", "offline"]
    ts: datetime | None = None
    pending_orders: int = 0
    v: int = PROTOCOL_VERSION

    def __post_init__(self) -> None:
        _check_version(self.v)
        if self.ts is not None:
            _check_aware(self.ts)


class OrderLine(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One item of an order, in whole packs."""

    item: str
    packs: int

    def __post_init__(self) -> None:
        check_identifier(self.item, "item")
        if self.packs < 1:
            raise ValueError(f"packs must be at least 1 for item {self.item!r}")


class OrderUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """Downlink: the bridge tells the agent where one of its orders stands."""

    order_id: str
    status: OrderStatus
    ts: datetime
    lines: tuple[OrderLine, ...] = ()
    eta: datetime | None = None
    v: int = PROTOCOL_VERSION
    #: The agent's webhook-id of the order request, to match updates to it by.
    request_id: str | None = None

    def __post_init__(self) -> None:
        _check_version(self.v)
        _check_aware(self.ts)
        if self.eta is not None:
            _check_aware(self.eta)
        if not self.order_id:
            raise ValueError("order_id must not be empty")


class RunOutTimes(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """When the stock on hand runs out: early (one future in ten is busier), median and
    late (one in ten is quieter)."""

    p10: datetime
    p50: datetime
    p90: datetime

    def __post_init__(self) -> None:
        for ts in (self.p10, self.p50, self.p90):
            _check_aware(ts)
        if not self.p10 <= self.p50 <= self.p90:
            raise ValueError("run_out must have p10 <= p50 <= p90")


class ItemOutlook(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """The agent's retained word on one item: its level, when it runs out, and whether
    its sensor can be believed, for the household's dashboard."""

    item: str
    ts: datetime
    unit: str
    sensor: SensorState
    #: When the sensor's state began, as near as the readings tell; ``None`` while ok or
    #: waiting.
    since: datetime | None = None
    level: float | None = None
    on_the_way: float = 0.0
    rate_per_day: float | None = None
    run_out: RunOutTimes | None = None
    #: One sentence for the household when the sensor is not ok: what is wrong and what
    #: the agent does about it.
    note: str | None = None
    v: int = PROTOCOL_VERSION

    def __post_init__(self) -> None:
        _check_version(self.v)
        check_identifier(self.item, "item")
        _check_aware(self.ts)
        if self.since is not None:
            _check_aware(self.since)
        for name in ("level", "on_the_way", "rate_per_day"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number, 0 or more")


# --- topics -------------------------------------------------------------------------


def reading_topic(household: str, device: str, item: str) -> str:
    return f"{ROOT}/{household}/{device}/{item}/reading"


def availability_topic(household: str, device: str) -> str:
    return f"{ROOT}/{household}/{device}/availability"


def agent_status_topic(household: str) -> str:
    return f"{ROOT}/{household}/{AGENT}/status"


def item_outlook_topic(household: str, item: str) -> str:
    return f"{ROOT}/{household}/{AGENT}/items/{item}"


def order_update_topic(household: str, order_id: str) -> str:
    return f"{ROOT}/{household}/{AGENT}/orders/{order_id}"


def agent_subscriptions(household: str) -> tuple[str, ...]:
    """The topic filters an agent subscribes to for its household."""
    return (
        f"{ROOT}/{household}/+/+/reading",
        f"{ROOT}/{household}/+/availability",
        f"{ROOT}/{household}/{AGENT}/orders/+",
    )


@dataclass(frozen=True, slots=True)
class ReadingTopic:
    household: str
    device: str
    item: str


@dataclass(frozen=True, slots=True)
class AvailabilityTopic:
    household: str
    device: str


@dataclass(frozen=True, slots=True)
class OrderUpdateTopic:
    household: str
    order_id: str


@dataclass(frozen=True, slots=True)
class AgentStatusTopic:
    household: str


@dataclass(frozen=True, slots=True)
class ItemOutlookTopic:
    household: str
    item: str


Topic = ReadingTopic | AvailabilityTopic | OrderUpdateTopic | AgentStatusTopic | ItemOutlookTopic


def parse_topic(topic: str) -> Topic:
    """Classify a topic, or raise :class:`ProtocolError` saying why it is not ours."""
    parts = topic.split("/")
    if parts[:2] != ROOT.split("/"):
        raise ProtocolError(f"topic {topic!r} is not under {ROOT}/")
    rest = parts[2:]
    try:
        match rest:
            case [household, device, item, "reading"] if device != AGENT:
                return ReadingTopic(
                    check_identifier(household, "household"),
                    check_identifier(device, "device"),
                    check_identifier(item, "item"),
                )
            case [household, device, "availability"] if device != AGENT:
                return AvailabilityTopic(
                    check_identifier(household, "household"), check_identifier(device, "device")
                )
            case [household, "agent", "orders", order_id] if order_id:
                return OrderUpdateTopic(check_identifier(household, "household"), order_id)
            case [household, "agent", "status"]:
                return AgentStatusTopic(check_identifier(household, "household"))
            case [household, "agent", "items", item]:
                return ItemOutlookTopic(
                    check_identifier(household, "household"), check_identifier(item, "item")
                )
    except ValueError as exc:
        raise ProtocolError(f"topic {topic!r}: {exc}") from None
    raise ProtocolError(f"topic {topic!r} matches no topic of protocol v{PROTOCOL_VERSION}")


# --- payloads -----------------------------------------------------------------------

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
_reading_decoder = msgspec.json.Decoder(Reading)
_status_decoder = msgspec.json.Decoder(AgentStatus)
_update_decoder = msgspec.json.Decoder(OrderUpdate)
_outlook_decoder = msgspec.json.Decoder(ItemOutlook)


def encode(message: Reading | AgentStatus | OrderUpdate | ItemOutlook) -> bytes:
    return _encoder.encode(message)


def _decode(decoder: msgspec.json.Decoder[T], payload: bytes, what: str) -> T:
    try:
        return decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"invalid {what} payload: {exc}") from None


def decode_reading(payload: bytes) -> Reading:
    return _decode(_reading_decoder, payload, "reading")


def decode_agent_status(payload: bytes) -> AgentStatus:
    return _decode(_status_decoder, payload, "agent status")


def decode_order_update(payload: bytes) -> OrderUpdate:
    return _decode(_update_decoder, payload, "order update")


def decode_item_outlook(payload: bytes) -> ItemOutlook:
    return _decode(_outlook_decoder, payload, "item outlook")


def decode_availability(payload: bytes) -> bool:
    """``True`` for online, ``False`` for offline."""
    if payload == ONLINE:
        return True
    if payload == OFFLINE:
        return False
    raise ProtocolError(
        f"invalid availability payload {payload[:40]!r}: expected online or offline"
    )
