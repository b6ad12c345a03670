"""What happens to a new order: priced from the household's subscriptions and judged, free of I/O.

:func:`assess` decides the status an order is created in:

* ``rejected`` for an item without a subscription (when subscriptions are required), a
  paused subscription, an order whose every line the household asked to skip, or an
  order that would take the month's spending over the household's cap;
* ``pending_confirmation`` when it costs more than the household's auto-approve limit;
* ``placed`` otherwise.

Money is in integer minor units of the shop's currency (cents), so sums are exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import msgspec

from edge_agent.protocol import OrderLine

InitialStatus = Literal["pending_confirmation", "placed", "rejected"]


@dataclass(frozen=True, slots=True)
class Household:
    """A household's limits; ``None`` means no cap, or no approval needed."""

    household: str
    monthly_cap_cents: int | None = None
    auto_approve_cents: int | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    """One item a household subscribes to: what to buy, at what price, and whether now."""

    household: str
    item: str
    sku: str
    pack: str
    price_cents: int
    #: The household's expected days between orders: a prior for the agent's forecast.
    cadence_days: float | None = None
    enabled: bool = True
    skip_next: bool = False


class PricedLine(msgspec.Struct, frozen=True):
    """An order line as the shop needs it: the SKU, the pack and the price per pack."""

    item: str
    sku: str
    pack: str
    packs: int
    unit_price_cents: int

    @property
    def subtotal_cents(self) -> int:
        return self.packs * self.unit_price_cents


@dataclass(frozen=True, slots=True)
class Assessment:
    """The verdict on a new order: its status, the lines that remain, the price and why."""

    status: InitialStatus
    lines: tuple[OrderLine, ...]
    priced: tuple[PricedLine, ...]
    total_cents: int
    cause: str
    #: Items whose line was dropped because the household asked to skip the next one.
    skipped: tuple[str, ...] = ()


def assess(
    lines: tuple[OrderLine, ...],
    *,
    household: Household,
    subscriptions: Mapping[str, Subscription],
    month_spent_cents: int,
    require_subscription: bool,
) -> Assessment:
    """Judge an order of ``lines`` against the household's subscriptions and limits."""
    unknown = [line.item for line in lines if line.item not in subscriptions]
    if unknown and require_subscription:
        return _rejected(lines, f"unknown item: no subscription for {', '.join(unknown)}")
    paused = [line.item for line in lines if _paused(subscriptions.get(line.item))]
    if paused:
        return _rejected(lines, f"subscription paused: {', '.join(paused)}")
    skipped = tuple(line.item for line in lines if _skips(subscriptions.get(line.item)))
    kept = tuple(line for line in lines if line.item not in skipped)
    if not kept:
        return _rejected(lines, f"skipped at the household's request: {', '.join(skipped)}")
    priced = tuple(
        _price(line, sub) for line in kept if (sub := subscriptions.get(line.item)) is not None
    )
    total = sum(line.subtotal_cents for line in priced)
    cap = household.monthly_cap_cents
    if cap is not None and month_spent_cents + total > cap:
        return _rejected(
            lines,
            f"over the monthly cap: {_money(month_spent_cents)} spent of {_money(cap)},"
            f" and this order costs {_money(total)}",
            total=total,
        )
    limit = household.auto_approve_cents
    if limit is not None and total > limit:
        return Assessment(
            "pending_confirmation",
            kept,
            priced,
            total,
            f"awaiting approval: {_money(total)} is above the auto-approve limit"
            f" of {_money(limit)}",
            skipped,
        )
    cause = "created" if not skipped else f"created; skipped {', '.join(skipped)}"
    return Assessment("placed", kept, priced, total, cause, skipped)


def _paused(subscription: Subscription | None) -> bool:
    return subscription is not None and not subscription.enabled


def _skips(subscription: Subscription | None) -> bool:
    return subscription is not None and subscription.skip_next


def _price(line: OrderLine, subscription: Subscription) -> PricedLine:
    return PricedLine(
        item=line.item,
        sku=subscription.sku,
        pack=subscription.pack,
        packs=line.packs,
        unit_price_cents=subscription.price_cents,
    )


def _rejected(lines: tuple[OrderLine, ...], cause: str, *, total: int = 0) -> Assessment:
    return Assessment("rejected", lines, (), total, f"rejected: {cause}")


def _money(cents: int) -> str:
    return f"{cents / 100:.2f}"
