"""Reorder policies for ``restock evaluate``: the real agent, and the baselines it must beat.

Every policy sees only what the simulated sensors publish (the same MQTT messages,
faults included) and whether its own orders have been delivered; none sees demand,
except the oracle, which is the limit to measure against. All are sans-I/O and run on
the evaluation's simulated clock.

- ``agent``: the edge agent's brain (:class:`edge_agent.core.Brain`), fed each message
  exactly as the MQTT service feeds it, and ticked every
  :data:`edge_agent.core.DECIDE_EVERY`.
- ``fixed-cycle``: Subscribe & Save; one pack of each item every ``cycle_days`` (or, when
  absent, every time the household truly uses a pack), whatever happens.
- ``threshold``: Dash-style; when the sensed level falls below a quarter of capacity,
  order enough whole packs to fill capacity, and nothing more until it arrives.
- ``oracle``: knows future demand and each order's real lead time; orders each item at
  the last moment its delivery still arrives before the stock would run out, sized to
  fill capacity without anything expiring.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from edge_agent import protocol
from edge_agent.catalog import ItemSpec
from edge_agent.core import DECIDE_EVERY, Brain, OrderDecision, ReadingRejected
from edge_agent.errors import ProtocolError
from simulators.firmware import Message
from simulators.household import Consumption, HandPurchase
from simulators.stock import EPSILON, ItemStock

POLICIES = ("agent", "fixed-cycle", "threshold", "oracle")
#: The threshold policy orders below this share of capacity.
THRESHOLD_SHARE = 0.25
#: How often the agent's run-out forecasts are sampled for the forecast metrics.
PREDICT_EVERY = timedelta(hours=1)
#: The oracle times a delivery to land this long before the use that would find no stock.
ORACLE_GUARD = timedelta(minutes=1)
#: It orders one item at most this many times at one instant, for a later order to come
#: sooner (its own shipped households take up to 13).
ORACLE_TRIES = 25


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order a policy places: whole packs per item, all delivered together."""

    lines: tuple[tuple[str, int], ...]
    explanation: str = ""
    #: The agent's idempotency key, to tell its brain when the order arrives.
    request_id: str | None = None

    @property
    def items(self) -> tuple[str, ...]:
        return tuple(item for item, _ in self.lines)


@dataclass(frozen=True, slots=True)
class Prediction:
    """A run-out forecast for the stock on hand of ``item``, made at ``made_at``."""

    made_at: datetime
    item: str
    p10: datetime
    p50: datetime
    p90: datetime


class Policy(Protocol):
    name: str

    def observe(self, message: Message) -> None:
        """A device published ``message`` (at ``message.at``)."""

    def decide(self, now: datetime) -> list[OrderRequest]:
        """The orders to place at ``now``."""

    def next_wakeup(self) -> datetime | None:
        """When the policy next wants :meth:`decide` called even if nothing is published."""

    def delivered(self, order: OrderRequest, now: datetime) -> None:
        """``order`` arrived at ``now`` (the shop's status callback)."""


class LeadTimes:
    """Each item's sequence of real lead times, drawn uniformly and seeded.

    The k-th order line of an item gets the k-th draw, so the oracle can know the lead
    time of its next order before placing it. Lines ordered together arrive together,
    as late as the slowest line.
    """

    def __init__(self, items: Sequence[ItemSpec], *, seed: int) -> None:
        self._items = {item.id: item for item in items}
        self._rngs = {item.id: random.Random(f"{seed}/{item.id}/lead") for item in items}
        self._drawn: dict[str, list[timedelta]] = {item.id: [] for item in items}
        self._used = dict.fromkeys(self._items, 0)

    def peek(self, item_id: str) -> timedelta:
        """The lead time the item's next order line will have."""
        drawn = self._drawn[item_id]
        if len(drawn) <= self._used[item_id]:
            lead = self._items[item_id].lead_time_hours
            drawn.append(timedelta(hours=self._rngs[item_id].uniform(lead.min, lead.max)))
        return drawn[self._used[item_id]]

    def take(self, order: OrderRequest) -> timedelta:
        """The lead time of ``order``: the longest of its lines' draws."""
        leads = []
        for item_id in order.items:
            leads.append(self.peek(item_id))
            self._used[item_id] += 1
        return max(leads)


