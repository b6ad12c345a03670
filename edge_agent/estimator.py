"""Level estimation: from noisy sensor readings to a believable stock level.

Sans-I/O. A single reading can be a hand on the shelf, so the level is the median of
the last few readings; a rise well above the noise is a refill, a fall is consumption.
Time gaps (a device offline) simply have no readings: nothing is consumed during a
gap until a later reading shows that it was.
"""

from __future__ import annotations

import statistics
from bisect import bisect_left, bisect_right
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from edge_agent.catalog import ItemSpec

#: Readings the median runs over. Three rejects any single transient spike.
MEDIAN_WINDOW = 3
#: How much consumption history is kept in memory for the rate estimate.
HISTORY = timedelta(days=28)


@dataclass(frozen=True, slots=True)
class Refill:
    """Stock that appeared: a delivery, or groceries bought by hand."""

    ts: datetime
    quantity: float


@dataclass(frozen=True, slots=True)
class LevelEstimate:
    """What the estimator believes about one item at the time of its last reading."""

    level: float
    ts: datetime


class LevelEstimator:
    """Turns one item's readings into a level, consumption history and refills."""

    def __init__(self, item: ItemSpec) -> None:
        self.item = item
        # A refill must rise by more than sensor noise and hand-on-shelf wobble.
        self.refill_threshold = max(0.25 * item.pack_size, 0.02 * item.capacity)
        self._raw: deque[float] = deque(maxlen=MEDIAN_WINDOW)
        self._last_ts: datetime | None = None
        self._level: float | None = None
        # Cumulative consumption, as (time, total consumed since start) points.
        self._consumed_ts: list[datetime] = []
        self._consumed_total: list[float] = []
        self.refills: deque[Refill] = deque(maxlen=64)
        #: When the first reading came: how much history the rate can rest on.
        self.started: datetime | None = None

    @property
    def estimate(self) -> LevelEstimate | None:
        if self._level is None or self._last_ts is None:
            return None
        return LevelEstimate(level=self._level, ts=self._last_ts)

    def observe(self, ts: datetime, value: float) -> Refill | None:
        """Take one reading; return the refill it revealed, if any.

        Readings not newer than the last one (duplicates, late arrivals) are ignored.
        """
        if self._last_ts is not None and ts <= self._last_ts:
            return None
        self._last_ts = ts
        if self.started is None:
            self.started = ts
        self._raw.append(min(max(value, 0.0), self.item.capacity * 1.5))
        level = statistics.median(self._raw)
        previous, self._level = self._level, level
        total = self._consumed_total[-1] if self._consumed_total else 0.0
        refill = None
        if previous is not None:
            change = level - previous
            if change > self.refill_threshold:
                refill = Refill(ts, change)
                self.refills.append(refill)
                # The median lags a refill; restart it at the new level.
                self._raw.clear()
                self._raw.append(level)
            elif change < 0:
                total -= change
        self._record(ts, total)
        return refill

    def consumed_between(self, start: datetime, end: datetime) -> float:
        """Consumption recorded in ``[start, end]``, interpolating at the edges."""
        return self._cumulative_at(end) - self._cumulative_at(start)

    def _cumulative_at(self, when: datetime) -> float:
        if not self._consumed_ts:
            return 0.0
        i = bisect_right(self._consumed_ts, when)
        return self._consumed_total[max(i - 1, 0)]

    def _record(self, ts: datetime, total: float) -> None:
        self._consumed_ts.append(ts)
        self._consumed_total.append(total)
        horizon = ts - HISTORY
        if self._consumed_ts[0] < horizon:
            cut = bisect_left(self._consumed_ts, horizon)
            del self._consumed_ts[:cut]
            del self._consumed_total[:cut]
