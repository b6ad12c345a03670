"""Run-out forecasts: when will an item run out, with P10, P50 and P90.

Sans-I/O. This first model measures the mean consumption rate over the last week
(blended with the user's stated ``cycle_days`` while history is short) and the spread
of daily use, and treats demand over ``t`` days as normal with mean ``r·t`` and
variance ``s²·t``. A later issue replaces the rate model with a fitted one.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from edge_agent.catalog import ItemSpec
from edge_agent.estimator import LevelEstimator

RATE_WINDOW = timedelta(days=7)
#: Below this much history the measured rate is blended with the stated cycle.
TRUST_HISTORY = timedelta(days=3)
#: With no stated cycle, this much history is needed before any forecast.
MIN_HISTORY = timedelta(hours=12)
Z90 = 1.2815515655446004  # the standard normal's 90th percentile


@dataclass(frozen=True, slots=True)
class RunOut:
    """A run-out forecast for one item, made at ``made_at``."""

    item: str
    made_at: datetime
    level: float
    rate_per_day: float
    p10: datetime
    p50: datetime
    p90: datetime
    basis: str

    def days_left(self, quantile: float = 0.5) -> float:
        when = {0.1: self.p10, 0.5: self.p50, 0.9: self.p90}[quantile]
        return (when - self.made_at).total_seconds() / 86400


def stated_rate(item: ItemSpec) -> float | None:
    """Daily use implied by the cycle the user stated, if any."""
    return item.pack_size / item.cycle_days if item.cycle_days else None


def _daily_spread(estimator: LevelEstimator, now: datetime, days: int) -> float | None:
    totals = [
        estimator.consumed_between(now - timedelta(days=d + 1), now - timedelta(days=d))
        for d in range(days)
    ]
    return statistics.stdev(totals) if len(totals) >= 3 else None


def days_until(level: float, rate: float, spread: float, z: float) -> float:
    """Days ``t`` at which ``rate·t + z·spread·√t`` reaches ``level``."""
    if level <= 0:
        return 0.0
    root = (-z * spread + math.sqrt((z * spread) ** 2 + 4 * rate * level)) / (2 * rate)
    return root * root


def forecast(
    estimator: LevelEstimator, now: datetime, *, extra_stock: float = 0.0
) -> RunOut | None:
    """Forecast the item's run-out as of ``now``; ``None`` if there is no basis yet.

    ``extra_stock`` counts stock known to be on its way as if it were on the shelf.
    """
    estimate = estimator.estimate
    if estimate is None or estimator.started is None:
        return None
    item = estimator.item
    history = min(now - estimator.started, RATE_WINDOW)
    prior = stated_rate(item)
    measured = (
        estimator.consumed_between(now - history, now) / (history.total_seconds() / 86400)
        if history > timedelta(0)
        else 0.0
    )
    if history >= TRUST_HISTORY or (prior is None and history >= MIN_HISTORY):
        rate, basis = measured, f"{history.total_seconds() / 86400:.0f}-day average"
    elif prior is not None:
        weight = history / TRUST_HISTORY
        rate = weight * measured + (1 - weight) * prior
        basis = f"stated {item.cycle_days:g}-day cycle, {weight:.0%} measured"
    else:
        rate, basis = 0.0, "too little history"
    level = estimate.level + extra_stock
    if level <= 0:
        # Already out: the run-out is now, whatever the rate.
        return RunOut(item.id, now, estimate.level, rate, now, now, now, basis)
    if rate <= 0:
        return None
    spread = _daily_spread(estimator, now, int(history / timedelta(days=1)))
    if spread is None:
        spread = 0.5 * rate
    spread = max(spread, 0.15 * rate)
    return RunOut(
        item=item.id,
        made_at=now,
        level=estimate.level,
        rate_per_day=rate,
        p10=now + timedelta(days=days_until(level, rate, spread, Z90)),
        p50=now + timedelta(days=level / rate),
        p90=now + timedelta(days=days_until(level, rate, spread, -Z90)),
        basis=basis,
    )
