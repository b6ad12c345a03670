"""The household's money rules: a monthly spending cap and an approval limit.

Sans-I/O. Each new order is judged against what the household's placed orders have
cost in the current calendar month (UTC):

- over the **cap**, packs are taken off the least urgent lines first (a due item keeps
  one pack while it can); if not even one pack of the most urgent line fits, the order
  is held for approval as it stands;
- an order costing more than the **approval limit** is held until the household
  approves or declines it.

Money is counted in integer cents, so sums of prices such as 1.19 are exact.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from edge_agent.policy import LinePlan

#: Local status of an order held until the household approves it; never sent meanwhile.
AWAITING_APPROVAL = "awaiting_approval"
#: Local status of an order the household declined; it is never sent.
DECLINED = "declined"
#: Statuses of orders that were never paid for: they do not count against the cap.
UNSPENT: frozenset[str] = frozenset({"cancelled", "rejected", "failed", DECLINED})


@dataclass(frozen=True, slots=True)
class BudgetSettings:
    """A household's spending rules, in the currency of the items' prices."""

    #: The most the household's orders may cost per calendar month (UTC); None: no cap.
    monthly_cap: float | None = None
    #: Orders costing more than this wait for approval; None: no approval needed.
    approve_above: float | None = None
    #: How amounts are written in explanations.
    currency: str = "€"

    def __post_init__(self) -> None:
        for name in ("monthly_cap", "approve_above"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a number greater than 0, got {value!r}")

    def money(self, cents: int) -> str:
        """``cents`` as the household reads it, e.g. ``€23.40``."""
        return f"{self.currency}{cents / 100:,.2f}"


class Action(enum.StrEnum):
    """What becomes of an order under the budget."""

    PLACE = "place"  # as decided
    TRIM = "trim"  # with fewer packs, to fit the cap
    HOLD = "hold"  # not sent until the household approves it


@dataclass(frozen=True, slots=True)
class Verdict:
    """The budget's judgement of one order; ``note`` extends its explanation."""

    action: Action
    lines: tuple[LinePlan, ...]
    cost_cents: int
    note: str = ""

    @property
    def held(self) -> bool:
        return self.action is Action.HOLD


def cents(amount: float) -> int:
    return round(amount * 100)


def order_cents(lines: Iterable[LinePlan], prices: Mapping[str, float]) -> int:
    """What ``lines`` cost; an item without a known price costs nothing."""
    return sum(line.packs * cents(prices.get(line.item, 0.0)) for line in lines)


def month_of(instant: datetime) -> tuple[int, int]:
    utc = instant.astimezone(UTC)
    return utc.year, utc.month


def month_start(instant: datetime) -> datetime:
    """Midnight UTC on the first day of ``instant``'s month."""
    year, month = month_of(instant)
    return datetime(year, month, 1, tzinfo=UTC)


class MonthlySpending:
    """What placed orders cost, by the calendar month (UTC) they were created in."""

    def __init__(self) -> None:
        self._orders: dict[str, tuple[tuple[int, int], int]] = {}

    def add(self, request_id: str, created_at: datetime, cost_cents: int) -> None:
        self._orders[request_id] = (month_of(created_at), cost_cents)

    def forget(self, request_id: str) -> None:
        """The order was cancelled, refused or declined: it no longer counts."""
        self._orders.pop(request_id, None)

    def spent_cents(self, now: datetime) -> int:
        """The cost of the orders created in ``now``'s month."""
        month = month_of(now)
        return sum(cost for created, cost in self._orders.values() if created == month)


def judge(
    lines: Sequence[LinePlan],
    *,
    prices: Mapping[str, float],
    spent_cents: int,
    settings: BudgetSettings,
    due: Collection[str] | None = None,
) -> Verdict:
    """Place, trim or hold one order, given what this month's orders already cost.

    ``lines`` come most urgent first; ``due`` names the items due now (all of them when
    ``None``), which keep one pack for as long as the cap allows.
    """
    lines = tuple(lines)
    notes: list[str] = []
    if settings.monthly_cap is not None:
        cap = cents(settings.monthly_cap)
        cost = order_cents(lines, prices)
        if spent_cents + cost > cap:
            trimmed = _trim(lines, prices, cap - spent_cents, due)
            spent = f"{settings.money(spent_cents)} spent this month"
            if trimmed is None:
                note = (
                    f"held for approval as the order's {settings.money(cost)} does not fit"
                    f" the {settings.money(cap)} monthly cap ({spent})"
                )
                return Verdict(Action.HOLD, lines, cost, note)
            notes.append(
                f"trimmed to the {settings.money(cap)} monthly cap ({spent}):"
                f" {_changes(lines, trimmed)}"
            )
            lines = tuple(line for line in trimmed if line.packs)
    cost = order_cents(lines, prices)
    if settings.approve_above is not None and cost > cents(settings.approve_above):
        notes.append(
            f"held for approval as {settings.money(cost)} is above the"
            f" {settings.money(cents(settings.approve_above))} approval limit"
        )
        return Verdict(Action.HOLD, lines, cost, "; ".join(notes))
    return Verdict(Action.TRIM if notes else Action.PLACE, lines, cost, "; ".join(notes))


def review(
    orders: Iterable[Sequence[LinePlan]],
    *,
    prices: Mapping[str, float],
    spent_cents: int,
    settings: BudgetSettings,
    due: Collection[str] | None = None,
) -> list[Verdict]:
    """Judge orders decided together, in turn: each one placed counts for the next."""
    verdicts = []
    for lines in orders:
        verdict = judge(lines, prices=prices, spent_cents=spent_cents, settings=settings, due=due)
        if not verdict.held:
            spent_cents += verdict.cost_cents
        verdicts.append(verdict)
    return verdicts


def _trim(
    lines: tuple[LinePlan, ...],
    prices: Mapping[str, float],
    room: int,
    due: Collection[str] | None,
) -> tuple[LinePlan, ...] | None:
    """Take packs off, least urgent line first, until the order costs ``room`` at most.

    Every line first goes down to its floor (one pack for a due item, none otherwise);
    then due lines are dropped, least urgent first. The most urgent line keeps one pack:
    ``None`` when even that does not fit.
    """
    packs = [line.packs for line in lines]
    price = [cents(prices.get(line.item, 0.0)) for line in lines]

    def cost() -> int:
        return sum(n * p for n, p in zip(packs, price, strict=True))

    for i in reversed(range(len(lines))):
        floor = 1 if i == 0 or due is None or lines[i].item in due else 0
        while packs[i] > floor and cost() > room:
            packs[i] -= 1
    for i in reversed(range(1, len(lines))):
        if cost() <= room:
            break
        packs[i] = 0
    if cost() > room:
        return None
    return tuple(replace(line, packs=n) for line, n in zip(lines, packs, strict=True))


def _changes(before: Sequence[LinePlan], after: Sequence[LinePlan]) -> str:
    changes = []
    for old, new in zip(before, after, strict=True):
        if new.packs == 0:
            changes.append(f"{old.item} left out")
        elif new.packs < old.packs:
            changes.append(f"{old.item} cut from {old.packs} packs to {_packs(new.packs)}")
    return ", ".join(changes)


def _packs(n: int) -> str:
    return f"{n} pack" if n == 1 else f"{n} packs"