def reading_of(
    message: Message, household: str
) -> tuple[protocol.ReadingTopic, protocol.Reading] | None:
    """The topic (device and item) and reading a message carries for ``household``;
    ``None`` if it is not one.

    :class:`~edge_agent.errors.ProtocolError` if it is malformed.
    """
    topic = protocol.parse_topic(message.topic)
    if not isinstance(topic, protocol.ReadingTopic) or topic.household != household:
        return None
    return topic, protocol.decode_reading(message.payload)


# --- the agent ----------------------------------------------------------------------


class AgentPolicy:
    """The real agent: :class:`~edge_agent.core.Brain`, driven as the MQTT service does."""

    name = "agent"

    def __init__(self, household: str, items: Sequence[ItemSpec], *, start: datetime) -> None:
        self.household = household
        self.brain = Brain(household, items)
        self.predictions: list[Prediction] = []
        self.dropped = 0
        self._decided: list[OrderRequest] = []
        self._next_tick = start + DECIDE_EVERY
        self._next_prediction = start + PREDICT_EVERY

    def observe(self, message: Message) -> None:
        try:
            sensed = reading_of(message, self.household)
            if sensed is None:
                return
            topic, reading = sensed
            decisions = self.brain.on_reading(topic.item, reading, message.at, device=topic.device)
        except (ProtocolError, ReadingRejected):
            self.dropped += 1  # the service logs and drops these too
            return
        self._decided += [_request(decision) for decision in decisions]

    def decide(self, now: datetime) -> list[OrderRequest]:
        while self._next_prediction <= now:
            self._predict(self._next_prediction)
            self._next_prediction += PREDICT_EVERY
        while self._next_tick <= now:
            self._decided += [_request(decision) for decision in self.brain.decide(self._next_tick)]
            self._next_tick += DECIDE_EVERY
        decided, self._decided = self._decided, []
        return decided

    def next_wakeup(self) -> datetime | None:
        return min(self._next_tick, self._next_prediction)

    def delivered(self, order: OrderRequest, now: datetime) -> None:
        if order.request_id is not None:
            self.brain.update_status(order.request_id, "delivered", now)

    def _predict(self, now: datetime) -> None:
        self.predictions += [
            Prediction(now, run_out.item, run_out.p10, run_out.p50, run_out.p90)
            for run_out in self.brain.forecasts(now).values()
        ]


def _request(decision: OrderDecision) -> OrderRequest:
    return OrderRequest(
        lines=tuple((line.item, line.packs) for line in decision.lines),
        explanation=decision.explanation,
        request_id=decision.request_id,
    )


# --- the baselines ------------------------------------------------------------------


class FixedCyclePolicy:
    """One pack of each item every cycle, from the start, whatever the household used."""

    name = "fixed-cycle"

    def __init__(self, cycles: Mapping[str, timedelta], *, start: datetime) -> None:
        self._cycles = dict(cycles)
        self._next = dict.fromkeys(cycles, start)

    def observe(self, message: Message) -> None:
        pass  # a subscription does not look

    def decide(self, now: datetime) -> list[OrderRequest]:
        by_instant: dict[datetime, list[str]] = {}
        for item_id, due in self._next.items():
            if due <= now:
                by_instant.setdefault(due, []).append(item_id)
                self._next[item_id] = due + self._cycles[item_id]
        return [
            OrderRequest(
                lines=tuple((item_id, 1) for item_id in items),
                explanation="the subscription's cycle came round",
            )
            for _, items in sorted(by_instant.items())
        ]

    def next_wakeup(self) -> datetime | None:
        return min(self._next.values(), default=None)

    def delivered(self, order: OrderRequest, now: datetime) -> None:
        pass


class ThresholdPolicy:
    """Below a quarter of capacity, as sensed, order whole packs up to capacity, once."""

    name = "threshold"

    def __init__(self, household: str, items: Sequence[ItemSpec]) -> None:
        self.household = household
        self._items = {item.id: item for item in items}
        self._waiting: set[str] = set()
        self._decided: list[OrderRequest] = []

    def observe(self, message: Message) -> None:
        try:
            sensed = reading_of(message, self.household)
        except ProtocolError:
            return
        if sensed is None:
            return
        topic, reading = sensed
        item = self._items.get(topic.item)
        if item is None or item.id in self._waiting:
            return
        level = item.level_from_reading(reading.value)
        if level < THRESHOLD_SHARE * item.capacity:
            packs = max(1, math.floor((item.capacity - level) / item.pack_size))
            self._waiting.add(item.id)
            self._decided.append(
                OrderRequest(
                    lines=((item.id, packs),),
                    explanation=f"sensed {level:g} {item.unit}, under a quarter of capacity",
                )
            )

    def decide(self, now: datetime) -> list[OrderRequest]:
        decided, self._decided = self._decided, []
        return decided

    def next_wakeup(self) -> datetime | None:
        return None

    def delivered(self, order: OrderRequest, now: datetime) -> None:
        self._waiting -= set(order.items)


