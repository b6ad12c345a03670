"""The bridge's durable state in SQLite (via sqlite-utils): devices, orders and audit.

The ``orders`` table is also the forwarding queue: an order is due for the shop while
``forwarded_at`` is empty and ``next_attempt_at`` has passed, so queued orders survive
a restart. Times are stored as fixed-width ISO-8601 UTC strings (microseconds, ``Z``),
which sort in time order, so SQL can compare them.

The store is synchronous: each call is a few local SQLite statements, short enough to
run on the event loop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

import msgspec
from sqlite_utils import Database
from sqlite_utils.db import NotFoundError

from cloud_bridge.errors import (
    DatabaseError,
    DeviceExists,
    InvalidIdentifier,
    OrderNotFound,
    UnknownDevice,
)
from edge_agent.catalog import check_identifier
from edge_agent.clock import to_utc
from edge_agent.protocol import OrderLine, OrderStatus
from edge_agent.webhooks import new_secret

_lines_type = tuple[OrderLine, ...]


@dataclass(frozen=True, slots=True)
class DeviceSecret:
    """A registered device and the ``whsec_`` secret it signs with."""

    household: str
    device: str
    secret: str


@dataclass(frozen=True, slots=True)
class NewOrder:
    """An order about to be stored; ``next_attempt_at=None`` holds it back from the shop."""

    order_id: str
    household: str
    device: str
    request_id: str
    lines: tuple[OrderLine, ...]
    explanation: str | None
    status: OrderStatus
    created_at: datetime
    next_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class Order:
    """A stored order, with its forwarding state."""

    order_id: str
    household: str
    device: str
    request_id: str
    lines: tuple[OrderLine, ...]
    explanation: str | None
    status: OrderStatus
    eta: datetime | None
    created_at: datetime
    updated_at: datetime
    forward_attempts: int
    next_attempt_at: datetime | None
    forwarded_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One audit entry: an order reached ``status`` at ``ts`` because of ``cause``."""

    order_id: str
    ts: datetime
    status: OrderStatus
    cause: str


