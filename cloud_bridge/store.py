"""The bridge's durable state in SQLite (via sqlite-utils, WAL mode): devices, orders, audit.

The ``orders`` table is also two durable queues:

* the webhook queue to the shop: an order is due while ``forwarded_at`` is empty and
  ``next_attempt_at`` has passed. An attempt first *claims* the order (counting the
  attempt and leasing it), so a cancel can never race a send, and an attempt lost in a
  crash is retried when the lease runs out. Orders that exhaust their retries are
  dead-lettered (``dead_lettered_at``) until redelivered by hand.
* the downlink to the agents: each change bumps ``version``; an order whose
  ``announced_version`` is behind still has to be published.

Because the queues live in the database, they survive a restart, and commands run by
another process (``restock bridge approve``) are seen by a running bridge.

The store is synchronous: each call is a few local SQLite statements, short enough to
run on the event loop. Households and subscriptions live in :class:`Accounts`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, cast

import msgspec
from sqlite_utils import Database

from cloud_bridge.accounts import Accounts, check_name
from cloud_bridge.errors import DatabaseError, DeviceExists, OrderNotFound, UnknownDevice
from cloud_bridge.intake import Household, PricedLine
from cloud_bridge.lifecycle import COMMITTED
from cloud_bridge.schema import create_schema, dt, maybe_dt, month_key, ts
from edge_agent.protocol import OrderLine, OrderStatus
from edge_agent.webhooks import new_secret

_lines_type = tuple[OrderLine, ...]
_priced_type = tuple[PricedLine, ...]
#: How long a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_MS: Final = 5000


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
    #: The lines as the device asked for them, before any was skipped.
    requested_lines: tuple[OrderLine, ...] | None = None
    priced: tuple[PricedLine, ...] = ()
    total_cents: int = 0
    cancel_until: datetime | None = None
    cause: str = "created"


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
    requested_lines: tuple[OrderLine, ...] = ()
    priced: tuple[PricedLine, ...] = ()
    total_cents: int = 0
    cancel_until: datetime | None = None
    dead_lettered_at: datetime | None = None
    webhook_body: bytes | None = None
    version: int = 1


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One audit entry: an order reached ``status`` at ``ts`` because of ``cause``."""

    order_id: str
    ts: datetime
    status: OrderStatus
    cause: str


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Which orders to list; every field left ``None`` matches all."""

    household: str | None = None
    status: OrderStatus | None = None
    dead_letter: bool | None = None
    limit: int = 100


class Store:
    """The bridge database: ``Store(path)``, ``Store(":memory:")`` or ``Store(memory=True)``."""

    def __init__(self, path: str | Path | None = None, *, memory: bool = False) -> None:
        try:
            self.db = _open(path, memory=memory)
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open the bridge database {str(path)!r}: {exc}") from None
        try:
            create_schema(self.db)
        except sqlite3.Error as exc:
            self.db.close()
            raise DatabaseError(f"cannot set up the bridge database {str(path)!r}: {exc}") from None
        self.accounts = Accounts(self.db)
        self._devices = self.db.table("devices")
        self._orders = self.db.table("orders")
        self._events = self.db.table("order_events")

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
        """Group several calls into one transaction; a nested block joins the outer one.

        An error inside rolls back the whole outermost transaction, unless a
        :meth:`savepoint` in between catches it. The outermost block takes the write
        lock up front (``BEGIN IMMEDIATE``): a transaction that read first and wrote
        second could otherwise fail at once when another process (the CLI beside a
        running bridge) committed in between.
        """
        if self.db.conn.in_transaction:
            yield
            return
        self.db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.conn.execute("COMMIT")
        except BaseException:
            self.db.rollback()
            raise

    def sql(self, statement: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        """Run one statement; outside a transaction a write commits at once.

        Inside a transaction it goes straight to the connection, skipping
        sqlite-utils' bookkeeping: order intake runs a dozen statements per order.
        """
        if self.db.conn.in_transaction:
            return self.db.conn.execute(statement, params)
        return self.db.execute(statement, params)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside a transaction: undo just this block's writes if it raises."""
        with self.db.atomic():
            yield

    # --- devices --------------------------------------------------------------------

    def add_device(
        self, household: str, device: str, *, now: datetime, secret: str | None = None
    ) -> str:
        """Register a device and return its signing secret (a new one unless given).

        The household is registered too, with no cap and no approval limit, if it is new.
        """
        check_name(household, "household")
        check_name(device, "device")
        secret = secret or new_secret()
        record = {"household": household, "device": device, "secret": secret, "created_at": ts(now)}
        with self.transaction():
            self.accounts.ensure_household(household, now=now)
            try:
                self._devices.insert(record)
            except sqlite3.IntegrityError:
                raise DeviceExists(f"device {household}/{device} is already registered") from None
        return secret

    def rotate_secret(self, household: str, device: str) -> str:
        """Give a registered device a new secret; the old one stops working at once."""
        secret = new_secret()
        cursor = self.sql(
            "UPDATE devices SET secret = ? WHERE household = ? AND device = ?",
            [secret, household, device],
        )
        if cursor.rowcount != 1:
            raise UnknownDevice(household, device)
        return secret

    def device_secret(self, household: str, device: str) -> str:
        """The secret of a registered device; :class:`UnknownDevice` if there is none."""
        row = self.sql(
            "SELECT secret FROM devices WHERE household = ? AND device = ?", [household, device]
        ).fetchone()
        if row is None:
            raise UnknownDevice(household, device)
        return str(row[0])

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
        with self.transaction():
            cursor = self.sql(_INSERT_ORDER, _new_order_row(new))
            if cursor.rowcount != 1:
                return self.find(new.household, new.device, new.request_id), False
            self._add_event(new.order_id, new.created_at, new.status, new.cause)
            if new.status in COMMITTED:
                self._add_spend(new.household, new.created_at, new.total_cents)
        return _stored(new), True

    def find(self, household: str, device: str, request_id: str) -> Order:
        row = self._one(
            "household = ? AND device = ? AND request_id = ?", [household, device, request_id]
        )
        if row is None:
            raise OrderNotFound(f"no order for request {request_id} of {household}/{device}")
        return _order(row)

    def get_order(self, order_id: str) -> Order:
        """The order with this id; :class:`OrderNotFound` if there is none."""
        row = self._one("order_id = ?", [order_id])
        if row is None:
            raise OrderNotFound(f"order {order_id} does not exist")
        return _order(row)

    def _one(self, where: str, params: list[Any]) -> dict[str, Any] | None:
        cursor = self.sql(f"SELECT * FROM orders WHERE {where}", params)
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip([c[0] for c in cursor.description], row, strict=True))

    def list_orders(self, which: OrderFilter) -> list[Order]:
        """Orders matching ``which``, newest first."""
        clauses: list[str] = []
        params: list[Any] = []
        if which.household is not None:
            clauses.append("household = ?")
            params.append(which.household)
        if which.status is not None:
            clauses.append("status = ?")
            params.append(which.status)
        if which.dead_letter is not None:
            clauses.append(f"dead_lettered_at IS {'NOT ' if which.dead_letter else ''}NULL")
        rows = self._orders.rows_where(
            " AND ".join(clauses) or None,
            params,
            order_by="created_at DESC, order_id",
            limit=which.limit,
        )
        return [_order(row) for row in rows]

    def month_spent_cents(self, household: str, at: datetime) -> int:
        """What the household's orders created in ``at``'s month commit it to spend.

        Read from a per-month ledger that every order's creation and end keep up to
        date, so the cost does not grow with the number of orders.
        """
        row = self.sql(
            "SELECT cents FROM monthly_spend WHERE household = ? AND month = ?",
            [household, month_key(at)],
        ).fetchone()
        return 0 if row is None else int(row[0])

    def limits_and_spend(self, household: str, at: datetime) -> tuple[Household, int]:
        """The household's limits (none for one never registered) and ``at``'s month's
        committed spending, in one query: order intake asks for both every time."""
        row = self.sql(
            "SELECT (SELECT monthly_cap_cents FROM households WHERE household = :h),"
            " (SELECT auto_approve_cents FROM households WHERE household = :h),"
            " (SELECT cents FROM monthly_spend WHERE household = :h AND month = :m)",
            {"h": household, "m": month_key(at)},
        ).fetchone()
        return Household(household, row[0], row[1]), int(row[2] or 0)

    def _add_spend(self, household: str, created_at: datetime, cents: int) -> None:
        if cents:
            self.sql(
                "INSERT INTO monthly_spend (household, month, cents) VALUES (?, ?, ?)"
                " ON CONFLICT (household, month) DO UPDATE SET cents = cents + excluded.cents",
                [household, month_key(created_at), cents],
            )

    def _release_spend(self, order_id: str, was: str) -> None:
        """An order that counted against the cap has ended unbought: stop counting it."""
        if was in COMMITTED:
            order = self.get_order(order_id)
            self._add_spend(order.household, order.created_at, -order.total_cents)

    def count_by_status(self) -> dict[str, int]:
        """How many orders are in each status."""
        rows = self.sql("SELECT status, count(*) FROM orders GROUP BY status")
        return {str(status): int(count) for status, count in rows.fetchall()}

    def dead_letter_count(self) -> int:
        row = self.sql("SELECT count(*) FROM orders WHERE dead_lettered_at IS NOT NULL").fetchone()
        return int(row[0])

    def set_status(
        self,
        order_id: str,
        status: OrderStatus,
        *,
        at: datetime,
        cause: str,
        eta: datetime | None = None,
        updates: dict[str, Any] | None = None,
    ) -> Order:
        """Record that an order reached ``status`` (and ``eta``, if given), with an audit row.

        The caller checks the transition is allowed (see lifecycle.py). ``updates``
        sets more columns in the same statement.
        """
        changes: dict[str, Any] = {"status": status, "updated_at": ts(at), **(updates or {})}
        if eta is not None:
            changes["eta"] = ts(eta)
        assignments = ", ".join(f"{column} = :{column}" for column in changes)
        with self.transaction():
            was = self._status(order_id)
            cursor = self.sql(
                f"UPDATE orders SET {assignments}, version = version + 1"
                " WHERE order_id = :order_id",
                {**changes, "order_id": order_id},
            )
            if cursor.rowcount != 1:
                raise OrderNotFound(f"order {order_id} does not exist")
            self._add_event(order_id, at, status, cause)
            if status not in COMMITTED:
                self._release_spend(order_id, was)
        return self.get_order(order_id)

    def _status(self, order_id: str) -> str:
        row = self.sql("SELECT status FROM orders WHERE order_id = ?", [order_id]).fetchone()
        if row is None:
            raise OrderNotFound(f"order {order_id} does not exist")
        return str(row[0])

    def cancel_if_unsent(self, order_id: str, *, at: datetime, cause: str) -> bool:
        """Cancel the order if no attempt to send it has started and its window is open.

        One conditional UPDATE, so it cannot race :meth:`claim_attempt`, even from
        another process. Returns whether the order was cancelled.
        """
        with self.transaction():
            was = self._status(order_id)
            cursor = self.sql(
                "UPDATE orders SET status = 'cancelled', updated_at = :at, next_attempt_at = NULL,"
                " version = version + 1 WHERE order_id = :order_id AND forward_attempts = 0"
                " AND (status = 'pending_confirmation'"
                "      OR (status = 'placed' AND (cancel_until IS NULL OR cancel_until > :at)))",
                {"order_id": order_id, "at": ts(at)},
            )
            if cursor.rowcount != 1:
                return False
            self._add_event(order_id, at, "cancelled", cause)
            self._release_spend(order_id, was)
        return True

    def note(self, order_id: str, *, at: datetime, cause: str) -> None:
        """An audit entry that changes no status (a dead letter, a redelivery)."""
        order = self.get_order(order_id)
        self._add_event(order_id, at, order.status, cause)

    def events(self, order_id: str) -> list[OrderEvent]:
        """An order's audit trail, oldest first."""
        rows = self._events.rows_where("order_id = ?", [order_id], order_by="id")
        return [
            OrderEvent(r["order_id"], dt(r["ts"]), cast(OrderStatus, r["status"]), r["cause"])
            for r in rows
        ]

    def _add_event(self, order_id: str, at: datetime, status: OrderStatus, cause: str) -> None:
        self.sql(
            "INSERT INTO order_events (order_id, ts, status, cause) VALUES (?, ?, ?, ?)",
            [order_id, ts(at), status, cause],
        )

    # --- webhook queue --------------------------------------------------------------

    def orders_due(self, now: datetime, *, limit: int) -> list[Order]:
        """Orders not yet accepted by the shop whose next attempt is due, oldest first."""
        rows = self._orders.rows_where(
            "forwarded_at is null and next_attempt_at is not null and next_attempt_at <= ?",
            [ts(now)],
            order_by="next_attempt_at, created_at",
            limit=limit,
        )
        return [_order(row) for row in rows]

    def next_attempt_at(self) -> datetime | None:
        """When the earliest queued order is due, or ``None`` if none is queued."""
        row = self.sql(
            "SELECT min(next_attempt_at) FROM orders"
            " WHERE forwarded_at is null and next_attempt_at is not null"
        ).fetchone()
        return maybe_dt(row[0])

    def claim_attempt(self, order_id: str, *, now: datetime, lease_until: datetime) -> bool:
        """Start an attempt: count it and lease the order until ``lease_until``.

        ``False`` if the order is no longer due (cancelled, accepted, or claimed).
        """
        cursor = self.sql(
            "UPDATE orders SET forward_attempts = forward_attempts + 1, next_attempt_at = ?"
            " WHERE order_id = ? AND forwarded_at IS NULL AND next_attempt_at IS NOT NULL"
            " AND next_attempt_at <= ?",
            [ts(lease_until), order_id, ts(now)],
        )
        return cursor.rowcount == 1

    def freeze_webhook_body(self, order_id: str, body: bytes) -> bytes:
        """Keep the first body sent for an order, so every retry sends the same bytes."""
        self.sql(
            "UPDATE orders SET webhook_body = ? WHERE order_id = ? AND webhook_body IS NULL",
            [body, order_id],
        )
        stored = self.get_order(order_id).webhook_body
        return body if stored is None else stored

    def record_forwarded(self, order_id: str, *, at: datetime) -> None:
        """The shop accepted the order: take it off the queue."""
        self.sql(
            "UPDATE orders SET forwarded_at = ?, next_attempt_at = NULL, last_error = NULL"
            " WHERE order_id = ?",
            [ts(at), order_id],
        )

    def record_forward_failure(self, order_id: str, *, error: str, retry_at: datetime) -> None:
        """An attempt failed: remember why, and when to try again."""
        self.sql(
            "UPDATE orders SET last_error = ?, next_attempt_at = ? WHERE order_id = ?",
            [error, ts(retry_at), order_id],
        )

    def dead_letter(self, order_id: str, *, at: datetime, error: str) -> None:
        """The order ran out of retries: off the queue, onto the dead-letter list."""
        with self.transaction():
            self.sql(
                "UPDATE orders SET last_error = ?, next_attempt_at = NULL, dead_lettered_at = ?"
                " WHERE order_id = ?",
                [error, ts(at), order_id],
            )
            attempts = self.get_order(order_id).forward_attempts
            self.note(order_id, at=at, cause=f"dead-lettered after {attempts} attempts: {error}")

    def requeue(self, order_id: str, *, at: datetime, cause: str) -> Order:
        """Send the order's webhook again from now, with a fresh retry budget."""
        with self.transaction():
            self.sql(
                "UPDATE orders SET forwarded_at = NULL, dead_lettered_at = NULL,"
                " forward_attempts = 0, last_error = NULL, next_attempt_at = ? WHERE order_id = ?",
                [ts(at), order_id],
            )
            self.note(order_id, at=at, cause=cause)
        return self.get_order(order_id)

    def stop_forwarding(self, order_id: str, *, at: datetime) -> None:
        """The shop evidently has the order (it reported on it): stop forwarding it."""
        self.sql(
            "UPDATE orders SET forwarded_at = ?, next_attempt_at = NULL, dead_lettered_at = NULL"
            " WHERE order_id = ? and forwarded_at is null",
            [ts(at), order_id],
        )

    # --- the shop endpoint ----------------------------------------------------------

    def endpoint_disabled(self, url: str) -> str | None:
        """Why the shop endpoint at ``url`` is disabled, or ``None`` if it is enabled."""
        row = self.sql("SELECT reason FROM endpoints WHERE url = ?", [url]).fetchone()
        return None if row is None else str(row[0])

    def disable_endpoint(self, url: str, *, at: datetime, reason: str) -> None:
        self.sql(
            "INSERT OR REPLACE INTO endpoints (url, disabled_at, reason) VALUES (?, ?, ?)",
            [url, ts(at), reason],
        )

    def enable_endpoint(self, url: str) -> bool:
        """Enable the endpoint again; ``False`` if it was not disabled."""
        return self.sql("DELETE FROM endpoints WHERE url = ?", [url]).rowcount == 1

    # --- downlink -------------------------------------------------------------------

    def unannounced(self, *, limit: int) -> list[Order]:
        """Orders whose latest change has not been published to their agent yet."""
        rows = self._orders.rows_where(
            "announced_version < version", order_by="updated_at", limit=limit
        )
        return [_order(row) for row in rows]

    def mark_announced(self, order_id: str, version: int) -> None:
        """Version ``version`` of the order was published; later changes still wait."""
        self.sql(
            "UPDATE orders SET announced_version = ? WHERE order_id = ? AND announced_version < ?",
            [version, order_id, version],
        )

    # --- shop callbacks ------------------------------------------------------------

    def claim_shop_message(self, webhook_id: str, order_id: str, *, at: datetime) -> bool:
        """Remember a shop message id; ``False`` if it was seen before (a replay or retry)."""
        cursor = self.sql(
            "INSERT OR IGNORE INTO shop_messages (webhook_id, order_id, received_at)"
            " VALUES (?, ?, ?)",
            [webhook_id, order_id, ts(at)],
        )
        return cursor.rowcount == 1


