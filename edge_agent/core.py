"""The agent's brain: readings and time in, order decisions out.

Sans-I/O: no asyncio, MQTT, HTTP or SQLite here. The MQTT service, the demo and
``restock evaluate`` all drive this same class.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from edge_agent.catalog import ItemSpec, index_items
from edge_agent.errors import RestockError
from edge_agent.estimator import LevelEstimator, Refill
from edge_agent.forecast import RunOut, forecast
from edge_agent.policy import LinePlan, PolicySettings, is_due, plan_line
from edge_agent.protocol import FINAL_STATUSES, Reading

#: Readings stamped further ahead of the agent's clock than this are refused.
FUTURE_TOLERANCE = timedelta(minutes=5)
#: A refill at least this share of an ordered line counts as that line's delivery.
ARRIVAL_SHARE = 0.5
#: How late past its longest lead time an order may be before it stops counting.
OVERDUE = timedelta(days=2)
#: A delivered order keeps counting as on its way until its refill shows in the readings
#: (the median filter takes a few readings), or for this long at most.
DELIVERY_GRACE = timedelta(hours=6)
#: Besides after every reading, the agent decides on this tick, so time alone can order.
DECIDE_EVERY = timedelta(minutes=15)


class ReadingRejected(RestockError):
    """A reading is well-formed but cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class OrderDecision:
    """An order the brain wants placed. ``request_id`` is its stable idempotency key."""

    request_id: str
    created_at: datetime
    lines: tuple[LinePlan, ...]

    @property
    def explanation(self) -> str:
        return "Ordering because " + "; ".join(line.explanation for line in self.lines) + "."


@dataclass(slots=True)
class _OpenOrder:
    decision: OrderDecision
    arrived: set[str] = field(default_factory=set)  # items whose refill was seen
    delivered_at: datetime | None = None  # when the shop said it was delivered