# --- the oracle ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class _Arrival:
    order: OrderRequest
    at: datetime
    quantity: float


class OraclePolicy:
    """Perfect foresight: future uses, hand shopping, expiries and each real lead time.

    For each item it projects the true stock forward and finds the first use that would
    find too little; it orders so that the delivery lands just before that use, with as
    many whole packs as fit within capacity and will be used before they expire (at
    least one). It knows each order's lead time before placing it, and orders again at
    once while the one placed comes too late: a later order may come sooner, up to
    :data:`ORACLE_TRIES` orders. Uses past helping are not planned for, or it would
    order for them forever: one before even the shortest lead time (the stock at the
    start, or what came, runs out too soon), and one that a full store would not serve
    either, as far as it does (a use bigger than the store).
    """

    name = "oracle"

    def __init__(
        self,
        items: Sequence[ItemSpec],
        *,
        stock: Callable[[str], ItemStock],
        uses: Sequence[Consumption],
        purchases: Sequence[HandPurchase],
        lead_times: LeadTimes,
        end: datetime,
    ) -> None:
        self._items = {item.id: item for item in items}
        self._stock = stock
        self._lead_times = lead_times
        self._end = end
        self._uses: dict[str, list[Consumption]] = {item.id: [] for item in items}
        for use in uses:
            self._uses[use.item].append(use)
        self._use_times = {item: [use.ts for use in self._uses[item]] for item in self._uses}
        self._purchases: dict[str, list[HandPurchase]] = {item.id: [] for item in items}
        for purchase in purchases:
            if purchase.item in self._purchases:
                self._purchases[purchase.item].append(purchase)
        self._arrivals: dict[str, list[_Arrival]] = {item.id: [] for item in items}
        self._plan: dict[str, tuple[datetime, int] | None] = {}
        self._planned_at: datetime | None = None
        #: Orders of each item placed at one instant: (when, how many).
        self._tries: dict[str, tuple[datetime, int]] = {}

    def observe(self, message: Message) -> None:
        pass  # it needs no sensor

    def decide(self, now: datetime) -> list[OrderRequest]:
        if self._planned_at is None:
            for item_id in self._items:
                self._replan(item_id, now)
            self._planned_at = now
        orders = []
        for item_id, plan in list(self._plan.items()):
            if plan is None or plan[0] > now:
                continue
            packs = plan[1]
            order = OrderRequest(lines=((item_id, packs),), explanation="the oracle's last moment")
            lead = self._lead_times.peek(item_id)
            item = self._items[item_id]
            self._arrivals[item_id].append(_Arrival(order, now + lead, packs * item.pack_size))
            orders.append(order)
            when, tries = self._tries.get(item_id, (now, 0))
            tries = tries + 1 if when == now else 1
            self._tries[item_id] = (now, tries)
            if tries < ORACLE_TRIES:
                self._replan(item_id, now)
            else:
                self._plan[item_id] = None  # past helping; planned again when one comes
        return orders

    def next_wakeup(self) -> datetime | None:
        if self._planned_at is None:
            return None
        return min((plan[0] for plan in self._plan.values() if plan is not None), default=None)

    def delivered(self, order: OrderRequest, now: datetime) -> None:
        for item_id in order.items:
            self._arrivals[item_id] = [a for a in self._arrivals[item_id] if a.order is not order]
            self._replan(item_id, now)

    def _replan(self, item_id: str, now: datetime) -> None:
        """Plan the item's next order: when to place it and how many packs."""
        item = self._items[item_id]
        soonest = now + timedelta(hours=item.lead_time_hours.min)
        run_out = self._project(item, now).run_out(self._end, helped_from=soonest)
        if run_out is None:
            self._plan[item_id] = None
            return
        arrive = run_out - ORACLE_GUARD
        lead = self._lead_times.peek(item_id)
        place = max(arrive - lead, now)
        arrive = max(arrive, now + lead)
        self._plan[item_id] = (place, self._packs(item, now, arrive))

    def _project(self, item: ItemSpec, now: datetime) -> _Projection:
        stock = self._stock(item.id)
        return _Projection(
            item,
            lots=[(lot.quantity, lot.expires) for lot in stock.lots],
            now=now,
            uses=self._uses[item.id],
            first_use=bisect.bisect_right(self._use_times[item.id], now),
            arrivals=self._arrivals[item.id],
            purchases=[p for p in self._purchases[item.id] if p.ts > now],
        )

    def _packs(self, item: ItemSpec, now: datetime, arrive: datetime) -> int:
        projection = self._project(item, now)
        level = projection.level_at(arrive)
        room = item.capacity - level
        if item.shelf_life_days is not None:
            expires = arrive + timedelta(days=item.shelf_life_days)
            usable = projection.demand_between(arrive, expires) - level
            room = min(room, usable)
        return max(1, math.floor((room + EPSILON) / item.pack_size))