def _open(path: str | Path | None, *, memory: bool) -> Database:
    if memory or path is None or str(path) == ":memory:":
        db = Database(memory=True)
    else:
        db = Database(path)
        db.enable_wal()
    db.execute("PRAGMA foreign_keys = ON")
    # The CLI and a running bridge share the file; wait for each other's writes.
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return db


_ORDER_COLUMNS: Final = (
    "order_id",
    "household",
    "device",
    "request_id",
    "lines",
    "explanation",
    "status",
    "eta",
    "created_at",
    "updated_at",
    "forward_attempts",
    "next_attempt_at",
    "forwarded_at",
    "last_error",
    "requested_lines",
    "priced_lines",
    "total_cents",
    "cancel_until",
    "version",
    "announced_version",
)
_INSERT_ORDER: Final = (
    f"INSERT OR IGNORE INTO orders ({', '.join(_ORDER_COLUMNS)})"
    f" VALUES ({', '.join(':' + c for c in _ORDER_COLUMNS)})"
)


def _json(value: object) -> str:
    return msgspec.json.encode(value).decode()


def _new_order_row(new: NewOrder) -> dict[str, Any]:
    return {
        "order_id": new.order_id,
        "household": new.household,
        "device": new.device,
        "request_id": new.request_id,
        "lines": _json(new.lines),
        "explanation": new.explanation,
        "status": new.status,
        "eta": None,
        "created_at": ts(new.created_at),
        "updated_at": ts(new.created_at),
        "forward_attempts": 0,
        "next_attempt_at": None if new.next_attempt_at is None else ts(new.next_attempt_at),
        "forwarded_at": None,
        "last_error": None,
        "requested_lines": _json(new.requested_lines or new.lines),
        "priced_lines": _json(new.priced),
        "total_cents": new.total_cents,
        "cancel_until": None if new.cancel_until is None else ts(new.cancel_until),
        "version": 1,
        "announced_version": 0,
    }