class Brain:
    """Level estimation, forecasts and the reorder policy for one household."""

    def __init__(
        self,
        household: str,
        items: Iterable[ItemSpec],
        settings: PolicySettings | None = None,
    ) -> None:
        self.household = household
        self.items = index_items(items, source=f"household {household!r}")
        self.settings = settings or PolicySettings()
        self.estimators = {item_id: LevelEstimator(spec) for item_id, spec in self.items.items()}
        self._open: dict[str, _OpenOrder] = {}
        self._hold_until: dict[str, datetime] = {}

    # --- inputs -------------------------------------------------------------------

    def observe(self, item_id: str, reading: Reading, now: datetime) -> Refill | None:
        """Take one reading of one item; return a refill if the reading reveals one."""
        item = self.items.get(item_id)
        if item is None:
            raise ReadingRejected(f"unknown item {item_id!r}: not in this agent's catalog")
        if reading.unit != item.unit:
            raise ReadingRejected(
                f"item {item_id!r} is measured in {item.unit!r}, reading is in {reading.unit!r}"
            )
        if reading.ts > now + FUTURE_TOLERANCE:
            raise ReadingRejected(
                f"reading for {item_id!r} is stamped {reading.ts.isoformat()},"
                f" ahead of the agent's clock ({now.isoformat()})"
            )
        level = item.level_from_reading(reading.value)
        refill = self.estimators[item_id].observe(reading.ts, level)
        if refill is not None:
            self._match_arrival(item_id, refill)
        return refill

    def on_reading(self, item_id: str, reading: Reading, now: datetime) -> list[OrderDecision]:
        """What the agent does with each reading, on every path: take it in, then decide."""
        self.observe(item_id, reading, now)
        return self.decide(now)

    def track(self, decision: OrderDecision, status: str = "placed") -> None:
        """Remember an order that is on its way (after a restart, or once decided)."""
        if status in FINAL_STATUSES:
            self._open.pop(decision.request_id, None)
        else:
            self._open[decision.request_id] = _OpenOrder(decision)

    def update_status(self, request_id: str, status: str, now: datetime) -> None:
        """Apply news of an order: on its way, or final (delivered, cancelled…).

        After a refusal the items wait ``settings.after_refusal`` before being ordered
        again, so a bridge that keeps refusing is not flooded with new orders.
        """
        if status not in FINAL_STATUSES:
            return
        if status == "delivered" and (order := self._open.get(request_id)) is not None:
            # Until the sensors show it, the delivery still counts as on its way.
            order.delivered_at = now
            return
        order = self._open.pop(request_id, None)
        if order is not None and status in ("rejected", "failed"):
            for line in order.decision.lines:
                self._hold_until[line.item] = now + self.settings.after_refusal

    # --- outputs ------------------------------------------------------------------

    def forecasts(self, now: datetime) -> dict[str, RunOut]:
        """The current run-out forecast of every item that has one."""
        result = {}
        for item_id, estimator in self.estimators.items():
            run_out = forecast(estimator, now)
            if run_out is not None:
                result[item_id] = run_out
        return result

    def on_the_way(self, item_id: str, now: datetime) -> float:
        """Quantity of ``item_id`` ordered and not yet seen arriving.

        An order overdue by ``OVERDUE`` past its longest lead time stops counting, so
        a delivery that went unseen cannot keep the item from being ordered forever.
        """
        item = self.items[item_id]
        cutoff = now - timedelta(hours=item.lead_time_hours.max) - OVERDUE
        return sum(
            line.packs * item.pack_size
            for order in self._open.values()
            if item_id not in order.arrived
            and order.decision.created_at >= cutoff
            and (order.delivered_at is None or now - order.delivered_at < DELIVERY_GRACE)
            for line in order.decision.lines
            if line.item == item_id
        )

    @property
    def open_orders(self) -> list[OrderDecision]:
        return [order.decision for order in self._open.values()]

    def decide(self, now: datetime) -> list[OrderDecision]:
        """Return the orders to place now: none, usually, or one per lead-time group.

        Lines ordered together arrive together, as late as the slowest line. So an item
        only shares an order whose longest lead time is no longer than its own: a due
        item that is quick to deliver never waits for a slow one.
        """
        for request_id, order in list(self._open.items()):
            if order.delivered_at is not None and now - order.delivered_at >= DELIVERY_GRACE:
                del self._open[request_id]
        due: list[tuple[ItemSpec, LinePlan]] = []
        soon: list[tuple[ItemSpec, RunOut, float]] = []
        for item_id, estimator in self.estimators.items():
            if now < self._hold_until.get(item_id, now):
                continue
            item = self.items[item_id]
            coming = self.on_the_way(item_id, now)
            run_out = forecast(estimator, now, extra_stock=coming)
            if run_out is None:
                continue
            if is_due(item, run_out, now, self.settings):
                reason = "due now to arrive in time"
                if coming:
                    reason = f"the {coming:g} {item.unit} on the way will not last"
                due.append((item, plan_line(item, run_out, coming, self.settings, reason=reason)))
            elif is_due(item, run_out, now + self.settings.consolidate, self.settings):
                soon.append((item, run_out, coming))
        groups: dict[float, list[LinePlan]] = {}
        for item, line in due:
            groups.setdefault(item.lead_time_hours.max, []).append(line)
        reason = f"joins this delivery as due within {self.settings.consolidate.days} days"
        for lead in sorted(groups):
            joining = [entry for entry in soon if entry[0].lead_time_hours.max <= lead]
            soon = [entry for entry in soon if entry[0].lead_time_hours.max > lead]
            groups[lead] += [
                plan_line(i, r, c, self.settings, reason=reason) for i, r, c in joining
            ]
        stamp = f"{self.household}-{now.strftime('%Y%m%dT%H%M%S')}"
        decisions = [
            OrderDecision(
                request_id=stamp if n == 0 else f"{stamp}-{n + 1}",
                created_at=now,
                lines=tuple(groups[lead]),
            )
            for n, lead in enumerate(sorted(groups))
        ]
        for decision in decisions:
            self.track(decision)
        return decisions

    def _match_arrival(self, item_id: str, refill: Refill) -> None:
        item = self.items[item_id]
        for order in self._open.values():
            if item_id in order.arrived:
                continue
            ordered = sum(
                line.packs * item.pack_size for line in order.decision.lines if line.item == item_id
            )
            if ordered and refill.quantity >= ARRIVAL_SHARE * ordered:
                order.arrived.add(item_id)
                if order.arrived >= {line.item for line in order.decision.lines}:
                    del self._open[order.decision.request_id]
                return