class _Projection:
    """The true stock of one item, lived forward on known uses, arrivals and shopping."""

    def __init__(
        self,
        item: ItemSpec,
        *,
        lots: list[tuple[float, datetime | None]],
        now: datetime,
        uses: Sequence[Consumption],
        first_use: int,
        arrivals: Sequence[_Arrival],
        purchases: Sequence[HandPurchase],
    ) -> None:
        self.item = item
        self.now = now
        self.lots = lots
        self.uses = uses
        self.first_use = first_use
        incoming = [(a.at, a.quantity) for a in arrivals]
        incoming += [(p.ts, p.packs * item.pack_size) for p in purchases]
        self.incoming = sorted(incoming)

    def _events(self, until: datetime) -> list[tuple[datetime, int, float]]:
        """Arrivals (kind 0) before uses (kind 1) at the same instant, up to ``until``."""
        events = [(at, 0, quantity) for at, quantity in self.incoming if at <= until]
        for use in self.uses[self.first_use :]:
            if use.ts > until:
                break
            events.append((use.ts, 1, use.quantity))
        events.sort(key=lambda event: (event[0], event[1]))
        return events

    def _live(
        self, until: datetime, *, run_out_from: datetime | None = None
    ) -> tuple[float, datetime | None]:
        """The stock left at ``until``; and, given ``run_out_from``, the first use from
        then on that finds less than a full store would serve of it (the projection
        stops there)."""
        lots = sorted(self.lots, key=lambda lot: (lot[1] is None, lot[1]))
        shelf = self.item.shelf_life_days
        for at, kind, quantity in self._events(until):
            lots = [lot for lot in lots if lot[1] is None or lot[1] > at]
            if kind == 0:
                level = sum(q for q, _ in lots)
                kept = min(quantity, max(self.item.capacity - level, 0.0))
                if kept > 0:
                    lots.append((kept, None if shelf is None else at + timedelta(days=shelf)))
                    lots.sort(key=lambda lot: (lot[1] is None, lot[1]))
                continue
            wanted = quantity
            while wanted > EPSILON and lots:
                q, expires = lots[0]
                if q <= wanted + EPSILON:
                    wanted -= q
                    lots.pop(0)
                else:
                    lots[0] = (q - wanted, expires)
                    wanted = 0.0
            if run_out_from is not None and at >= run_out_from:
                beyond = max(quantity - self.item.capacity, 0.0)  # what no store could serve
                if wanted > beyond + EPSILON:
                    return 0.0, at
        lots = [lot for lot in lots if lot[1] is None or lot[1] > until]
        return sum(q for q, _ in lots), None

    def run_out(self, end: datetime, *, helped_from: datetime) -> datetime | None:
        """The first use from ``helped_from`` to ``end`` that the stock (and what is on
        its way) serves less of than a full store would."""
        return self._live(end, run_out_from=helped_from)[1]

    def level_at(self, when: datetime) -> float:
        """The projected level just before ``when``'s own uses."""
        return self._live(when - timedelta(microseconds=1))[0]

    def demand_between(self, start: datetime, end: datetime) -> float:
        return sum(use.quantity for use in self.uses[self.first_use :] if start <= use.ts < end)
