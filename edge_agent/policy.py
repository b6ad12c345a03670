"""The reorder policy: whether to order an item now, how many packs, and why.

Sans-I/O. An item is due when its pessimistic (P10) run-out, counting what is already
on its way, falls within the longest lead time plus a margin. The quantity fills the
store up to capacity on arrival, but never more than the household will use before
the new packs expire. Items due within a few more days join the same delivery.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from edge_agent.catalog import ItemSpec
from edge_agent.forecast import RunOut


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """Tunables of the reorder policy."""

    #: Extra time beyond the longest lead time: decisions are made between readings.
    margin: timedelta = timedelta(hours=12)
    #: Items that would be due within this long join an order that is going anyway.
    consolidate: timedelta = timedelta(days=3)
    #: Plan to finish a pack within this share of its shelf life.
    shelf_life_use: float = 0.9
    #: How long an item waits after the bridge or shop refused its order.
    after_refusal: timedelta = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class LinePlan:
    """One item's share of an order, with the sentence that explains it."""

    item: str
    packs: int
    explanation: str


def due_by(item: ItemSpec, now: datetime, settings: PolicySettings) -> datetime:
    """An item whose P10 run-out comes before this instant must be ordered now."""
    return now + timedelta(hours=item.lead_time_hours.max) + settings.margin


def is_due(item: ItemSpec, run_out: RunOut, now: datetime, settings: PolicySettings) -> bool:
    return run_out.p10 <= due_by(item, now, settings)


def plan_line(
    item: ItemSpec,
    run_out: RunOut,
    on_the_way: float,
    settings: PolicySettings,
    *,
    reason: str,
) -> LinePlan:
    """Size one line: fill to capacity on arrival, within what is used before expiry."""
    rate = run_out.rate_per_day
    mean_lead_days = (item.lead_time_hours.min + item.lead_time_hours.max) / 2 / 24
    at_arrival = max(0.0, run_out.level + on_the_way - rate * mean_lead_days)
    room = item.capacity - at_arrival
    wanted, limit = room, "to fill up to capacity"
    if item.shelf_life_days is not None:
        usable = rate * item.shelf_life_days * settings.shelf_life_use - at_arrival
        if usable < wanted:
            wanted, limit = usable, f"to use within its {item.shelf_life_days:g}-day shelf life"
    packs = max(1, math.floor(wanted / item.pack_size))
    if packs * item.pack_size > wanted:
        limit = "as the smallest order"
    run_out_at = run_out.p50.strftime("%a %d %b %H:%M")
    explanation = (
        f"{item.id} has {run_out.level:.0f} {item.unit} left at {rate:.0f} {item.unit}/day"
        f" ({run_out.basis}), runs out ~{run_out_at} UTC, {reason} (lead time"
        f" {item.lead_time_hours.min:g}-{item.lead_time_hours.max:g} h): {packs} x"
        f" {item.pack_size:g} {item.unit} {limit}"
    )
    return LinePlan(item=item.id, packs=packs, explanation=explanation)
