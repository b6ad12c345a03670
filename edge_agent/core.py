"""The agent's brain: readings and time in, order decisions out.

Sans-I/O: no asyncio, MQTT, HTTP or SQLite here. The MQTT service, the demo and
``restock evaluate`` all drive this same class.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from edge_agent.budget import (
    DECLINED,
    UNSPENT,
    BudgetSettings,
    MonthlySpending,
    order_cents,
    review,
)
from edge_agent.catalog import ItemSpec, index_items
from edge_agent.creep import Installation
from edge_agent.errors import ApprovalError, RestockError
from edge_agent.estimator import (
    FRESH_READING,
    HISTORY,
    LevelEstimator,
    Refill,
    Unseen,
    hour_of,
)
from edge_agent.forecast import (
    HOUSEHOLD_STAY_Z,
    HOUSEHOLD_Z,
    REFIT_EVERY,
    Forecaster,
    RunOut,
    household_shift,
)
from edge_agent.health import OFFLINE_AFTER, SensorHealth, health_note, sensor_health
from edge_agent.policy import (
    LinePlan,
    PolicySettings,
    arrives_in_time,
    is_due,
    packs_that_fit,
    plan_line,
)
from edge_agent.protocol import FINAL_STATUSES, ItemOutlook, Reading, RunOutTimes
from edge_agent.sequence import Resequencer

#: An item quiet for this many of its usual gaps between uses, and this many of its long
#: ones (the 90th percentile), may be empty.
SILENCE_GAPS = 5
LONG_GAPS = 1.5
#: ... once its uses have been seen over this long (a week's habits, weekends included),
#: and if its level is within this many sd of the sensor's doubt of empty.
USE_RECORD = timedelta(days=7)
EMPTY_DOUBTS = 3.0
#: ... and unless its readings fell meanwhile by this share of the use expected then.
SMALL_USES = 0.5
#: ... and unless the same hours of the week, in the weeks before, saw less than this
#: share of the use the silence needed stands for (a weekend is no silence for coffee
#: made on weekdays only).
SILENT_USE = 0.5
#: How many weeks back the same hours are looked at.
QUIET_WEEKS = 3
#: The household is home when some item was used within this long.
HOME_ACTIVITY = timedelta(hours=12)
#: No item used for this long: the household was away (a trip), not using less.
AWAY = timedelta(days=2)
#: After that, this many uses within HOME_ACTIVITY say it is back.
RETURN_USES = 3
#: Readings stamped further ahead of the agent's clock than this are refused.
FUTURE_TOLERANCE = timedelta(minutes=5)
#: A refill at least this share of an ordered line counts as that line's delivery.
ARRIVAL_SHARE = 0.5
#: How much sooner than its shortest lead time a delivery may show (clocks differ).
EARLY_ARRIVAL = timedelta(minutes=30)
#: How late past its longest lead time an order may be before it stops counting.
OVERDUE = timedelta(days=2)
#: A delivered order keeps counting as on its way until its refill shows in the readings
#: (the median filter takes a few readings), or for this long at most.
DELIVERY_GRACE = timedelta(hours=6)
#: Orders seen arriving in full before the shop said so are kept this many at most, in
#: case the shop then says another order is the one that came.
SETTLED_MEMORY = 16
#: Room is left for what the household buys by hand: the largest refill no order
#: explains within this long, at most this share of the capacity (and less where the
#: store must hold a busy lead time's use and a pack besides).
HAND_MEMORY = timedelta(days=28)
HAND_ROOM_SHARE = 0.5
#: Besides after every reading, the agent decides on this tick, so time alone can order.
DECIDE_EVERY = timedelta(minutes=15)
#: At start, no order until every item has been heard from, or for this long at most: a
#: heartbeat an hour is typical (docs/protocol.md), and devices start one by one.
STARTUP_WAIT = timedelta(minutes=75)


class ReadingRejected(RestockError):
    """A reading is well-formed but cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class OrderDecision:
    """An order the brain wants placed. ``request_id`` is its stable idempotency key."""

    request_id: str
    created_at: datetime
    lines: tuple[LinePlan, ...]
    #: Held by the household's budget (edge_agent/budget.py): not sent until approved.
    awaiting_approval: bool = False
    #: What the budget did to the order, if anything; ends the explanation.
    note: str = ""

    @property
    def explanation(self) -> str:
        reasons = [line.explanation for line in self.lines] + ([self.note] if self.note else [])
        return "Ordering because " + "; ".join(reasons) + "."