class Store:
    """The bridge database: ``Store(path)``, ``Store(":memory:")`` or ``Store(memory=True)``."""

    def __init__(self, path: str | Path | None = None, *, memory: bool = False) -> None:
        try:
            self.db = _open(path, memory=memory)
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open the bridge database {str(path)!r}: {exc}") from None
        try:
            _create_schema(self.db)
        except sqlite3.Error as exc:
            self.db.close()
            raise DatabaseError(f"cannot set up the bridge database {str(path)!r}: {exc}") from None
        self._devices = self.db.table("devices")
        self._orders = self.db.table("orders")
        self._events = self.db.table("order_events")
        self._shop_messages = self.db.table("shop_messages")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several calls into one transaction; nested blocks become savepoints."""
        with self.db.atomic():
            yield

    # --- devices --------------------------------------------------------------------

    def add_device(
        self, household: str, device: str, *, now: datetime, secret: str | None = None
    ) -> str:
        """Register a device and return its signing secret (a new one unless given)."""
        for value, what in ((household, "household"), (device, "device")):
            try:
                check_identifier(value, what)
            except ValueError as exc:
                raise InvalidIdentifier(str(exc)) from None
        secret = secret or new_secret()
        record = {
            "household": household,
            "device": device,
            "secret": secret,
            "created_at": _ts(now),
        }
        try:
            self._devices.insert(record)
        except sqlite3.IntegrityError:
            raise DeviceExists(f"device {household}/{device} is already registered") from None
        return secret

    def device_secret(self, household: str, device: str) -> str:
        """The secret of a registered device; :class:`UnknownDevice` if there is none."""
        for row in self._devices.rows_where(
            "household = ? and device = ?", [household, device], select="secret"
        ):
            return str(row["secret"])
        raise UnknownDevice(household, device)

    def devices(self, *, limit: int) -> list[DeviceSecret]:
        """Up to ``limit`` registered devices, oldest first."""
        rows = self._devices.rows_where(order_by="created_at, household, device", limit=limit)
        return [DeviceSecret(r["household"], r["device"], r["secret"]) for r in rows]

    # --- orders ---------------------------------------------------------------------

    def create_order(self, new: NewOrder) -> tuple[Order, bool]:
        """Store ``new`` unless its device already sent ``request_id``.

        Returns the stored order and whether it was created now. Atomic, and backed by
        a UNIQUE index, so one request id never yields two orders.
        """
        with self.db.atomic():
            self._orders.insert(_new_order_row(new), ignore=True)
            order = self._find(new.household, new.device, new.request_id)
            created = order.order_id == new.order_id
            if created:
                self._add_event(new.order_id, new.created_at, new.status, "created")
        return order, created

    def _find(self, household: str, device: str, request_id: str) -> Order:
        rows = self._orders.rows_where(
            "household = ? and device = ? and request_id = ?", [household, device, request_id]
        )
        for row in rows:
            return _order(row)
        raise OrderNotFound(f"no order for request {request_id} of {household}/{device}")

    def get_order(self, order_id: str) -> Order:
        """The order with this id; :class:`OrderNotFound` if there is none."""
        for row in self._orders.rows_where("order_id = ?", [order_id]):
            return _order(row)
        raise OrderNotFound(f"order {order_id} does not exist")

    def set_status(
        self,
        order_id: str,
        status: OrderStatus,
        *,
        at: datetime,
        cause: str,
        eta: datetime | None = None,
    ) -> Order:
        """Record that an order reached ``status`` (and ``eta``, if given), with an audit row.

        The caller checks the transition is allowed (see lifecycle.py).
        """
        updates: dict[str, Any] = {"status": status, "updated_at": _ts(at)}
        if eta is not None:
            updates["eta"] = _ts(eta)
        with self.db.atomic():
            self._update(order_id, updates)
            self._add_event(order_id, at, status, cause)
        return self.get_order(order_id)

    def events(self, order_id: str) -> list[OrderEvent]:
        """An order's audit trail, oldest first."""
        rows = self._events.rows_where("order_id = ?", [order_id], order_by="id")
        return [
            OrderEvent(r["order_id"], _dt(r["ts"]), cast(OrderStatus, r["status"]), r["cause"])
            for r in rows
        ]

    def _add_event(self, order_id: str, at: datetime, status: OrderStatus, cause: str) -> None:
        self._events.insert({"order_id": order_id, "ts": _ts(at), "status": status, "cause": cause})

    def _update(self, order_id: str, updates: dict[str, Any]) -> None:
        try:
            self._orders.update(order_id, updates)
        except NotFoundError:
            raise OrderNotFound(f"order {order_id} does not exist") from None

    # --- forwarding queue -----------------------------------------------------------

    def orders_due(self, now: datetime, *, limit: int) -> list[Order]:
        """Orders not yet accepted by the shop whose next attempt is due, oldest first."""
        rows = self._orders.rows_where(
            "forwarded_at is null and next_attempt_at is not null and next_attempt_at <= ?",
            [_ts(now)],
            order_by="next_attempt_at, created_at",
            limit=limit,
        )
        return [_order(row) for row in rows]

    def next_attempt_at(self) -> datetime | None:
        """When the earliest queued order is due, or ``None`` if none is queued."""
        rows = self.db.query(
            "SELECT min(next_attempt_at) AS due FROM orders"
            " WHERE forwarded_at is null and next_attempt_at is not null"
        )
        due = next(rows)["due"]
        return None if due is None else _dt(due)

    def record_forwarded(self, order_id: str, *, at: datetime) -> None:
        """The shop accepted the order: take it off the queue."""
        self.db.execute(
            "UPDATE orders SET forwarded_at = ?, next_attempt_at = NULL, last_error = NULL,"
            " forward_attempts = forward_attempts + 1 WHERE order_id = ?",
            [_ts(at), order_id],
        )

    def record_forward_failure(self, order_id: str, *, error: str, retry_at: datetime) -> None:
        """An attempt failed: remember why, and when to try again."""
        self.db.execute(
            "UPDATE orders SET last_error = ?, next_attempt_at = ?,"
            " forward_attempts = forward_attempts + 1 WHERE order_id = ?",
            [error, _ts(retry_at), order_id],
        )

    def stop_forwarding(self, order_id: str, *, at: datetime) -> None:
        """The shop evidently has the order (it reported on it): stop forwarding it."""
        self.db.execute(
            "UPDATE orders SET forwarded_at = ?, next_attempt_at = NULL"
            " WHERE order_id = ? and forwarded_at is null",
            [_ts(at), order_id],
        )

    # --- shop callbacks ------------------------------------------------------------

    def claim_shop_message(self, webhook_id: str, order_id: str, *, at: datetime) -> bool:
        """Remember a shop message id; ``False`` if it was seen before (a replay or retry)."""
        row = {"webhook_id": webhook_id, "order_id": order_id, "received_at": _ts(at)}
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO shop_messages (webhook_id, order_id, received_at)"
            " VALUES (:webhook_id, :order_id, :received_at)",
            row,
        )
        return cursor.rowcount == 1


