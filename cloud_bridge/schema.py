"""The bridge database's tables, created (or brought up to date) when a store opens it.

Times are stored as fixed-width ISO-8601 UTC strings (microseconds, ``Z``), which sort
in time order, so SQL can compare them. Money is integer cents.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any, Final

from sqlite_utils import Database
from sqlite_utils.db import Table

from edge_agent.clock import to_utc

#: Columns added to ``orders`` after its first release, with their defaults.
_ORDER_COLUMNS_ADDED: Final[dict[str, tuple[type, Any]]] = {
    "requested_lines": (str, None),
    "priced_lines": (str, "[]"),
    "total_cents": (int, 0),
    "cancel_until": (str, None),
    "dead_lettered_at": (str, None),
    "webhook_body": (bytes, None),
    "version": (int, 1),
    "announced_version": (int, 0),
}


def create_schema(db: Database) -> None:
    """Create every table and index that is missing; add columns older files lack."""
    _accounts(db)
    _orders(db)
    _spend_ledger(db)
    _audit_and_inbox(db)


def _accounts(db: Database) -> None:
    db.table("households").create(
        {
            "household": str,
            "monthly_cap_cents": int,
            "auto_approve_cents": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="household",
        not_null={"created_at", "updated_at"},
        if_not_exists=True,
    )
    db.table("devices").create(
        {"household": str, "device": str, "secret": str, "created_at": str},
        pk=("household", "device"),
        not_null={"household", "device", "secret", "created_at"},
        if_not_exists=True,
    )
    db.table("subscriptions").create(
        {
            "household": str,
            "item": str,
            "sku": str,
            "pack": str,
            "price_cents": int,
            "cadence_days": float,
            "enabled": int,
            "skip_next": int,
            "updated_at": str,
        },
        pk=("household", "item"),
        not_null={"sku", "pack", "price_cents", "enabled", "skip_next", "updated_at"},
        if_not_exists=True,
    )
    db.table("endpoints").create(
        {"url": str, "disabled_at": str, "reason": str},
        pk="url",
        not_null={"disabled_at", "reason"},
        if_not_exists=True,
    )


def _orders(db: Database) -> None:
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
    _add_missing_columns(orders, _ORDER_COLUMNS_ADDED)
    orders.create_index(
        ["household", "device", "request_id"],
        index_name="orders_request",
        unique=True,
        if_not_exists=True,
    )
    orders.create_index(["next_attempt_at"], index_name="orders_due", if_not_exists=True)
    orders.create_index(
        ["household", "created_at"], index_name="orders_household", if_not_exists=True
    )
    # Partial indexes keep the two background scans cheap however many orders there are.
    db.execute(
        "CREATE INDEX IF NOT EXISTS orders_unannounced ON orders (updated_at)"
        " WHERE announced_version < version"
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS orders_dead ON orders (dead_lettered_at)"
        " WHERE dead_lettered_at IS NOT NULL"
    )


def _spend_ledger(db: Database) -> None:
    """What each household's orders commit it to spend, per calendar month (UTC)."""
    spend = db.table("monthly_spend")
    if spend.exists():
        return
    spend.create(
        {"household": str, "month": str, "cents": int},
        pk=("household", "month"),
        not_null={"cents"},
    )
    # A database from before the ledger: start it from the orders it already holds.
    db.execute(
        "INSERT INTO monthly_spend (household, month, cents)"
        " SELECT household, substr(created_at, 1, 7), sum(total_cents) FROM orders"
        " WHERE status IN ('pending_confirmation', 'placed', 'sent', 'acknowledged',"
        " 'shipped', 'delivered') GROUP BY household, substr(created_at, 1, 7)"
    )


def _audit_and_inbox(db: Database) -> None:
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


def _add_missing_columns(table: Table, columns: dict[str, tuple[type, Any]]) -> None:
    present = table.columns_dict
    for name, (kind, default) in columns.items():
        if name not in present:
            table.add_column(name, kind, not_null_default=default)


@functools.lru_cache(maxsize=256)
def ts(value: datetime) -> str:
    """A datetime as the database stores it: ``2026-01-05T07:00:00.000000Z``."""
    if value.tzinfo is not UTC:
        value = to_utc(value)
    # isoformat is several times faster than strftime, and as fixed-width for years
    # 1-9999; the cache serves the same instant written to several columns of one order.
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def dt(value: str) -> datetime:
    """A stored time back as an aware UTC datetime."""
    return datetime.fromisoformat(value).astimezone(UTC)


def month_key(value: datetime) -> str:
    """The calendar month (UTC) of ``value``, as stored: ``2026-01``."""
    return ts(value)[:7]


def maybe_dt(value: str | None) -> datetime | None:
    return None if value is None else dt(value)