def _stored(new: NewOrder) -> Order:
    """The order as :meth:`Store.create_order` just stored it, without reading it back."""
    return Order(
        order_id=new.order_id,
        household=new.household,
        device=new.device,
        request_id=new.request_id,
        lines=new.lines,
        explanation=new.explanation,
        status=new.status,
        eta=None,
        created_at=new.created_at,
        updated_at=new.created_at,
        forward_attempts=0,
        next_attempt_at=new.next_attempt_at,
        forwarded_at=None,
        last_error=None,
        requested_lines=new.requested_lines or new.lines,
        priced=new.priced,
        total_cents=new.total_cents,
        cancel_until=new.cancel_until,
    )


def _order(row: dict[str, Any]) -> Order:
    lines = msgspec.json.decode(row["lines"], type=_lines_type)
    requested = row["requested_lines"]
    return Order(
        order_id=row["order_id"],
        household=row["household"],
        device=row["device"],
        request_id=row["request_id"],
        lines=lines,
        explanation=row["explanation"],
        status=cast(OrderStatus, row["status"]),
        eta=maybe_dt(row["eta"]),
        created_at=dt(row["created_at"]),
        updated_at=dt(row["updated_at"]),
        forward_attempts=row["forward_attempts"],
        next_attempt_at=maybe_dt(row["next_attempt_at"]),
        forwarded_at=maybe_dt(row["forwarded_at"]),
        last_error=row["last_error"],
        requested_lines=lines
        if requested is None
        else msgspec.json.decode(requested, type=_lines_type),
        priced=msgspec.json.decode(row["priced_lines"] or "[]", type=_priced_type),
        total_cents=row["total_cents"] or 0,
        cancel_until=maybe_dt(row["cancel_until"]),
        dead_lettered_at=maybe_dt(row["dead_lettered_at"]),
        webhook_body=row["webhook_body"],
        version=row["version"],
    )