def _open(path: str | Path | None, *, memory: bool) -> Database:
    if memory or path is None or str(path) == ":memory:":
        db = Database(memory=True)
    else:
        db = Database(path)
        db.enable_wal()
    db.execute("PRAGMA foreign_keys = ON")
    return db


def _create_schema(db: Database) -> None:
    db.table("devices").create(
        {"household": str, "device": str, "secret": str, "created_at": str},
        pk=("household", "device"),
        not_null={"household", "device", "secret", "created_at"},
        if_not_exists=True,
    )
    orders = db.table("orders")
    orders.create(
        {
            "order_id": str,
            "household": str,
            "device": str,
            "request_id": str,
            "lines": str,
            "explanation": str,
            "status": str,
            "eta": str,
            "created_at": str,
            "updated_at": str,
            "forward_attempts": int,
            "next_attempt_at": str,
            "forwarded_at": str,
            "last_error": str,
        },
        pk="order_id",
        not_null={
            "household",
            "device",
            "request_id",
            "lines",
            "status",
            "created_at",
            "updated_at",
            "forward_attempts",
        },
        defaults={"forward_attempts": 0},
        if_not_exists=True,
    )
    orders.create_index(
        ["household", "device", "request_id"],
        index_name="orders_request",
        unique=True,
        if_not_exists=True,
    )
    orders.create_index(["next_attempt_at"], index_name="orders_due", if_not_exists=True)
    events = db.table("order_events")
    events.create(
        {"id": int, "order_id": str, "ts": str, "status": str, "cause": str},
        pk="id",
        not_null={"order_id", "ts", "status", "cause"},
        foreign_keys=[("order_id", "orders", "order_id")],
        if_not_exists=True,
    )
    events.create_index(["order_id"], index_name="order_events_order", if_not_exists=True)
    db.table("shop_messages").create(
        {"webhook_id": str, "order_id": str, "received_at": str},
        pk="webhook_id",
        not_null={"order_id", "received_at"},
        if_not_exists=True,
    )


def _new_order_row(new: NewOrder) -> dict[str, Any]:
    return {
        "order_id": new.order_id,
        "household": new.household,
        "device": new.device,
        "request_id": new.request_id,
        "lines": msgspec.json.encode(new.lines).decode(),
        "explanation": new.explanation,
        "status": new.status,
        "eta": None,
        "created_at": _ts(new.created_at),
        "updated_at": _ts(new.created_at),
        "forward_attempts": 0,
        "next_attempt_at": None if new.next_attempt_at is None else _ts(new.next_attempt_at),
        "forwarded_at": None,
        "last_error": None,
    }


def _order(row: dict[str, Any]) -> Order:
    return Order(
        order_id=row["order_id"],
        household=row["household"],
        device=row["device"],
        request_id=row["request_id"],
        lines=msgspec.json.decode(row["lines"], type=_lines_type),
        explanation=row["explanation"],
        status=cast(OrderStatus, row["status"]),
        eta=_maybe_dt(row["eta"]),
        created_at=_dt(row["created_at"]),
        updated_at=_dt(row["updated_at"]),
        forward_attempts=row["forward_attempts"],
        next_attempt_at=_maybe_dt(row["next_attempt_at"]),
        forwarded_at=_maybe_dt(row["forwarded_at"]),
        last_error=row["last_error"],
    )


def _ts(value: datetime) -> str:
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _maybe_dt(value: str | None) -> datetime | None:
    return None if value is None else _dt(value)