@dataclass(slots=True)
class _OpenOrder:
    decision: OrderDecision
    #: Items whose refill was seen, and when the refill was read.
    arrived: dict[str, datetime] = field(default_factory=dict)
    delivered_at: datetime | None = None  # when the shop said it was delivered
    #: What a sound sensor showed of each item not yet seen arriving, when the shop
    #: said the order came.
    before: dict[str, float] = field(default_factory=dict)
    approved_at: datetime | None = None  # when the household approved a held order

    def could_be_here(self, ts: datetime, items: dict[str, ItemSpec]) -> bool:
        """Whether the order could be on the shelf by ``ts``: sent, and its quickest
        delivery (as quick as its slowest line can be) past."""
        if self.decision.awaiting_approval:
            return False
        quickest = max(items[line.item].lead_time_hours.min for line in self.decision.lines)
        sent = self.approved_at or self.decision.created_at
        return ts >= sent + timedelta(hours=quickest) - EARLY_ARRIVAL

    @property
    def complete(self) -> bool:
        """Whether every line's refill was seen."""
        return self.arrived.keys() >= {line.item for line in self.decision.lines}

    def coming(self, item: ItemSpec) -> float:
        """How much of ``item`` it brings that no refill has shown yet."""
        if item.id in self.arrived:
            return 0.0
        return sum(
            line.packs * item.pack_size for line in self.decision.lines if line.item == item.id
        )

    def delivered_near(self, ts: datetime) -> bool:
        """Whether the shop said it delivered the order within :data:`DELIVERY_GRACE` of
        ``ts``: a refill then is this delivery, however short it shows."""
        return self.delivered_at is not None and abs(ts - self.delivered_at) <= DELIVERY_GRACE

    def still_expected(
        self, now: datetime, heard: datetime | None, items: dict[str, ItemSpec]
    ) -> bool:
        """Whether it may still arrive, by ``now``, an item's sensor last heard at ``heard``.

        It may if it is held, if the shop said it came (its refills may not show yet),
        not :data:`OVERDUE` past its longest lead time (its slowest line's: lines ordered
        together come together), or due only since the sensor went silent: a sensor
        that has not reported since a delivery was due cannot have shown it missing.
        """
        if self.decision.awaiting_approval or self.delivered_at is not None:
            return True
        slowest = max(items[line.item].lead_time_hours.max for line in self.decision.lines)
        due = (self.approved_at or self.decision.created_at) + timedelta(hours=slowest)
        return now < due + OVERDUE or heard is None or heard < due


