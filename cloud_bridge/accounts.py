"""Households and their subscriptions in the bridge database (see schema.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from cloud_bridge.errors import HouseholdNotFound, InvalidIdentifier, SubscriptionNotFound
from cloud_bridge.intake import Household, Subscription
from cloud_bridge.schema import ts
from edge_agent.catalog import check_identifier


def check_name(value: str, what: str) -> None:
    """Raise :class:`InvalidIdentifier` unless ``value`` is a protocol identifier."""
    try:
        check_identifier(value, what)
    except ValueError as exc:
        raise InvalidIdentifier(str(exc)) from None


class Accounts:
    """Households' limits and subscriptions; part of a :class:`cloud_bridge.store.Store`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def sql(self, statement: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        """As :meth:`cloud_bridge.store.Store.sql`."""
        if self.db.conn.in_transaction:
            return self.db.conn.execute(statement, params)
        return self.db.execute(statement, params)

    # --- households -----------------------------------------------------------------

    def ensure_household(self, household: str, *, now: datetime) -> None:
        """Register ``household`` with no cap and no approval limit, unless it exists."""
        check_name(household, "household")
        self.sql(
            "INSERT OR IGNORE INTO households (household, created_at, updated_at) VALUES (?, ?, ?)",
            [household, ts(now), ts(now)],
        )

    def put_household(self, household: Household, *, now: datetime) -> Household:
        """Create or replace a household's cap and auto-approve limit."""
        self.ensure_household(household.household, now=now)
        self.sql(
            "UPDATE households SET monthly_cap_cents = ?, auto_approve_cents = ?,"
            " updated_at = ? WHERE household = ?",
            [
                household.monthly_cap_cents,
                household.auto_approve_cents,
                ts(now),
                household.household,
            ],
        )
        return household

    def household(self, household: str) -> Household:
        """The household; :class:`HouseholdNotFound` if it was never registered."""
        row = self.sql(
            "SELECT monthly_cap_cents, auto_approve_cents FROM households WHERE household = ?",
            [household],
        ).fetchone()
        if row is None:
            raise HouseholdNotFound(f"household {household} is not registered")
        return Household(household, row[0], row[1])

    def household_or_default(self, household: str) -> Household:
        """The household's limits, or none at all for a household never registered."""
        try:
            return self.household(household)
        except HouseholdNotFound:
            return Household(household)

    # --- subscriptions --------------------------------------------------------------

    def put_subscription(self, subscription: Subscription, *, now: datetime) -> Subscription:
        """Create or replace a subscription; the household is registered if it is new."""
        check_name(subscription.item, "item")
        self.ensure_household(subscription.household, now=now)
        self.db.table("subscriptions").upsert(
            _subscription_row(subscription, now), pk=("household", "item")
        )
        return subscription

    def subscriptions(
        self, household: str, items: Iterable[str] | None = None
    ) -> dict[str, Subscription]:
        """The household's subscriptions by item, all of them or only for ``items``."""
        sql = "SELECT * FROM subscriptions WHERE household = ?"
        params: list[Any] = [household]
        if items is not None:
            wanted = list(items)
            sql += f" AND item IN ({', '.join('?' * len(wanted))})"
            params += wanted
        cursor = self.sql(sql + " ORDER BY item", params)
        names = [column[0] for column in cursor.description]
        rows = (dict(zip(names, row, strict=True)) for row in cursor.fetchall())
        return {row["item"]: _subscription(row) for row in rows}

    def subscription(self, household: str, item: str) -> Subscription:
        found = self.subscriptions(household, [item])
        if item not in found:
            raise SubscriptionNotFound(f"household {household} has no subscription for {item}")
        return found[item]

    def set_subscription_flags(
        self,
        household: str,
        item: str,
        *,
        now: datetime,
        enabled: bool | None = None,
        skip_next: bool | None = None,
    ) -> Subscription:
        """Pause or resume a subscription, or ask to skip its next order."""
        current = self.subscription(household, item)
        updates: dict[str, Any] = {"updated_at": ts(now)}
        if enabled is not None:
            updates["enabled"] = int(enabled)
        if skip_next is not None:
            updates["skip_next"] = int(skip_next)
        self.db.table("subscriptions").update((household, item), updates)
        return self.subscription(current.household, current.item)

    def clear_skips(self, household: str, items: Iterable[str], *, now: datetime) -> None:
        """The next order of each item was skipped: order them normally from now on."""
        for item in items:
            self.sql(
                "UPDATE subscriptions SET skip_next = 0, updated_at = ?"
                " WHERE household = ? AND item = ?",
                [ts(now), household, item],
            )


def _subscription_row(subscription: Subscription, now: datetime) -> dict[str, Any]:
    return {
        "household": subscription.household,
        "item": subscription.item,
        "sku": subscription.sku,
        "pack": subscription.pack,
        "price_cents": subscription.price_cents,
        "cadence_days": subscription.cadence_days,
        "enabled": int(subscription.enabled),
        "skip_next": int(subscription.skip_next),
        "updated_at": ts(now),
    }


def _subscription(row: dict[str, Any]) -> Subscription:
    return Subscription(
        household=row["household"],
        item=row["item"],
        sku=row["sku"],
        pack=row["pack"],
        price_cents=row["price_cents"],
        cadence_days=row["cadence_days"],
        enabled=bool(row["enabled"]),
        skip_next=bool(row["skip_next"]),
    )
