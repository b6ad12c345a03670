"""The reorder policy: whether to order an item now, how many packs, and why.

Sans-I/O. An item is **due** when, with demand as busy as the service level allows for
(``service_level``: 0.90 means one future in ten is busier), it would run out before
an order placed now could arrive at the slowest lead time, plus a margin. Items that
keep (no shelf life) are held to a higher one (``keeps_service_level``): stock that
comes early costs them nothing but room; and those whose store holds less than two
packs (a water filter) to a higher one still (``one_pack_service_level``). Stock
already on its way counts, so an item with an order coming is only ordered again when
that order will not be enough.

The **quantity** fills the store up to capacity on the earliest arrival, with demand
as quiet as the service level allows for, so that what arrives fits. Perishables are
further limited to what a quiet household uses before the new packs expire (the older
stock goes first). Items that would be due within ``consolidate`` join an order that
is going anyway, if a whole pack of them fits and the order, which comes as late as its
slowest line, still arrives before they run out; items that keep (no shelf life) join
whenever a whole pack fits. A joining perishable's packs need only be used before they
expire in ``joining_use_level`` of futures: left out, it would come on its own within
days, at least one pack whatever its shelf life. In a store of two packs or fewer a
pack fits on the earliest arrival for only a day or two of each cycle, so an item due
soon joins with one pack more than surely fits when, arriving any time in the
lead-time range with demand spread as forecast, it would run over by no more than
``joining_spill`` of a pack on average. A perishable due soon that a quiet household
would not finish before a pack expires still joins with one pack when it would be due
on its own within a tenth of its shelf life (the slack its sizing keeps): left out, it
would come all the same, as the smallest order, in a delivery of its own. A due item
always gets at least one pack, unless stock is on its way and not a pack fits beside
it, or the likeliest future leaves no room for one when it could first come
(:func:`overflows_likely`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import NormalDist

from edge_agent.catalog import ItemSpec
from edge_agent.forecast import RunOut

#: Arrival times, evenly through the lead-time range, a spill is averaged over.
SPILL_STEPS = 5


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """Tunables of the reorder policy."""

    #: The chance that an order's delivery comes before a perishable item runs out.
    service_level: float = 0.90
    #: The same for an item that keeps (no shelf life).
    keeps_service_level: float = 0.97
    #: The same for an item that keeps in a store of less than two packs (a water
    #: filter's one cartridge): it cannot be topped up on the way, so each order is its
    #: only chance not to run out, and what is left of the old pack is all an early one
    #: costs.
    one_pack_service_level: float = 0.99
    #: A perishable joining an order going anyway (or ordered beside stock on its way)
    #: brings only packs used before they expire in this share of futures.
    joining_use_level: float = 0.75
    #: Extra time beyond the longest lead time: decisions are made between readings.
    margin: timedelta = timedelta(hours=6)
    #: Items that would be due within this long join an order that is going anyway.
    consolidate: timedelta = timedelta(days=3)
    #: An item due that soon, in a store of two packs or fewer, joins with one pack
    #: more than fits when the stock would run over by no more than this share of a
    #: pack on average: in such a store a pack fits for a day or two of each cycle.
    joining_spill: float = 0.15
    #: Plan to finish a pack within this share of its shelf life.
    shelf_life_use: float = 0.9
    #: How long an item waits after the bridge or shop refused its order.
    after_refusal: timedelta = timedelta(days=1)

    def __post_init__(self) -> None:
        for name in (
            "service_level",
            "keeps_service_level",
            "one_pack_service_level",
            "joining_use_level",
        ):
            level = getattr(self, name)
            if not 0.5 <= level < 1:
                raise ValueError(f"{name} must be in [0.5, 1), got {level}")

    def z(self, item: ItemSpec) -> float:
        """The item's service level as standard deviations of demand."""
        if item.shelf_life_days is not None:
            return NormalDist().inv_cdf(self.service_level)
        if item.capacity < 2 * item.pack_size:
            return NormalDist().inv_cdf(self.one_pack_service_level)
        return NormalDist().inv_cdf(self.keeps_service_level)

    @property
    def joining_z(self) -> float:
        """The joining use level as standard deviations of demand."""
        return NormalDist().inv_cdf(self.joining_use_level)


@dataclass(frozen=True, slots=True)
class LinePlan:
    """One item's share of an order, with the sentence that explains it."""

    item: str
    packs: int
    explanation: str


def arrives_in_time(
    item: ItemSpec, run_out: RunOut, lead_hours: float, now: datetime, settings: PolicySettings
) -> bool:
    """Whether an order placed now that takes up to ``lead_hours`` (plus the margin)
    comes before the item's early run-out, or before its stock goes past its date."""
    return run_out.gone_by(settings.z(item)) > now + timedelta(hours=lead_hours) + settings.margin


def is_due(item: ItemSpec, run_out: RunOut, now: datetime, settings: PolicySettings) -> bool:
    """Whether the item must be ordered now, for its own longest lead time."""
    return due_at(item, run_out, settings) <= now


def due_at(item: ItemSpec, run_out: RunOut, settings: PolicySettings) -> datetime:
    """When the item comes due: an order then, at its longest lead time plus the
    margin, would come just as it runs out early or its stock goes past its date."""
    lead = timedelta(hours=item.lead_time_hours.max) + settings.margin
    return run_out.gone_by(settings.z(item)) - lead


