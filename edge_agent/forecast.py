"""Run-out forecasts: when will an item run out, with P10, P50 and P90.

Sans-I/O. Each item's consumption model (:class:`DemandModel`) is fitted on the hourly
consumption the estimator kept (28 days at most), and refitted every
:data:`REFIT_EVERY`:

- **Rate.** Two recency-weighted means of the hourly use: a slow one (half-life
  :data:`SLOW_HALF_LIFE`) and a fast one (:data:`FAST_HALF_LIFE`). When the fast one
  has moved beyond what chance explains, the household's habits have shifted (a new
  baby, a diet, guests) and the forecast follows the fast one; one item's own rise
  only if more than one of its last days shows it (:func:`_rise_on_more_than_one_day`:
  a brunch that empties the fridge is one busy day). A fall is also tested
  by rank (:func:`_quiet_run`): days that vary widely hide a diet from a test of the
  mean for weeks, but not the last few days all being quieter than the weeks before.
  Hours when the item was empty are left out: their demand was not seen. When the
  household as a whole is busier (guests: every item's shift pooled, by the brain),
  each item follows its last days on much less evidence of its own.
- **Prior.** While history is short, the stated ``cycle_days`` (a pack per cycle) weighs
  as much as :data:`PRIOR_DAYS` days of history, shared between the days of the week:
  a day of the week not yet seen goes by the stated rate (:func:`_prior_weight`).
  With none stated, forecasts wait for :data:`MIN_HISTORY`, and until a whole day is
  seen the use so far stands for the day's.
- **Pattern.** A ridge regression (scikit-learn) of the hourly use on the hour of the day
  and the day of the week, with the same recency weights, shapes the rate into daily
  and weekly patterns. Ridge shrinks the pattern to flat while evidence is thin.
- **Uncertainty.** The demand over ``t`` days is taken as normal, with mean the
  model's cumulative use and variance ``v·t + (s·t)² + n²``: ``v`` is the spread of
  single days around the model, ``s`` the doubt about the daily rate itself (too little
  history, a prior that may be wrong, habits that may shift) and ``n`` the level's
  noise. ``v`` comes from each day's use against the day before's, the largest tenth
  of those changes left out (a lasting shift, a day of guests). The run-out quantiles
  are where demand at the matching quantile meets the level; for items counted in
  whole units, where it comes within half a unit of it, as the last egg goes at once.
- **Calibration.** Each refit is kept, and once its run-out has come (the use read
  since reached the level it started from) it is scored in the model's standard
  deviations. P10 and P90 are then set as far out as four in five of the item's own
  scored run-outs needed (:attr:`Forecaster.calibration`): a model too sure of
  itself is widened, one too doubtful narrowed. Orders keep the model's own spread.

A forecast starts from the time of the last reading, not from now: during a dropout
the stock is assumed to go on being used at the model's rate.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from statistics import NormalDist
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import Ridge
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

from edge_agent.catalog import ItemSpec, SensorKind
from edge_agent.estimator import HISTORY, LevelEstimator, daily_drift, hour_of, hour_start

#: How often an item's model is refitted.
REFIT_EVERY = timedelta(hours=6)
SLOW_HALF_LIFE = 7.0  # days
FAST_HALF_LIFE = 2.0  # days
#: The fast rate is believed when it is this many standard errors from the slow one.
SHIFT_Z = 2.5
#: One item's rise is followed alone only if two of its last this many days show it.
RISE_DAYS = 3
#: The household is busier (guests) when its items' shifts pooled
#: (:func:`household_shift`) pass this z.
HOUSEHOLD_Z = 3.5
#: ... and stays busier while they pass this one: a quieter day of a visit is not its end.
HOUSEHOLD_STAY_Z = 2.0
#: Habits fell when at least this many last days were quieter than the days before
#: them (at least QUIET_BEFORE of those), by a rank test's z under QUIET_Z.
QUIET_DAYS = 3
QUIET_BEFORE = 7
QUIET_Z = -3.3
#: After such a fall the rate is never taken below this share of the slow rate.
QUIET_FLOOR = 0.05
#: A stated cycle weighs as much as this many days of (recency-weighted) history.
PRIOR_DAYS = 1.0
#: How far off a stated cycle may be, as a share of its rate (one standard deviation).
PRIOR_DOUBT = 0.5
#: How far the true rate may move over a forecast's horizon, as a share (one sd).
SHIFT_DOUBT = 0.15
#: With no stated cycle, this much history is needed before any forecast.
MIN_HISTORY = timedelta(hours=12)
#: The model's curve runs this many hours ahead; beyond, it continues at the mean rate.
HORIZON_HOURS = 60 * 24
#: The pattern's ridge penalty, in hours of evidence.
RIDGE_ALPHA = 3.0
#: The pattern never forecasts less than this share of the mean rate in any hour.
PATTERN_FLOOR = 0.05
Z90 = 1.2815515655446004  # the standard normal's 90th percentile
#: A refit's run-out is scored when it comes this many hours after it: a lead time
#: or so ahead, where the forecasts orders are placed on look.
SCORED_HOURS = (24, 72)
#: How many scores the calibration's prior (the model's own spread) weighs as.
CALIBRATION_PRIOR = 2
#: The calibration stays within these bounds. It narrows less than it widens: the
#: scores are on the level the sensor reads, and a zero that crept unseen makes the
#: run-outs look nearer P50 than they were.
CALIBRATION_RANGE = (0.8, 3.0)
_HISTORY_HOURS = int(HISTORY / timedelta(hours=1))
#: The spread of days leaves out the largest day-to-day differences beyond this share.
TRIMMED_DAYS = 0.9
_NORMAL = NormalDist()
#: Spans of days: one, or an array of them.
_Days = TypeVar("_Days", float, NDArray[np.float64])
_HOURS_AHEAD = np.arange(HORIZON_HOURS + 1, dtype=float)
#: A small fit is 20 times slower spread over BLAS threads than on one (measured).
_THREADS = ThreadpoolController()


def stated_rate(item: ItemSpec) -> float | None:
    """Daily use implied by the cycle the user stated, if any."""
    return item.pack_size / item.cycle_days if item.cycle_days else None


def _weekday(hours: NDArray[np.int64]) -> NDArray[np.int64]:
    """Each hour's day of the week, Monday 0 (the epoch began on a Thursday)."""
    return (hours // 24 + 3) % 7


def _features(hours: NDArray[np.int64]) -> NDArray[np.float64]:
    """One-hot hour of the day and day of the week."""
    x = np.zeros((len(hours), 31))
    x[np.arange(len(hours)), hours % 24] = 1.0
    x[np.arange(len(hours)), 24 + _weekday(hours)] = 1.0
    return x


@dataclass(frozen=True, slots=True, eq=False)
class DemandModel:
    """One item's fitted consumption: expected use per hour ahead, and its spread."""

    item: str
    fitted_at: datetime
    #: The hour index the curve starts at.
    start_hour: int
    #: Cumulative expected use from ``start_hour``, at each whole hour ahead.
    cumulative: NDArray[np.float64] = field(repr=False)
    rate_per_day: float
    #: The variance of one day's use around the model.
    daily_variance: float
    #: The rate's own uncertainty: one standard deviation, per day.
    rate_sd: float
    basis: str
    #: Whether the item is counted in whole units (eggs, tablets), not weighed.
    whole_units: bool = False
    #: How far the fast rate is from the slow one, in standard errors (+: use went up).
    shift_z: float = 0.0

    def _cumulative_at(self, when: datetime) -> float:
        x = (when - hour_start(self.start_hour)).total_seconds() / 3600
        if x <= HORIZON_HOURS:
            return float(np.interp(x, _HOURS_AHEAD, self.cumulative))
        return float(self.cumulative[-1]) + (x - HORIZON_HOURS) * self.rate_per_day / 24

    def expected(self, start: datetime, end: datetime) -> float:
        """The expected use in ``[start, end)``."""
        return max(self._cumulative_at(end) - self._cumulative_at(start), 0.0)

    def variance(self, days: _Days, noise: float = 0.0) -> _Days:
        """The variance of the use over ``days`` (one span, or an array of them)."""
        return self.daily_variance * days + (self.rate_sd * days) ** 2 + noise**2

    def spread(self, days: float, noise: float = 0.0) -> float:
        """The standard deviation of the use over ``days``."""
        return math.sqrt(self.variance(max(days, 0.0), noise))

    def demand(self, start: datetime, end: datetime, z: float = 0.0) -> float:
        """The use in ``[start, end)`` at ``z`` standard deviations (never negative)."""
        mean = self.expected(start, end)
        days = (end - start).total_seconds() / 86400
        return max(mean + z * self.spread(days), 0.0)

    def run_out(self, start: datetime, level: float, z: float, noise: float = 0.0) -> datetime:
        """When ``level`` at ``start`` is used up, with demand at ``z`` standard deviations.

        ``z`` > 0 is a busy future (an early run-out), ``z`` < 0 a quiet one. The search
        runs on the model's hourly grid, from the mean run-out towards ``start`` for an
        early quantile and away from it for a late one.
        """
        if level <= 0:
            return start
        if self.whole_units:
            # Demand comes in whole units, the model's in fractions: the last unit goes
            # once the model's demand passes half a unit short of the count.
            level -= 0.5
        x0 = (start - hour_start(self.start_hour)).total_seconds() / 3600
        if x0 >= HORIZON_HOURS:
            return start + timedelta(days=_days_until(level, self, z, noise))
        c0 = float(np.interp(x0, _HOURS_AHEAD, self.cumulative))
        first = math.floor(x0) + 1
        mean_crossing = int(np.searchsorted(self.cumulative, c0 + level))
        if z > 0:
            low, high = first, min(mean_crossing, HORIZON_HOURS) + 1
        else:
            # From the hour before the mean crossing: use there is still short of the
            # level, so the crossing is interpolated within its own hour.
            low = max(min(mean_crossing, HORIZON_HOURS) - 1, first)
            high = HORIZON_HOURS + 1
        xs = np.concatenate(([x0], _HOURS_AHEAD[low:high]))
        mean = np.concatenate(([0.0], self.cumulative[low:high] - c0))
        days = (xs - x0) / 24
        spread = np.sqrt(self.variance(days, noise))
        used = mean + z * spread
        crossed = np.flatnonzero(used >= level)
        if len(crossed):
            i = int(crossed[0])
            if i == 0:
                return start
            before, after = used[i - 1], used[i]
            fraction = (level - before) / (after - before) if after > before else 1.0
            hours = xs[i - 1] + fraction * (xs[i] - xs[i - 1]) - x0
            return start + timedelta(hours=float(hours))
        # Beyond the curve: continue at the mean rate, the spread growing as √t.
        return start + timedelta(days=_days_until(level, self, z, noise))


def _days_until(level: float, model: DemandModel, z: float, noise: float) -> float:
    """Days ``t`` with ``r·t + z·spread(t) = level``, by bisection (it rises in t)."""
    rate = model.rate_per_day
    low, high = 0.0, 3650.0
    for _ in range(60):
        middle = (low + high) / 2
        mean = rate * middle
        if mean + z * model.spread(middle, noise) >= level:
            high = middle
        else:
            low = middle
    return high


def fit(
    estimator: LevelEstimator,
    now: datetime,
    *,
    absent: AbstractSet[int] = frozenset(),
    busier: bool = False,
) -> DemandModel | None:
    """Fit the item's consumption model on its history up to ``now``; ``None`` with no basis.

    ``absent`` are hours (:func:`hour_of`) the household was away: like the hours the
    item was empty, they say nothing about its use, and are left out.
    """
    item = estimator.item
    if estimator.started is None:
        return None
    prior = stated_rate(item)
    now_hour = hour_of(now)
    first = max(hour_of(estimator.started) + 1, now_hour - _HISTORY_HOURS)
    # Hours after the last reading that showed life are unknown, not unused.
    estimate = estimator.estimate
    known = min(now_hour, hour_of(estimate.ts)) if estimate is not None else now_hour
    hours = np.arange(first, known, dtype=np.int64)
    seen = len(hours) >= MIN_HISTORY / timedelta(hours=1)
    if not seen and prior is None:
        return None
    use = np.array([estimator.hourly.get(int(h), 0.0) for h in hours])
    unseen = estimator.empty_hours | absent if absent else estimator.empty_hours
    observed = np.array([int(h) not in unseen for h in hours], dtype=float)
    age_days = (now_hour - hours) / 24
    slow_w = 0.5 ** (age_days / SLOW_HALF_LIFE) * observed
    # Whole days weigh alike in the fast rate, or each quiet night would lower it and each
    # busy morning raise it. The days are counted back from the last hour seen, so the
    # newest is a whole 24 hours: one cut short would leave out a use made once a day.
    days_back = np.floor((known - 1 - hours) / 24) + (now_hour - known) / 24
    fast_w = 0.5 ** (days_back / FAST_HALF_LIFE) * observed
    slow, slow_days = _daily_rate(slow_w, use)
    fast, fast_days = _daily_rate(fast_w, use)
    history_days = float(observed.sum()) / 24
    if prior is None and history_days < 1:
        # Less than a day, with nothing stated: the hours seen are a part of the day,
        # the busy morning as likely as the quiet night, and spread over a whole day
        # they would make a morning's coffee twice the day's. What they hold is the
        # day's use so far: a day's use at least, nothing said of the rest.
        slow = fast = slow * history_days
        slow_days = fast_days = 1.0

    # The spread of single days over whole observed days (the last, aligned to now).
    cut = len(use) % 24
    per_day = use[cut:].reshape(-1, 24)
    whole = observed[cut:].reshape(-1, 24).min(axis=1, initial=1.0) > 0
    totals = per_day.sum(axis=1)[whole]
    reference = slow if slow > 0 else (prior or 0.0)
    guess = (0.5 * reference) ** 2
    if len(totals) >= 2:
        spread = _day_to_day_spread(totals)
        daily_variance = (len(totals) * spread**2 + 2 * guess) / (len(totals) + 2)
    else:
        daily_variance = guess

    rate, basis = slow, f"{history_days:.0f} days of history"
    rate_days = max(slow_days, 0.5)
    quiet = _quiet_run(totals, estimator.use_floor)
    if quiet:
        run = totals[-quiet:]
        rate = max(float(run.mean()), QUIET_FLOOR * slow)
        basis = f"use down over the last {quiet} days"
        # The days before the fall say nothing of how the days after it vary.
        guess = (0.5 * rate) ** 2
        daily_variance = (quiet * _day_to_day_spread(run) ** 2 + 2 * guess) / (quiet + 2)
        rate_days = quiet
    # How far the fast rate is from the slow one, in standard errors.
    shift_z = 0.0
    if fast_days > 0.5 and slow_days > 0 and daily_variance > 0:
        shift_z = (fast - slow) / math.sqrt(daily_variance / fast_days)
    # Guests, seen in every item together: the last days' rate, each day weighing half
    # the one after it, only as sure as the few days it rests on (they will leave).
    surge = _daily_rate(0.5**days_back * observed, use) if busier else None
    if not quiet and surge is not None and surge[0] > slow:
        rate, rate_days = surge[0], max(surge[1], 0.5)
        basis = "the household busier over the last days"
    elif not quiet and (
        shift_z < -SHIFT_Z
        or (
            shift_z > SHIFT_Z
            and _rise_beyond_busy_days(totals, fast - slow, fast_days)
            and _rise_on_more_than_one_day(use, known - 1 - hours, slow, daily_variance)
        )
    ):
        # A lasting change: follow it at once when use went up, halfway when down.
        rate = fast if fast > slow else (fast + slow) / 2
        basis = f"use {'up' if fast > slow else 'down'} over the last days"
    # The rate's own uncertainty, per day, as variances: sampling, and habits shifting.
    doubt_parts = [daily_variance / rate_days, (SHIFT_DOUBT * max(rate, 0.0)) ** 2]
    # A drifting zero passes for use, or hides some: the rate is that much less sure.
    doubt_parts.append(daily_drift(item) ** 2)
    if prior is not None:
        weight = _prior_weight(hours, observed) if seen else 1.0
        rate = weight * prior + (1 - weight) * rate
        doubt_parts = [part * (1 - weight) ** 2 for part in doubt_parts]
        doubt_parts.append((weight * PRIOR_DOUBT * prior) ** 2)
        if weight > 0.5:
            basis = f"stated {item.cycle_days:g}-day cycle, {1 - weight:.0%} measured"
    if rate <= 0:
        return None
    rate_sd = math.sqrt(sum(doubt_parts))

    profile = _pattern(hours, use, slow_w, slow, known)
    hourly = rate / 24 * profile
    cumulative = np.concatenate([[0.0], np.cumsum(hourly)])
    return DemandModel(
        item=item.id,
        fitted_at=now,
        start_hour=known,
        cumulative=cumulative,
        rate_per_day=rate,
        daily_variance=daily_variance,
        rate_sd=rate_sd,
        basis=basis,
        whole_units=item.sensor == SensorKind.COUNT,
        shift_z=shift_z,
    )


def _rise_beyond_busy_days(totals: NDArray[np.float64], rise: float, days: float) -> bool:
    """Whether a rate ``rise`` over the last ``days`` is beyond what the item's busiest
    days explain: one item's own rise is followed at once only then.

    The day-to-day spread leaves the largest differences out (:func:`_day_to_day_spread`),
    so a brunch bigger than the rest of a household whose Saturdays are all brunches
    would pass for use gone up; against every difference, it is one more busy day.
    """
    if len(totals) < 2:
        return True
    return rise > SHIFT_Z * _day_to_day_spread(totals, kept_share=1.0) / math.sqrt(days)


def _rise_on_more_than_one_day(
    use: NDArray[np.float64], hours_back: NDArray[np.int64], slow: float, daily_variance: float
) -> bool:
    """Whether two or more of the last :data:`RISE_DAYS` days each ran a day's spread
    above the slow rate: one day, however busy (a brunch that takes most of a week's
    milk), is not habits changed. Days the item stood empty in count too (the busy-days
    test leaves them out), with the use that was seen."""
    day = hours_back // 24
    recent = day < RISE_DAYS
    totals = np.sort(np.bincount(day[recent], weights=use[recent], minlength=RISE_DAYS))
    return bool(totals[-2] > slow + math.sqrt(daily_variance))


def _prior_weight(hours: NDArray[np.int64], observed: NDArray[np.float64]) -> float:
    """How much the stated cycle weighs against the history: :data:`PRIOR_DAYS` days in
    all, shared between the days of the week. A stated cycle is the use over a whole
    week, and a day of the week not yet seen (the first days, or a weekend the item was
    empty through) is as its stated share of it, however the days seen went."""
    days_seen = np.bincount(_weekday(hours), weights=observed, minlength=7) / 24
    share = PRIOR_DAYS / 7
    return float(np.mean(share / (days_seen + share)))


def _quiet_run(totals: NDArray[np.float64], unused_below: float) -> int:
    """How many of the last days have been quieter than the days before them, beyond
    what chance explains (habits fell: a diet); 0 if none.

    Each split of the days into the last ``k`` and those before is tested with the
    Mann-Whitney U statistic (pairs of a recent day and an earlier one where the recent
    one was busier), which asks nothing of how use is distributed: one heavy day among
    the quiet ones (visitors) weakens the evidence without breaking it. The shortest
    split that passes :data:`QUIET_Z` is taken: longer ones may reach back before the
    change, and pass on the strength of the days after it. Each day of the run must
    show some use, more than ``unused_below``: days with none are the household away
    (it comes back). A few grams a day are none: a sensor's noise and drift show as
    much while the household is away, and whether the days away counted as a diet
    turned on them (``holiday``'s run-out MAE, ``docs/evaluation.md``).
    """
    n = len(totals)
    # A day of no use seen is the household away, not habits changed: no run reaches
    # back past it.
    unused = np.flatnonzero(totals <= unused_below)
    longest = min(n - 1 - int(unused[-1]) if len(unused) else n, n - QUIET_BEFORE)
    if longest < QUIET_DAYS:
        return 0
    busier = (totals[:, None] > totals[None, :]) + 0.5 * (totals[:, None] == totals[None, :])
    for k in range(QUIET_DAYS, longest + 1):
        m = n - k
        u = float(busier[m:, :m].sum())
        if (u + 0.5 - k * m / 2) / math.sqrt(k * m * (n + 1) / 12) < QUIET_Z:
            return k
    return 0


def _daily_rate(weights: NDArray[np.float64], use: NDArray[np.float64]) -> tuple[float, float]:
    """The weighted mean of hourly ``use`` as a daily rate, and the days of evidence."""
    total = float(weights.sum())
    return (24 * float(weights @ use) / total if total > 0 else 0.0), total / 24


def _day_to_day_spread(totals: NDArray[np.float64], kept_share: float = TRIMMED_DAYS) -> float:
    """One sd of a day's use, from each day against the day before.

    A lasting shift in habits is one big step among many differences, and a day of
    guests one or two, so the largest tenth are left out (and the rest scaled up as for
    normal days); ``kept_share`` 1 keeps them all. A median would not do: use counted in
    whole eggs or tablets repeats the same total day after day, and the median
    difference is then 0.
    """
    squares = np.sort(np.diff(totals) ** 2)
    kept = max(int(kept_share * len(squares)), 1)
    share = kept / len(squares)
    if share >= 1.0:
        return math.sqrt(float(squares.mean()) / 2)
    cut = _NORMAL.inv_cdf((1 + share) / 2)
    truncated = 1 - 2 * cut * _NORMAL.pdf(cut) / share  # E[x² | |x| < cut] of N(0, 1)
    return math.sqrt(float(squares[:kept].mean()) / truncated / 2)


def _pattern(
    hours: NDArray[np.int64],
    use: NDArray[np.float64],
    weights: NDArray[np.float64],
    rate: float,
    now_hour: int,
) -> NDArray[np.float64]:
    """Each hour ahead's share of the mean rate (mean 1 over a week), from a ridge fit."""
    ahead = np.arange(now_hour, now_hour + HORIZON_HOURS, dtype=np.int64)
    if rate <= 0 or weights.sum() < 48:
        return np.ones(HORIZON_HOURS)
    model = Ridge(alpha=RIDGE_ALPHA)
    with _THREADS.limit(limits=1, user_api="blas"):
        model.fit(_features(hours), use / (rate / 24), sample_weight=weights)
    week = model.predict(_features(ahead[:168]))
    week = np.maximum(week, PATTERN_FLOOR)
    week /= week.mean()
    return np.resize(week, HORIZON_HOURS)


def household_shift(models: list[DemandModel]) -> float:
    """How far the household's use as a whole moved: its items' shifts pooled (Stouffer)."""
    if not models:
        return 0.0
    # One item is capped where it would shift on its own: one broken sensor, or one
    # item's own change, is not the household.
    capped = (min(max(m.shift_z, -SHIFT_Z), SHIFT_Z) for m in models)
    return sum(capped) / math.sqrt(len(models))


@dataclass(frozen=True, slots=True)
class RunOut:
    """A run-out forecast for one item, made at ``made_at``.

    Its quantiles are searched for when first asked for and kept: a decision asks for
    one or two of them, a report for three.
    """

    item: str
    made_at: datetime
    level: float
    rate_per_day: float
    basis: str
    #: The model the forecast came from: for other quantiles and for sizing orders.
    model: DemandModel = field(repr=False, compare=False)
    #: When the level was read: the forecast's curve starts there.
    read_at: datetime = field(compare=False)
    noise: float = field(default=0.0, compare=False)
    #: Stock on its way, counted as if it were on the shelf.
    on_the_way: float = field(default=0.0, compare=False)
    #: When the stock on the shelf goes past its date (thrown away, used or not).
    best_before: datetime | None = field(default=None, compare=False)
    #: How far out P10 and P90 go, against the model's spread
    #: (:attr:`Forecaster.calibration`).
    calibration: float = field(default=1.0, compare=False)
    #: How far out P10 goes, if further (:attr:`Forecaster.early_calibration`).
    early_calibration: float = field(default=0.0, compare=False)
    _found: dict[float, datetime] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def p10(self) -> datetime:
        """The early run-out: one future in ten is busier."""
        return self.at(Z90 * max(self.calibration, self.early_calibration))

    @property
    def p50(self) -> datetime:
        return self.at(0.0)

    @property
    def p90(self) -> datetime:
        """The late run-out: one future in ten is quieter."""
        return self.at(-Z90 * self.calibration)

    def at(self, z: float) -> datetime:
        """The run-out with demand at ``z`` standard deviations (``z`` > 0: early)."""
        found = self._found.get(z)
        if found is None:
            stock = self.level + self.on_the_way
            found = max(self.model.run_out(self.read_at, stock, z, self.noise), self.made_at)
            self._found[z] = found
        return found

    def gone_by(self, z: float) -> datetime:
        """When the stock is gone, used (:meth:`at`) or past its date, if sooner."""
        used_up = self.at(z)
        return used_up if self.best_before is None else min(used_up, self.best_before)

    def level_at(self, when: datetime, z: float = 0.0) -> float:
        """The stock expected at ``when``, on the way included (``z`` > 0: more left);
        none once it is past its date."""
        if self.best_before is not None and when >= self.best_before:
            return 0.0
        used = self.model.demand(self.read_at, when, -z)
        return max(self.level + self.on_the_way - used, 0.0)


@dataclass(frozen=True, slots=True)
class _Scored:
    """What a refit forecast, kept to score once its run-out has come."""

    level: float
    noise: float
    #: The refit's model, its curve cut to the hours a run-out is scored within.
    model: DemandModel


class Forecaster:
    """One item's forecasts: refits its model every :data:`REFIT_EVERY`."""

    def __init__(self, estimator: LevelEstimator) -> None:
        self.estimator = estimator
        self.model: DemandModel | None = None
        self.refits = 0
        #: Hours the household was away, left out of the fit.
        self.absent: frozenset[int] = frozenset()
        #: Whether the household as a whole is using more than it did (guests).
        self.busier = False
        #: The last refits, to score their run-outs once they come.
        self._track: deque[_Scored] = deque()
        #: How far out P10 and P90 go, against the model's spread: the scale that the
        #: item's own scored run-outs call for.
        self.calibration = 1.0
        #: The scale P10 alone needs, if more: as far out as the item's run-outs that
        #: came early went, one in ten beyond it.
        self.early_calibration = 1.0

    def set_busier(self, busier: bool) -> None:
        """The household is busier (or no longer): refit at the next forecast."""
        if busier != self.busier:
            self.busier = busier
            self.model = None

    def leave_out(self, hours: AbstractSet[int]) -> None:
        """Leave ``hours`` (the household away) out of the fit, from the next forecast on."""
        self.absent = frozenset(hours)
        self.model = None

    def current_model(self, now: datetime) -> DemandModel | None:
        model = self.model
        if model is None or now - model.fitted_at >= REFIT_EVERY or now < model.fitted_at:
            model = self.model = fit(self.estimator, now, absent=self.absent, busier=self.busier)
            self.refits += 1
            if model is not None:
                self._score(model)
        return model

    def _score(self, model: DemandModel) -> None:
        """Score the earlier refits' run-outs that have come, and keep this one's.

        A refit's run-out came when the use read since reached the level it started
        from (deliveries after it aside). One that came :data:`SCORED_HOURS` after the
        refit is scored by how many of the model's standard deviations of use it took:
        the scale that would have put four in five of them within P10 and P90 is the
        calibration, drawn towards 1 while few are scored. The scores of an item whose
        run-outs come early more often than late lean one way: P10 goes out as far as
        one in ten of them still went past it (:attr:`early_calibration`), if that is
        further. A refit whose use is unknown before its run-out (the household away)
        is not scored. Refits from later hours than this one's are dropped.
        """
        known = model.start_hour
        track = self._track
        while track and track[0].model.start_hour < known - _HISTORY_HOURS:
            track.popleft()
        # Refits from hours after this one's (a caller asking about an earlier time):
        # their run-outs lie beyond what is known here.
        while track and track[-1].model.start_hour > known:
            track.pop()
        scores = _run_out_scores(track, self.estimator.hourly, self.absent, known)
        if len(scores):
            n, prior = len(scores), CALIBRATION_PRIOR
            seen = float(np.quantile(np.abs(scores), 0.8)) / Z90
            low, high = CALIBRATION_RANGE
            self.calibration = min(max((n * seen + prior) / (n + prior), low), high)
            early = float(np.quantile(scores, 0.9)) / Z90
            self.early_calibration = min(max((n * early + prior) / (n + prior), low), high)
        estimate = self.estimator.estimate
        # A refit for the busier household or days away comes within the hour: one
        # score of each hour is enough.
        if estimate is not None and (not track or track[-1].model.start_hour < known):
            curve = model.cumulative[: SCORED_HOURS[1] + 1].copy()
            track.append(
                _Scored(
                    level=estimate.level,
                    noise=estimate.sd,
                    model=replace(model, cumulative=curve),
                )
            )

    def forecast(
        self,
        now: datetime,
        *,
        extra_stock: float = 0.0,
        empty: bool = False,
        best_before: datetime | None = None,
    ) -> RunOut | None:
        """Forecast the item's run-out as of ``now``; ``None`` if there is no basis yet.

        ``extra_stock`` counts stock known to be on its way as if it were on the shelf;
        ``empty`` says the shelf is believed empty whatever the sensor reads;
        ``best_before`` is when the stock goes past its date.
        """
        estimate = self.estimator.estimate
        if estimate is None:
            return None
        model = self.current_model(now)
        if model is None:
            return None
        shelf = 0.0 if empty else estimate.level
        return RunOut(
            item=model.item,
            made_at=now,
            level=shelf,
            rate_per_day=model.rate_per_day,
            basis=model.basis,
            model=model,
            read_at=min(estimate.ts, now),
            # The level is only as sure as the sensor's zero, which drifts.
            noise=estimate.sd,
            on_the_way=extra_stock,
            best_before=best_before,
            calibration=self.calibration,
            early_calibration=self.early_calibration,
        )


def _run_out_scores(
    track: Iterable[_Scored], hourly: Mapping[int, float], absent: AbstractSet[int], known: int
) -> NDArray[np.float64]:
    """Each tracked refit's run-out that came within :data:`SCORED_HOURS`, in the
    model's standard deviations of use (+: it came early, the use was more)."""
    kept = list(track)
    if not kept:
        return np.zeros(0)
    first = kept[0].model.start_hour
    span = range(first, known)
    use = np.array([max(hourly.get(hour, 0.0), 0.0) for hour in span])
    away = np.array([hour in absent for hour in span], dtype=bool)
    used = np.concatenate([[0.0], np.cumsum(use)])
    scores = []
    for past in kept:
        i = past.model.start_hour - first
        end = min(i + SCORED_HOURS[1], len(use))
        # The first hour by whose end the use since the refit reached its level.
        ahead = int(np.searchsorted(used[i + 1 : end + 1], used[i] + past.level)) + 1
        if ahead > end - i or ahead < SCORED_HOURS[0] or away[i : i + ahead].any():
            continue
        sd = past.model.spread(ahead / 24, past.noise)
        if sd > 0:
            scores.append((past.level - float(past.model.cumulative[ahead])) / sd)
    return np.array(scores)


def forecast(
    estimator: LevelEstimator, now: datetime, *, extra_stock: float = 0.0
) -> RunOut | None:
    """A one-off forecast with a freshly fitted model (tests, tools)."""
    return Forecaster(estimator).forecast(now, extra_stock=extra_stock)