class Brain:
    """Level estimation, forecasts and the reorder policy for one household."""

    def __init__(
        self,
        household: str,
        items: Iterable[ItemSpec],
        settings: PolicySettings | None = None,
        *,
        budget: BudgetSettings | None = None,
    ) -> None:
        self.household = household
        self.items = index_items(items, source=f"household {household!r}")
        self.settings = settings or PolicySettings()
        installation = Installation()  # the household's sensors, weighed together
        self.estimators = {
            item_id: LevelEstimator(spec, installation) for item_id, spec in self.items.items()
        }
        self.forecasters = {
            item_id: Forecaster(estimator) for item_id, estimator in self.estimators.items()
        }
        self._open: dict[str, _OpenOrder] = {}
        #: Orders closed as every line was seen arriving, before the shop said it came.
        self._settled: dict[str, _OpenOrder] = {}
        #: The second the last order was decided in, and how many were decided in it.
        self._stamp, self._stamped = "", 0
        self._hold_until: dict[str, datetime] = {}
        #: Refills that no order could explain: stock the household bought by hand.
        self.bought_by_hand: dict[str, deque[Refill]] = {i: deque(maxlen=16) for i in self.items}
        #: Per item, the latest order the shop said came before the readings showed it.
        self._believed: dict[str, _OpenOrder] = {}
        #: Per item, deliveries believed while its sensor was silent, not yet shown: when
        #: the first came, and how much came.
        self._silent_deliveries: dict[str, tuple[datetime, float]] = {}
        #: When the brain began deciding (readings before it are history replayed).
        self._live_since: datetime | None = None
        self.budget = budget
        self.spending = MonthlySpending()
        self._prices = {item_id: item.price for item_id, item in self.items.items()}
        #: The last use of any item, and the hours the household was away (no use at all).
        self._last_use: datetime | None = None
        self._seen_use: dict[str, datetime] = {}
        self._away_hours: set[int] = set()
        #: While the household seems away: since when, and the uses since it may be back.
        self._gone_at: datetime | None = None
        self._back: list[datetime] = []
        self._sensed_at: datetime | None = None
        #: Whether the household as a whole is busier than it was (guests).
        self._busier = False
        #: Readings waiting for one their device sent before them.
        self._sequence = Resequencer()

    # --- inputs -------------------------------------------------------------------

    def observe(self, item_id: str, reading: Reading, now: datetime) -> Refill | None:
        """Take one reading of one item; return a refill if the reading reveals one."""
        return self._take_in(self._check(item_id, reading, now), reading)

    def _take_in(self, item: ItemSpec, reading: Reading) -> Refill | None:
        """Give a checked reading to its item's estimator, and follow what it shows."""
        item_id = item.id
        level = item.level_from_reading(reading.value)
        estimator = self.estimators[item_id]
        refill = estimator.observe(reading.ts, level)
        if refill is not None:
            self._match_arrival(item_id, refill)
        if (used := estimator.last_use) is not None and used != self._seen_use.get(item_id):
            self._seen_use[item_id] = used
            self._note_use(used)
        return refill

    def _check(self, item_id: str, reading: Reading, now: datetime) -> ItemSpec:
        """The item ``reading`` is of; :class:`ReadingRejected` if it can't be taken."""
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
        return item

    def _note_use(self, ts: datetime) -> None:
        """Keep track of the household's comings and goings, from the uses of all items.

        After :data:`AWAY` with no use of anything, the household was away: the days it
        was gone say nothing about how fast it uses things, so once it is back they are
        left out of every item's model. It is back when :data:`RETURN_USES` uses come
        within :data:`HOME_ACTIVITY`; a lone fall (stock thrown away as it expires) is
        no return. While it is still away the days are not left out: the forecasts slow
        down, and stock is not delivered to an empty home.
        """
        last = self._last_use
        self._last_use = ts if last is None else max(last, ts)
        if self._gone_at is None:
            if last is None or ts - last < AWAY:
                return
            self._gone_at, self._back = last, []
        self._back = [t for t in self._back if ts - t < HOME_ACTIVITY] + [ts]
        if len(self._back) < RETURN_USES:
            return
        horizon = hour_of(ts - HISTORY)
        self._away_hours = {h for h in self._away_hours if h >= horizon}
        self._away_hours.update(range(hour_of(self._gone_at) + 1, hour_of(min(self._back))))
        self._gone_at = None
        for forecaster in self.forecasters.values():
            forecaster.leave_out(self._away_hours)

    def replay(self, readings: Iterable[tuple[str, Reading]], now: datetime) -> None:
        """Take in readings kept from before a restart, oldest first, as (item, reading).

        Every :data:`REFIT_EVERY` of their time the models are refitted as they were
        while live, so the refits whose run-outs calibrate P10 and P90 are kept again
        (else the calibration starts afresh after each restart). A reading the catalog
        no longer takes is skipped.
        """
        due: datetime | None = None
        for item_id, reading in readings:
            try:
                self.observe(item_id, reading, now)
            except ReadingRejected:
                continue  # the catalog changed since; the reading no longer applies
            if due is None:
                due = reading.ts + REFIT_EVERY
            elif reading.ts >= due:
                self.forecasts(reading.ts)
                due = reading.ts + REFIT_EVERY

    def on_reading(
        self, item_id: str, reading: Reading, now: datetime, *, device: str | None = None
    ) -> list[OrderDecision]:
        """What the agent does with each reading, on every path: take it in, then decide.

        A reading changes only its own item's forecast, so the whole household is
        reconsidered only when that item is now due; otherwise time alone can make
        another item due, and the :data:`DECIDE_EVERY` tick sees to that.

        Readings are taken in the order their device sent them (:mod:`edge_agent.sequence`):
        one that arrives before a reading its device sent earlier waits for that one,
        until the device's next reading or the next decision. ``device``: the device
        the reading came from (its topic's); by default the item's in the catalog.
        """
        self._live_since = self._live_since or now
        try:
            item = self._check(item_id, reading, now)
        except ReadingRejected:
            # Refused, it still keeps its place in the device's count, so the readings
            # after it need not wait for it; the next decision sees what they show.
            if device is not None:
                for taken_item, taken_reading in self._sequence.skip(device, reading):
                    self._take_in(self.items[taken_item], taken_reading)
            raise
        due = False
        taken = self._sequence.push(device or item.device, item_id, reading)
        for taken_item, taken_reading in taken:
            self._take_in(self.items[taken_item], taken_reading)
            due = due or self._item_due(taken_item, now)
        return self.decide(now) if due else []

    def _item_due(self, item_id: str, now: datetime) -> bool:
        outlook = self._outlook(item_id, now)
        return outlook is not None and is_due(self.items[item_id], outlook[0], now, self.settings)

    def _sense_household(self, now: datetime) -> None:
        """Whether the household as a whole uses more than it did (guests): then every
        item follows its own rise on less evidence."""
        if now == self._sensed_at:
            return
        self._sensed_at = now
        models = [m for f in self.forecasters.values() if (m := f.current_model(now)) is not None]
        # Once busier, a quieter day (the guests out) does not end it: a lower bar holds.
        bar = HOUSEHOLD_STAY_Z if self._busier else HOUSEHOLD_Z
        busier = self._busier = len(models) >= 3 and household_shift(models) > bar
        for forecaster in self.forecasters.values():
            forecaster.set_busier(busier)

    def _outlook(self, item_id: str, now: datetime) -> tuple[RunOut, float, bool] | None:
        """The forecast a decision rests on, with the stock on its way and whether the item
        is taken to be empty; ``None`` while the item is held back or has no forecast."""
        self._sense_household(now)
        if now < self._hold_until.get(item_id, now):
            return None
        coming = self.on_the_way(item_id, now)
        empty = self.probably_empty(item_id, now)
        # Stock past its date goes: fresh stock is wanted by then, while the household is
        # home and nothing is on its way (which comes fresh, however soon).
        last = self._last_use
        home = last is not None and now - last < HOME_ACTIVITY and self._gone_at is None
        dated = self.estimators[item_id].best_before(now) if home and not coming else None
        run_out = self.forecasters[item_id].forecast(
            now, extra_stock=coming, empty=empty, best_before=dated
        )
        return None if run_out is None else (run_out, coming, empty)

    def track(
        self,
        decision: OrderDecision,
        status: str = "placed",
        *,
        approved_at: datetime | None = None,
        changed_at: datetime | None = None,
    ) -> None:
        """Remember an order that is on its way (after a restart, or once decided).

        Unless held or refused, it counts against the spending of its month. After a
        restart, ``changed_at`` of a refused or declined order holds its items back.
        """
        if status not in UNSPENT and not decision.awaiting_approval:
            self.spending.add(decision.request_id, decision.created_at, self._cost(decision))
        if status in FINAL_STATUSES or status == DECLINED:
            self._open.pop(decision.request_id, None)
            if changed_at is not None and status in ("rejected", "failed", DECLINED):
                self._hold_items(decision, changed_at)
        else:
            self._open[decision.request_id] = _OpenOrder(decision, approved_at=approved_at)

    def update_status(self, request_id: str, status: str, now: datetime) -> None:
        """Apply news of an order: on its way, or final (delivered, cancelled…).

        After a refusal the items wait ``settings.after_refusal`` before being ordered
        again, so a bridge that keeps refusing is not flooded with new orders.
        """
        if status not in FINAL_STATUSES:
            return
        if status in UNSPENT:
            self.spending.forget(request_id)
        self._settled.pop(request_id, None)
        if status == "delivered" and (order := self._open.get(request_id)) is not None:
            # Until the sensors show it, the delivery still counts as on its way.
            order.delivered_at = now
            self._claim_arrivals(order, now)
            for line in order.decision.lines:
                if line.item in order.arrived:
                    continue
                if (level := self.estimators[line.item].level_read(now)) is not None:
                    order.before[line.item] = level
            return
        order = self._open.pop(request_id, None)
        if order is not None and status in ("rejected", "failed"):
            self._hold_items(order.decision, now)

    def approve(self, request_id: str, now: datetime) -> OrderDecision:
        """The household approves a held order: it is sent, and its cost counts."""
        order = self._awaiting(request_id)
        order.decision = replace(order.decision, awaiting_approval=False)
        order.approved_at = now
        self.spending.add(request_id, order.decision.created_at, self._cost(order.decision))
        return order.decision

    def decline(self, request_id: str, now: datetime) -> None:
        """The household declines a held order: its items wait as after a refusal."""
        order = self._awaiting(request_id)
        del self._open[request_id]
        self._hold_items(order.decision, now)

    def withdraw(self, request_id: str) -> None:
        """Take back an order just decided that was never kept (it could not be saved):
        as if it had not been decided, so the next decision may order its items again."""
        self._open.pop(request_id, None)
        self.spending.forget(request_id)

    def _awaiting(self, request_id: str) -> _OpenOrder:
        order = self._open.get(request_id)
        if order is None or not order.decision.awaiting_approval:
            raise ApprovalError(f"order {request_id!r} is not awaiting approval")
        return order

    def _hold_items(self, decision: OrderDecision, since: datetime) -> None:
        for line in decision.lines:
            self._hold_until[line.item] = since + self.settings.after_refusal

    # --- outputs ------------------------------------------------------------------

    def forecasts(self, now: datetime) -> dict[str, RunOut]:
        """The current run-out forecast of every item that has one."""
        self._sense_household(now)
        result = {}
        for item_id, forecaster in self.forecasters.items():
            run_out = forecaster.forecast(now)
            if run_out is not None:
                result[item_id] = run_out
        return result

    def sensor_health(self, item_id: str, now: datetime) -> SensorHealth:
        """Whether ``item_id``'s readings can be believed at ``now``."""
        return sensor_health(self.estimators[item_id], now)

    def outlook(self, item_id: str, now: datetime) -> ItemOutlook:
        """What the household is told of ``item_id``: its level, when it runs out if
        nothing more came, and whether its sensor can be believed."""
        self._sense_household(now)
        item = self.items[item_id]
        health = self.sensor_health(item_id, now)
        run_out = self.forecasters[item_id].forecast(now)
        return ItemOutlook(
            item=item_id,
            ts=now,
            unit=item.unit,
            sensor=health.state,
            since=health.since,
            # As now: a silent or stuck sensor's last level, less the use expected since.
            level=None if run_out is None else round(run_out.level_at(now), 3),
            on_the_way=self.on_the_way(item_id, now),
            rate_per_day=None if run_out is None else round(run_out.rate_per_day, 3),
            run_out=None
            if run_out is None
            else RunOutTimes(p10=run_out.p10, p50=run_out.p50, p90=run_out.p90),
            note=health_note(item, health),
        )

    def on_the_way(self, item_id: str, now: datetime) -> float:
        """Quantity of ``item_id`` ordered and not yet seen arriving.

        An order overdue by ``OVERDUE`` past its slowest line's longest lead time stops
        counting (unless the shop said it came, for its grace), so
        a delivery that went unseen cannot keep the item from being ordered forever;
        but not while the item's sensor has been silent since it was due, or a sensor
        that went offline would have the item ordered again and again.
        """
        item = self.items[item_id]
        heard = self.estimators[item_id].last_reading
        return sum(
            order.coming(item)
            for order in self._open.values()
            if order.still_expected(now, heard, self.items) and not self._grace_over(order, now)
        )

    @property
    def open_orders(self) -> list[OrderDecision]:
        return [order.decision for order in self._open.values()]

    @property
    def awaiting_approval(self) -> list[OrderDecision]:
        """Orders the budget holds until the household approves or declines them."""
        return [o.decision for o in self._open.values() if o.decision.awaiting_approval]

    def decide(self, now: datetime) -> list[OrderDecision]:
        """Return the orders to place now: none, usually, or one per lead-time group.

        Lines ordered together arrive together, as late as the slowest line. So a due
        item that is quick to deliver never waits for a slow one: due items are grouped
        by their longest lead time. An item due soon joins a group whose lead time is no
        shorter than its own only if, at that lead time, it still arrives in time. An
        item that keeps (no shelf life) joins, however far from due, when a whole pack
        of it fits: a delivery that comes anyway brings it, and it needs none later.
        """
        self._live_since = self._live_since or now
        for item_id, reading in self._sequence.flush():
            self._take_in(self.items[item_id], reading)  # no longer waiting for one sent before
        if self._starting(now):
            return []
        for request_id, order in list(self._open.items()):
            if order.delivered_at is not None and self._grace_over(order, now):
                self._believe_delivery(order, order.delivered_at, now)
                del self._open[request_id]
        due: list[tuple[ItemSpec, LinePlan]] = []
        soon: list[tuple[ItemSpec, RunOut, str, bool]] = []
        days = self.settings.consolidate.days
        for item_id, item in self.items.items():
            heard = self.estimators[item_id].last_reading
            if heard is not None and now - heard > OFFLINE_AFTER:
                continue
            outlook = self._outlook(item_id, now)
            if outlook is None:
                continue
            run_out, coming, empty = outlook
            on_way = f"the {coming:g} {item.unit} on the way"
            if is_due(item, run_out, now, self.settings):
                reason = "due now to arrive in time"
                dated = run_out.best_before
                if dated is not None and dated < run_out.at(self.settings.z(item)):
                    reason = (
                        f"what is left goes past its date ~{dated:%a %d %b %H:%M} UTC,"
                        " so fresh stock is due now to arrive in time"
                    )
                if empty and (last_use := self.estimators[item_id].last_use) is not None:
                    quiet = now - last_use
                    reason = (
                        f"no use seen for {quiet / timedelta(days=1):.1f} days while the"
                        " household is home, so it is probably empty whatever the sensor reads"
                    )
                if coming:
                    late = f"{on_way} will not last"
                    reason = f"{reason}, and {late}" if empty else late
                # With stock on its way, an order only goes if a pack fits beside it: more
                # would not arrive sooner, and would not fit when it came.
                line = self._plan_line(item, run_out, now, reason=reason, required=not coming)
                if line is not None and not coming:
                    line = self._top_up(item, line, now, empty=empty)
                if line is not None:
                    due.append((item, line))
            elif is_due(item, run_out, now + self.settings.consolidate, self.settings):
                reason = f"joins this delivery as due within {days} days"
                if coming:
                    reason += f" even with {on_way}"
                soon.append((item, run_out, reason, True))
            elif item.shelf_life_days is None:
                # It keeps: a pack that fits now saves a delivery of its own later.
                reason = "joins this delivery as a whole pack fits"
                if coming:
                    reason += f" beside {on_way}"
                soon.append((item, run_out, reason, False))
        groups: dict[float, list[LinePlan]] = {}
        for item, line in due:
            groups.setdefault(item.lead_time_hours.max, []).append(line)
        for lead in sorted(groups):
            joining = [entry for entry in soon if entry[0].lead_time_hours.max <= lead]
            soon = [entry for entry in soon if entry[0].lead_time_hours.max > lead]
            for item, run_out, reason, due_soon in joining:
                if not arrives_in_time(item, run_out, lead, now, self.settings):
                    continue  # it would wait for the slowest line and run out first
                line = self._plan_line(
                    item, run_out, now, reason=reason, required=False, due_soon=due_soon
                )
                if line is not None:
                    groups[lead].append(line)
        decisions = [
            OrderDecision(request_id=self._request_id(now), created_at=now, lines=tuple(lines))
            for _, lines in sorted(groups.items())
        ]
        decisions = self._apply_budget(decisions, now, due={item.id for item, _ in due})
        for decision in decisions:
            self.track(decision)
        return decisions

    def _top_up(self, item: ItemSpec, line: LinePlan, now: datetime, *, empty: bool) -> LinePlan:
        """Add to a due line the packs a decision before it comes would order beside it.

        A due line is sized to be used before it expires in nine futures in ten, and may
        not last until the next order could come: with it on its way, the item would be
        due again within half its shortest lead time, and that decision would order
        more beside it, as a line beside stock on its way is sized (used before expiry
        in ``joining_use_level`` of futures), in a delivery of its own. Those packs come
        in this order instead.
        """
        ordered = line.packs * item.pack_size
        run_out = self.forecasters[item.id].forecast(now, extra_stock=ordered, empty=empty)
        # Due again within half the shortest lead time, the next order (before this one
        # has come) would come on its own. A whole lead time over-orders where it is long.
        lead = item.lead_time_hours
        if run_out is None or arrives_in_time(
            item, run_out, lead.max + lead.min / 2, now, self.settings
        ):
            return line
        more, _ = packs_that_fit(
            item, run_out, now, self.settings, optional=True, room=self._room(item, run_out, now)
        )
        if more == 0:
            return line
        return LinePlan(
            item=line.item,
            packs=line.packs + more,
            explanation=f"{line.explanation}, and {more} x {item.pack_size:g} {item.unit}"
            " more, as that would not last until another order could come",
        )

    def _request_id(self, now: datetime) -> str:
        """A new order's idempotency key: the household and the second, numbered from the
        second order decided within that second on (``…T070000``, ``…T070000-2``)."""
        stamp = f"{self.household}-{now.strftime('%Y%m%dT%H%M%S')}"
        if stamp != self._stamp:
            self._stamp, self._stamped = stamp, 0
        while True:
            self._stamped += 1
            request_id = stamp if self._stamped == 1 else f"{stamp}-{self._stamped}"
            if request_id not in self._open:  # one tracked again after a restart
                return request_id

    def _settle(self, order: _OpenOrder) -> None:
        """Keep ``order``, seen arriving in full before the shop said it came, a while."""
        self._settled[order.decision.request_id] = order
        if len(self._settled) > SETTLED_MEMORY:
            del self._settled[next(iter(self._settled))]

    def _claim_arrivals(self, order: _OpenOrder, now: datetime) -> None:
        """The shop says ``order`` came: a refill of one of its items that was matched,
        before the news, to another order of the item not said to have come was this
        order's. That other order is open again, to be matched when it comes.

        Lead times overlap, so a later order of an item can come first: without this
        its refill closes the earlier order, and when that one comes it looks bought by
        hand while the later one waits for a refill that was already seen.
        """
        for line in order.decision.lines:
            if line.item in order.arrived:
                continue
            for other in [*self._open.values(), *self._settled.values()]:
                seen = other.arrived.get(line.item)
                if (
                    other is order
                    or other.delivered_at is not None
                    or seen is None
                    or now - seen > DELIVERY_GRACE
                    or not order.could_be_here(seen, self.items)
                ):
                    continue
                order.arrived[line.item] = other.arrived.pop(line.item)
                # The other order is open again, whether it still was or had settled.
                self._settled.pop(other.decision.request_id, None)
                self._open[other.decision.request_id] = other
                break
        if order.complete:
            del self._open[order.decision.request_id]

    def _grace_over(self, order: _OpenOrder, now: datetime) -> bool:
        """Whether the shop said ``order`` came :data:`DELIVERY_GRACE` ago, the time its
        refills have to show before the brain takes the shop's word for them.

        A sensor silent when it came may be heard again only just before: a rise it read
        then waits for the next reading, to tell it from a spike. That reading shows the
        refill (or the spike), so the grace waits for it, up to a grace more; believed on
        the level from before, a pot that came onto it was taken for all there was, and
        another was ordered at once (``faulty_sensors --seed 2`` over a year).
        """
        if order.delivered_at is None or now - order.delivered_at < DELIVERY_GRACE:
            return False
        if now - order.delivered_at >= 2 * DELIVERY_GRACE:
            return True
        return not any(
            line.item not in order.arrived
            and self.estimators[line.item].rise_waiting(order.delivered_at)
            for line in order.decision.lines
        )

    def _believe_delivery(self, order: _OpenOrder, delivered_at: datetime, now: datetime) -> None:
        """The shop delivered ``order`` and its grace is over: what the readings never
        showed is on the shelf all the same, less the use seen since (for a sensor below
        its scale that has shown nothing since, on top of what was surely there before;
        for one silent or stuck since before it came, or a counter unchanged since, on
        top of the level projected from its last reading, so that two deliveries in one
        silence both count). If the readings were sound when it came, and they and it
        make more than the store holds, the store ran over: it is full, and that shows
        where a drifting sensor's zero is (:meth:`LevelEstimator.ran_over`).

        A sensor whose zero drifted down shows a delivery short, or not at all once it
        reads empty while stocked, or too little to be a refill into a store fuller than
        it reads; without this the agent would order again and again.
        """
        for line in order.decision.lines:
            if line.item in order.arrived:
                continue
            self._believed[line.item] = order  # its refill, read late, is no shopping
            item = self.items[line.item]
            estimator = self.estimators[line.item]
            # What the readings say is there now (a stuck sensor's, used since it stuck).
            run_out = self.forecasters[line.item].forecast(now)
            heard = estimator.last_reading
            estimate = estimator.estimate
            # A sensor stuck since before it came shows none of it either, however often
            # it repeats itself ("milk has 1000 g left" with 2.2 kg on the shelf); nor
            # does a counter whose count has not changed since before it: a counter
            # repeats itself whenever nothing is used, but the box would have shown
            # ("eggs has 10 egg left" with 17 in the tray).
            same_since = estimator.repeating_since
            repeated = (
                same_since is not None and heard is not None and same_since < delivered_at <= heard
            )
            stuck_through = repeated or (
                estimator.stuck and estimate is not None and estimate.ts < delivered_at
            )
            if (
                run_out is not None
                and heard is not None
                and (heard < delivered_at or stuck_through)
            ):
                # Silent (or stuck) since it came: the level is projected from the last
                # reading, and what came adds to it (two deliveries in one silence make
                # two packs).
                # The belief is dated at that reading, but a blind (stuck) sensor's anew.
                projected = run_out.level_at(now)
                since = 0.0 if estimator.blind else run_out.level - projected
                if repeated and same_since is not None:
                    # Nor, stuck, the use since the count last changed: the forecast's.
                    days = (run_out.read_at - same_since) / timedelta(days=1)
                    projected = max(projected - run_out.rate_per_day * days, 0.0)
                level = min(projected + line.packs * item.pack_size, item.capacity)
                estimator.believe(now, level + since, silent=True, repeated=repeated)
                self._note_silent_delivery(line.item, delivered_at, line.packs * item.pack_size)
                continue
            if estimator.below_scale and not estimator.back_on_scale_since(delivered_at):
                # Readings showed nothing since it came (one that lifted them off the
                # bottom is in the level they showed, however soon a use took them below
                # again): what the forecast says was surely there (at the service level:
                # a slow forecast must not believe milk that is gone), and what came.
                z = -self.settings.z(item)
                before = 0.0 if run_out is None else run_out.level_at(now, z)
                estimator.believe(now, min(before + line.packs * item.pack_size, item.capacity))
                continue
            used = max(estimator.consumed_between(delivered_at, now), 0.0)
            delivered = line.packs * item.pack_size
            seen = order.before.get(line.item)
            if seen is not None and estimator.ran_over(
                delivered_at - FRESH_READING, now, seen + delivered, used
            ):
                continue
            at_least = min(delivered, item.capacity) - used
            if run_out is not None and run_out.level_at(now) < at_least:
                estimator.believe(now, at_least)

    def _note_silent_delivery(self, item_id: str, delivered_at: datetime, quantity: float) -> None:
        """A delivery came while the item's sensor was silent: its next refill shows it
        (with any other that came in the same silence), less the use meanwhile."""
        earlier = self._silent_deliveries.get(item_id)
        heard = self.estimators[item_id].last_reading
        if earlier is not None and (heard is None or earlier[0] > heard):
            delivered_at, quantity = min(earlier[0], delivered_at), earlier[1] + quantity
        self._silent_deliveries[item_id] = (delivered_at, quantity)

    def _unseen(self, item_id: str, refill: Refill, delivered_at: datetime | None) -> Unseen | None:
        """The use the forecast puts on the silence ``refill`` ended, if a delivery came
        in it (at ``delivered_at``); None if the refill ended no silence, or none came."""
        since = self.estimators[item_id].unseen_since(refill)
        model = self.forecasters[item_id].model
        if since is None or delivered_at is None or model is None:
            return None
        if not since <= delivered_at <= refill.ts:
            return None
        days = (refill.ts - since) / timedelta(days=1)
        after = (refill.ts - delivered_at) / timedelta(days=1)
        return Unseen(
            used=model.rate_per_day * days,
            sd=model.spread(days),
            since_delivery=model.rate_per_day * after,
        )

    def _starting(self, now: datetime) -> bool:
        """Whether the agent has only just started and some item is still unheard of.

        The devices report one by one: ordering on the first reading that shows an item
        due would order it alone, and the next item due in another delivery minutes
        later. A device that stays silent holds the others back :data:`STARTUP_WAIT` at
        most. Readings replayed after a restart count as heard.
        """
        assert self._live_since is not None
        if now - self._live_since >= STARTUP_WAIT:
            return False
        return any(estimator.last_reading is None for estimator in self.estimators.values())

    def _apply_budget(
        self, decisions: list[OrderDecision], now: datetime, *, due: Collection[str]
    ) -> list[OrderDecision]:
        """Place, trim or hold new orders by the household's budget, if it has one."""
        if self.budget is None or not decisions:
            return decisions
        verdicts = review(
            [decision.lines for decision in decisions],
            prices=self._prices,
            spent_cents=self.spending.spent_cents(now),
            settings=self.budget,
            due=due,
        )
        return [
            replace(d, lines=v.lines, awaiting_approval=v.held, note=v.note)
            for d, v in zip(decisions, verdicts, strict=True)
        ]

    def _cost(self, decision: OrderDecision) -> int:
        return order_cents(decision.lines, self._prices)

    def probably_empty(self, item_id: str, now: datetime) -> bool:
        """Whether an item that has gone quiet is more likely empty than unused.

        A sensor whose zero has drifted reads a level when nothing is left; all it shows
        is that use stopped. When an item regularly used shows no use for
        :data:`SILENCE_GAPS` times its usual gap between uses, :data:`LONG_GAPS` times
        its long ones and a day at least, while other items are in use, its shelf is
        taken to be empty; but not before its uses have been seen for a week. Left
        alone: stock that arrived after the last use (seen, or credited from a
        confirmed delivery), a level further from empty than :data:`EMPTY_DOUBTS`
        times the sensor's doubt (its noise and drifted zero) or than half full, and
        readings that fell since by :data:`SMALL_USES` of the use expected (uses too
        small to be seen one by one), and a silence the same hours of the week kept in
        the weeks before too (:data:`SILENT_USE`: coffee made on weekdays only, over a
        weekend). A counter has no drifting zero, so its count is believed.
        """
        estimator = self.estimators[item_id]
        last, estimate = estimator.last_use, estimator.estimate
        # The cheap checks first: this runs for every reading.
        if last is None or estimate is None:
            return False
        # A level further from empty than the sensor's doubt is stock, not a drifted zero.
        doubt = EMPTY_DOUBTS * estimate.sd
        if estimate.level > min(0.5 * estimator.item.capacity, doubt):
            return False
        if estimator.refills and estimator.refills[-1].ts > last:
            return False
        if estimator.credited_at is not None and estimator.credited_at > last:
            return False
        gaps = estimator.use_gaps()
        if gaps is None or now - estimator.uses[0].ts < USE_RECORD:
            return False
        usual, long = gaps
        silence = max(SILENCE_GAPS * usual, LONG_GAPS * long, timedelta(days=1))
        if now - last < silence:
            return False
        # Readings that fell since as far as the household's use says are that use, in
        # steps too small to be seen one by one (a cheap cell's noise hides each cup).
        # An empty store's readings stay where its zero is; a zero creeping down would
        # have to be as quick as the household.
        model = self.forecasters[item_id].current_model(now)
        if model is not None:
            enough = SILENT_USE * model.rate_per_day * (silence / timedelta(days=1))
            if self._quiet_weeks_before(item_id, last, now, enough):
                return False
            fell = estimator.consumed_between(last, now)
            expected = model.rate_per_day * (now - last) / timedelta(days=1)
            if fell > estimator.use_floor and fell >= SMALL_USES * expected:
                return False
        others = [e.last_use for i, e in self.estimators.items() if i != item_id]
        return not others or any(
            other is not None and now - other < HOME_ACTIVITY for other in others
        )

    def _quiet_weeks_before(
        self, item_id: str, last: datetime, now: datetime, enough: float
    ) -> bool:
        """Whether the hours from ``last`` to ``now`` went as quiet in the weeks before:
        their use, the same hours of the week, came to less than ``enough`` on average.
        Weeks whose hours the item stood empty or the household was away in, or before
        its readings began, say nothing and are left out; with none left, no."""
        estimator = self.estimators[item_id]
        if estimator.started is None:
            return False
        span = range(hour_of(last) + 1, hour_of(now))
        unseen = estimator.empty_hours | self._away_hours
        week = 7 * 24
        used = []
        for back in range(week, (QUIET_WEEKS + 1) * week, week):
            hours = [hour - back for hour in span]
            if not hours or hours[0] <= hour_of(estimator.started):
                break
            if any(hour in unseen for hour in hours):
                continue
            used.append(sum(max(estimator.hourly.get(hour, 0.0), 0.0) for hour in hours))
        return bool(used) and sum(used) / len(used) < enough

    def _plan_line(
        self,
        item: ItemSpec,
        run_out: RunOut,
        now: datetime,
        *,
        reason: str,
        required: bool,
        due_soon: bool = False,
    ) -> LinePlan | None:
        """Size a line, leaving room for what the household has lately bought by hand."""
        room = self._room(item, run_out, now)
        return plan_line(
            item,
            run_out,
            self.settings,
            now,
            reason=reason,
            required=required,
            room=room,
            due_soon=due_soon,
        )

    def _room(self, item: ItemSpec, run_out: RunOut, now: datetime) -> float:
        """The room an order leaves for what the household has lately bought by hand:
        never so much that the rest of the store can't hold a pack and a busy lead time's
        use, or orders of a pack at a time would run it out."""
        recent = [r.quantity for r in self.bought_by_hand[item.id] if now - r.ts < HAND_MEMORY]
        room = min(max(recent, default=0.0), HAND_ROOM_SHARE * item.capacity)
        if room == 0:
            return 0.0
        lead = timedelta(hours=item.lead_time_hours.max)
        busy = run_out.model.demand(now, now + lead, self.settings.z(item))
        return min(room, max(item.capacity - item.pack_size - busy, 0.0))

    def _bought_by_hand(self, item: ItemSpec, refill: Refill) -> bool:
        """Whether ``refill``, which no order claimed, is groceries bought by hand: seen
        arriving on a sound sensor while the brain was deciding (the readings replayed
        after a restart show refills whose orders it no longer holds; a stuck or silent
        sensor shows a delivery late), at least half a pack, not about when the shop said
        a delivery the readings had not shown came (read only after it was believed), and
        before any order of the item on its way could be here."""
        live = self._live_since is not None and refill.ts >= self._live_since
        if not live or not self.estimators[item.id].saw_arrive(refill):
            return False
        if refill.quantity < ARRIVAL_SHARE * item.pack_size:
            return False
        believed = self._believed.get(item.id)
        if believed is not None and believed.delivered_near(refill.ts):
            return False
        return not any(
            order.coming(item) and order.could_be_here(refill.ts, self.items)
            for order in self._open.values()
        )

    def _match_arrival(self, item_id: str, refill: Refill) -> None:
        """Match a refill to the open order it delivers, one the shop said came first,
        or to deliveries believed while the sensor was silent; with none, it was bought
        by hand."""
        item = self.items[item_id]
        silent = self._silent_deliveries.get(item_id)
        unseen = None if silent is None else self._unseen(item_id, refill, silent[0])
        if silent is not None and unseen is not None:
            # A delivery believed while the sensor was silent, shown now: an order still
            # open came too only if the refill shows more by what it takes to match one.
            beyond = refill.quantity - silent[1]
            if beyond >= ARRIVAL_SHARE * item.pack_size and self._order_arrived(item, refill):
                return
            del self._silent_deliveries[item_id]
            self.estimators[item_id].delivered(refill, silent[1], confirmed=True, unseen=unseen)
            return
        if not self._order_arrived(item, refill) and self._bought_by_hand(item, refill):
            self.bought_by_hand[item_id].append(refill)

    def _order_arrived(self, item: ItemSpec, refill: Refill) -> bool:
        """Whether ``refill`` is an open order arriving (then it counts as come)."""
        orders = sorted(self._open.values(), key=lambda order: not order.delivered_near(refill.ts))
        for order in orders:
            # A refill before the order could come is groceries bought by hand.
            if not order.could_be_here(refill.ts, self.items):
                continue
            ordered = order.coming(item)
            # A delivery the shop confirmed may show short: the store ran over.
            confirmed = order.delivered_near(refill.ts)
            if ordered and (refill.quantity >= ARRIVAL_SHARE * ordered or confirmed):
                order.arrived[item.id] = refill.ts
                # Or it came while the sensor was silent, which the refill ended.
                unseen = self._unseen(item.id, refill, order.delivered_at)
                self.estimators[item.id].delivered(
                    refill, ordered, confirmed=confirmed or unseen is not None, unseen=unseen
                )
                if order.complete:
                    del self._open[order.decision.request_id]
                    if order.delivered_at is None:
                        self._settle(order)
                return True
        return False