def packs_that_fit(
    item: ItemSpec,
    run_out: RunOut,
    now: datetime,
    settings: PolicySettings,
    *,
    optional: bool,
    room: float = 0.0,
    due_soon: bool = False,
) -> tuple[int, str]:
    """Whole packs that fit on the earliest arrival, ``room`` left free, and are used
    before they expire; for an ``optional`` line (joining an order, or beside one on its
    way), used before they expire at ``joining_use_level``. A line joining as ``due_soon``
    takes one pack more in a store of two packs or fewer when it would seldom run
    over, and one pack a quiet household would not finish in time when the item is due
    on its own within its shelf life's slack anyway."""
    arrive = now + timedelta(hours=item.lead_time_hours.min)
    z = settings.z(item)
    left = run_out.level_at(arrive, z)
    fits = item.capacity - room - left
    wanted, limit = fits, "to fill up to capacity"
    if room > 0:
        limit = f"to fill up to capacity less {room:.0f} {item.unit} for what is bought by hand"
    usable = math.inf
    if item.shelf_life_days is not None:
        if optional:
            z = settings.joining_z
            left = run_out.level_at(arrive, z)
        usable_for = timedelta(days=item.shelf_life_days * settings.shelf_life_use)
        usable = run_out.model.demand(arrive, arrive + usable_for, -z) - left
        if usable < wanted:
            wanted = usable
            limit = f"to use within its {item.shelf_life_days:g}-day shelf life"
    packs = max(math.floor(wanted / item.pack_size + 1e-9), 0)
    # One pack more, if it fits the store and is used in time, in a store of two packs
    # or fewer with no room kept free.
    small = item.capacity <= 2 * item.pack_size and room == 0
    if due_soon and small and (packs + 1) * item.pack_size <= min(item.capacity, usable):
        over = expected_spill(item, run_out, now, packs + 1)
        if over <= settings.joining_spill * item.pack_size:
            return packs + 1, (
                f"to fill up to capacity on most arrivals ({over:.3g} {item.unit} would not"
                " fit, on average)"
            )
    # Not a pack used in time, but due on its own within the shelf life's slack: it would
    # come all the same, one pack whatever its shelf life, that little later.
    if due_soon and packs == 0 and usable < item.pack_size:
        own = max(due_at(item, run_out, settings) - now, timedelta(0))
        slack = timedelta(days=item.shelf_life_days or 0) * (1 - settings.shelf_life_use)
        one_fits = fits >= item.pack_size or (
            small
            and expected_spill(item, run_out, now, 1) <= settings.joining_spill * item.pack_size
        )
        if own <= slack and one_fits:
            hours = own / timedelta(hours=1)
            return 1, f"as the smallest order, due on its own within {hours:.0f} h anyway"
    return packs, limit


def expected_spill(item: ItemSpec, run_out: RunOut, now: datetime, packs: int) -> float:
    """What ``packs`` ordered now would run over the store by, on average: arrivals
    spread evenly through the lead-time range, demand as the forecast spreads it."""
    lead = item.lead_time_hours
    normal = NormalDist()
    total = 0.0
    for step in range(SPILL_STEPS):
        hours = lead.min + (lead.max - lead.min) * (step + 0.5) / SPILL_STEPS
        when = now + timedelta(hours=hours)
        mean = run_out.level_at(when)
        sd = max(run_out.level_at(when, 1.0) - mean, 1e-9 * item.pack_size)
        over = mean + packs * item.pack_size - item.capacity
        total += over * normal.cdf(over / sd) + sd * normal.pdf(over / sd)
    return total / SPILL_STEPS


def overflows_likely(item: ItemSpec, run_out: RunOut, now: datetime) -> bool:
    """Whether a pack, in a store of two packs or more, would more likely than not run
    it over on its earliest arrival.

    An item comes due with that much stock only where its level or its use is barely
    known (a gauge below its scale, reckoned for weeks; a few days of use that swung
    from 400 g to 1.5 kg): a busy future would empty the store within the lead time
    while the likeliest one leaves it full. Ordered, the pack runs over; it waits until
    the median says a pack fits. A perishable whose stock goes past its date before the
    median run-out is ordered all the same (the date empties the store), and so is a
    pack that fills its whole store (a filter cartridge, which replaces what is left).
    """
    if item.capacity < 2 * item.pack_size:
        return False
    arrive = now + timedelta(hours=item.lead_time_hours.min)
    dated = run_out.best_before
    if dated is not None and dated < run_out.p50:
        return False
    return run_out.level_at(arrive) + item.pack_size > item.capacity


def plan_line(
    item: ItemSpec,
    run_out: RunOut,
    settings: PolicySettings,
    now: datetime,
    *,
    reason: str,
    required: bool,
    room: float = 0.0,
    due_soon: bool = False,
) -> LinePlan | None:
    """Size one line; ``None`` when not a pack fits and the item is not ``required``."""
    packs, limit = packs_that_fit(
        item, run_out, now, settings, optional=not required, room=room, due_soon=due_soon
    )
    if packs == 0:
        if not required or overflows_likely(item, run_out, now):
            return None
        packs, limit = 1, "as the smallest order"
    run_out_at = run_out.p50.strftime("%a %d %b %H:%M")
    explanation = (
        f"{item.id} has {run_out.level:.0f} {item.unit} left at"
        f" {run_out.rate_per_day:.3g} {item.unit}/day ({run_out.basis}), runs out"
        f" ~{run_out_at} UTC, {reason} (lead time {item.lead_time_hours.min:g}-"
        f"{item.lead_time_hours.max:g} h): {packs} x {item.pack_size:g} {item.unit} {limit}"
    )
    return LinePlan(item=item.id, packs=packs, explanation=explanation)
