"""Level estimation: from noisy sensor readings to a believable stock level.

Sans-I/O. What the sensors get wrong, and what the estimator does about it:

- **Noise.** The level is the median of the last few accepted readings, and consumption
  is the *net* fall of that level: noise that dips and recovers adds up to nothing.
- **Spikes** (a hand on the shelf, a miscount). A reading that jumps further than a
  refill threshold from the level, up or down, is held back until the next reading: if
  that one falls back to the old level, the jump was a spike and is forgotten; if not,
  the jump was real (a refill, or a big use), even when the next reading jumps again (a
  use, then a refill).
- **Duplicates and late arrivals.** A reading not newer than the last one is ignored.
- **Dropouts and reboots.** No readings means nothing is known: the next reading's fall
  is spread evenly over the gap, never counted twice, and a gap alone counts nothing.
- **Stuck sensors.** A stuck value shows no use until it frees; the fall then is real
  and is spread over the time since the last change.
- **Tare drift.** Slow drift is followed like any small change; it never reaches the
  refill threshold, so it is never taken for a refill. An upward creep is fitted on the
  quiet spells between uses, apart from the day's temperature swing
  (:mod:`edge_agent.creep`), and corrected (one far faster than a zero wanders, from
  where the zero was last known: uses too small to see hid it until then); the rest
  can't be told from use, so the estimate carries a doubt (:attr:`LevelEstimator.drift`)
  that grows with the sensor's time in service (where the quiet spells measure the
  creep, with what their fit may have missed). A downward creep shows when a delivery
  the shop confirmed leaves the sensor reading less than was delivered:
  :meth:`LevelEstimator.believe` then credits the difference; and when a delivery shows
  short while the readings say it had room, or does not show at all although it and the
  readings just before make more than the store holds, the store ran over and is full
  (:meth:`LevelEstimator.delivered`, :meth:`LevelEstimator.ran_over`). A store never
  holds more than its capacity, so a refill (whole packs) that reads above it shows the
  zero crept up. Where the zero was known, over days, gives its creep rate, taken out of
  every reading after. A zero crept below the bottom of the scale reads nothing while
  there is stock: such a reading is no evidence, as a stuck one is not.

Consumption is kept per hour, for the forecast's consumption model, with the hours the
item was (nearly) empty marked: their use was not seen, only the lack of stock.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from edge_agent.catalog import ItemSpec, SensorKind
from edge_agent.creep import Installation, QuietSpells

#: Readings the median runs over.
MEDIAN_WINDOW = 3
#: How much consumption history is kept, for the forecast's model.
HISTORY = timedelta(days=28)
#: The median of small rises between readings, over this many, estimates the noise.
NOISE_SAMPLES = 48
#: A fall counts as a use only above three noise sd, and above this share of a pack.
USE_FLOOR = 0.005
#: A creep down is taken from quiet spells only where this share of use came in falls
#: big enough to be uses: else small uses inside the spells would look like one.
SEEN_USES = 0.9
#: ... of the use of about this long back (an exponential memory): a diet's small uses
#: soon show, as a creep down would.
USE_MEMORY = timedelta(days=1)
#: The share of a creep fitted on the quiet spells that the fit may have missed ...
CREEP_MISSED = 0.5
#: ... unless the spells measure it more surely: then the zero is doubted as it wanders
#: for this long (before a fit), then by this many sd of the fitted rate and this share
#: of the rate, if that is less.
UNMEASURED = timedelta(days=3)
MEASURED_DOUBTS = 3.0
CREEP_MISSED_MEASURED = 0.1
#: A quiet spell, over which the tare creep is measured, has readings this close ...
QUIET_GAP = 6.0  # hours
#: ... and misses no beat of its device's heartbeat (a gap over this many beats): a
#: device silent that long was offline, and a use too small to tell from noise made
#: meanwhile would sit inside the spell as a fall, its weight growing with the spell.
MISSED_BEAT = 1.5
#: A device reads on a heartbeat, and when what it senses changes: the heartbeat is
#: taken as the 3rd quartile of this many recent gaps between readings (each reading
#: between two beats splits a gap) ...
CADENCE_GAPS = 64
#: ... and a reading sooner than this share of it after the last was sent for a change:
#: a use too small to tell from noise may be behind it.
OFF_BEAT = 0.95
#: A load cell's or gauge's zero wanders by about this share of its range a day (one
#: sd): temperature and age. The household simulators draw their drift with this figure.
DRIFT_PER_DAY = 0.002
#: ... for up to a season, unseen; then its doubt holds. A cell's creep settles (under
#: the load it bears, with the temperatures it swings through), and a zero that went on
#: creeping as fast for months would be seen: the store would read full too soon, or
#: below its scale.
ZERO_SETTLES = timedelta(days=90)
#: A big fall this long before to this long after a lot's best-before date, and no
#: bigger than what is left of it, is that lot thrown away ...
EXPIRY_WINDOW = (timedelta(hours=12), timedelta(days=3))
#: ... what is left being known as far as the level is: within this many sd of its
#: noise and of the zero's drift.
EXPIRY_DOUBTS = 2.0
#: A delivery showing short of what came by over this share of a pack (and four noise
#: sd) ran the store over; a refill showing that much more than the store holds shows
#: the zero crept up.
SHORT_DELIVERY = 0.05
#: ... measured from the reading before it, if that was live and this recent (else
#: use since, unseen, would pass for a shortfall).
FRESH_READING = timedelta(hours=2)
#: The zero is believed moved by no more than this many sd of its drift (larger: a
#: delivery short of what was ordered, not a full store).
CALIBRATION_DOUBTS = 3.0
#: ... unless what the delivery shows short of is more than this many times the largest
#: use seen between two readings: no use, so the store ran over, however far the zero.
SUDDEN_USE = 2.0
#: Where the zero was known (the first reading, a full store), the latest this many
#: times, give its creep rate once they span this long: a linear creep, both ways.
ZERO_POINTS = 6
ZERO_SPAN = timedelta(days=5)
#: ... if it is more than this many times the sd of a day's ordinary drift.
CREEP_SHOWN = 2.0
#: A creep up the quiet spells show at more than this many times that sd is no zero
#: wandering: it crept at that rate from where the zero was last known.
CREEP_BACK_DATED = 4.0
#: The stock lies between none and a full store, so the lowest and highest levels the
#: readings showed, over this many days, bound how far the zero can be from where it is
#: believed (and it may have wandered on since by :data:`CALIBRATION_DOUBTS` sd) ...
EXTREME_DAYS = 28
#: ... and the zero is as unsure as one anywhere within that bound, evenly: the bound
#: is this many sd.
EXTREME_DOUBTS = math.sqrt(3)
#: Two confirmed deliveries that show short, by more than a zero wanders and less than
#: a big use, are two full stores if their shortfalls put the zero on one line with
#: where it was last known (the creeps from there and between them within this share
#: of each other): a pair of big uses would not keep to a line.
AGREEING_CREEP = 0.15
#: A refill read after a silence shows short of a delivery only beyond this many sd of
#: the use the forecast puts on the silence.
UNSEEN_DOUBTS = 2.0
#: A noisy sensor repeating its value this many times in a row is taken to be stuck.
STUCK_RUN = 3
#: A meter that shows no use of a fresh pack for this long is at the end of its scale.
PINNED = timedelta(days=1)
#: ... and the use it did not show is that of a median day of use of this many before.
USUAL_DAYS = 7
_HOUR = 3600.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: For normal noise, the median absolute difference of two readings is this many sd.
_MEDIAN_ABS_DIFF = 0.6744897501960817 * math.sqrt(2)
#: A day's lowest and highest stock shown: (day, (ts, low), (ts, high)).
_Extremes = tuple[int, tuple[datetime, float], tuple[datetime, float]]


def hour_of(ts: datetime) -> int:
    """The hour ``ts`` falls in, counted from the Unix epoch."""
    return math.floor((ts - _EPOCH).total_seconds() / _HOUR)


def hours_from(ts: datetime) -> int:
    """The first hour that begins at ``ts`` or after it, counted from the Unix epoch."""
    return math.ceil((ts - _EPOCH).total_seconds() / _HOUR)


def hour_start(hour: int) -> datetime:
    return _EPOCH + timedelta(hours=hour)


def hour_overlaps(start: datetime, end: datetime) -> Iterator[tuple[int, float]]:
    """Each hour that ``[start, end)`` touches, with the seconds it spends in it."""
    for hour in range(hour_of(start), hour_of(end) + 1):
        seconds = (min(end, hour_start(hour + 1)) - max(start, hour_start(hour))).total_seconds()
        if seconds > 0:
            yield hour, seconds


@dataclass(frozen=True, slots=True)
class Refill:
    """Stock that appeared: a delivery, or groceries bought by hand."""

    ts: datetime
    quantity: float


@dataclass(frozen=True, slots=True)
class Unseen:
    """The use the forecast puts on a silence a delivery came in: since the reading
    before it (``used``, one sd ``sd``), and since the delivery came."""

    used: float
    sd: float
    since_delivery: float


@dataclass(frozen=True, slots=True)
class Use:
    """A consumption event: the level fell by more than noise between two readings."""

    ts: datetime
    quantity: float


def daily_drift(item: ItemSpec) -> float:
    """One sd of a day's drift of the item's sensor zero; counters do not drift."""
    return 0.0 if item.sensor == SensorKind.COUNT else DRIFT_PER_DAY * item.capacity


@dataclass(frozen=True, slots=True)
class LevelEstimate:
    """What the estimator believes about one item at the time of its last reading."""

    level: float
    ts: datetime
    #: The sensor noise's standard deviation, as estimated from the readings.
    noise: float = 0.0
    #: How far the sensor's zero may have drifted unseen since the first reading (sd).
    drift: float = 0.0

    @property
    def sd(self) -> float:
        """How sure the level is (one sd): the sensor's noise and its zero's drift."""
        return math.hypot(self.noise, self.drift)


class LevelEstimator:
    """Turns one item's readings into a level, hourly consumption, refills and uses."""

    def __init__(self, item: ItemSpec, installation: Installation | None = None) -> None:
        self.item = item
        #: A jump must be larger than this to be a refill (or a big use) rather than a
        #: change that the median window absorbs.
        self.refill_threshold = max(0.25 * item.pack_size, 0.02 * item.capacity)
        self._window: deque[float] = deque(maxlen=MEDIAN_WINDOW)
        #: A jump waiting for the next reading: (ts, value, when the reading before it came).
        self._pending: tuple[datetime, float, datetime | None] | None = None
        self._last_ts: datetime | None = None
        #: Recent gaps between readings, in seconds, for the device's heartbeat.
        self._gaps: deque[float] = deque(maxlen=CADENCE_GAPS)
        self._heard = 0  # gaps heard in all
        self._beat = 0.0  # the heartbeat, in seconds; 0 until there are enough gaps
        self._level: float | None = None
        self._level_ts: datetime | None = None
        self._last_value: float | None = None
        self._diffs: deque[float] = deque(maxlen=NOISE_SAMPLES)
        #: Whether each recent reading repeated the last one exactly.
        self._repeats: deque[bool] = deque(maxlen=NOISE_SAMPLES)
        self._run = 0  # readings in a row exactly equal to the last
        self._below_scale = False  # the last reading at the bottom of a crept-down scale
        self._back_on_scale_at: datetime | None = None  # when readings last left the bottom
        #: When a meter last showed a fresh pack full, while it shows no use of it.
        self._pinned_since: datetime | None = None
        #: Runs of readings with no use between them, for the tare creep.
        self._quiet = QuietSpells(daily_drift(item) / 24, installation)
        #: How far the sensor has crept up since the first reading, as estimated
        #: (negative: down, as a delivery that ran the store over showed).
        self.offset = 0.0
        #: When the sensor's zero was last known, and the offset it was then known at.
        self._zero_at: datetime | None = None
        self._zero_offset = 0.0
        #: Whether a creep was taken back along its fitted rate since the zero was known
        #: (:meth:`_back_date`).
        self._taken_back = False
        #: (ts, offset) wherever the zero was known, for its creep rate.
        self._zeros: deque[tuple[datetime, float]] = deque(maxlen=ZERO_POINTS)
        #: Confirmed deliveries that showed short, maybe full stores: (ts, offset then).
        self._short: deque[tuple[datetime, float]] = deque(maxlen=2)
        #: The creep rate per hour the zeros gave, and that consumption was corrected by.
        self._calibrated: float | None = None
        #: Each day's lowest and highest stock the readings showed since the zero was
        #: known, creep taken out: (day, (ts, low), (ts, high)). They bound the zero.
        self._extremes: deque[_Extremes] = deque(maxlen=EXTREME_DAYS)
        #: The last bound worked out from them: (level's time, doubt), bound. Dropped
        #: whenever they change.
        self._bound: tuple[tuple[datetime, float], float] | None = None
        #: Stock that a confirmed delivery proved and the readings do not show, because
        #: the sensor reads low; a refill the readings show later takes it back.
        self.credit = 0.0
        #: When stock was last credited that way.
        self.credited_at: datetime | None = None
        #: The part of the credit that is deliveries made while the sensor was silent:
        #: its next readings show them (less the use meanwhile), so it goes then.
        self._silent_credit = 0.0
        #: The value the sensor was stuck at (still sending, its value frozen) when it
        #: was credited, if it was: see :meth:`observe`.
        self._silent_credit_stuck_at: float | None = None
        #: When the level read last changed (a spike, or a miscount that the median
        #: leaves out, is no change).
        self._changed_at: datetime | None = None
        #: The first reading after that silence, until one differs from it: a sensor
        #: that stuck while silent repeats a value from before the deliveries.
        self._back_from_silence: float | None = None
        #: Net consumption per hour (hour index -> quantity).
        self.hourly: dict[int, float] = {}
        #: Hours in which the item was (nearly) empty, so demand went unseen.
        self.empty_hours: set[int] = set()
        self.refills: deque[Refill] = deque(maxlen=64)
        #: The last refill's rise from the reading just before it, the level it rose to
        #: (the median may move on with the next reading), and when that reading was if
        #: not recent (a silence the refill ended); None if the rise says nothing.
        self._rise: tuple[Refill, float, float, datetime | None] | None = None
        #: The last refill, if a sound sensor saw all of it arrive just now.
        self._plain: Refill | None = None
        self.uses: deque[Use] = deque(maxlen=256)
        #: Recent consumption in falls big enough to be uses, and in all falls.
        self._used_in_uses = self._used = 0.0
        #: Falls taken for perishable stock thrown away at its date, not used.
        self.thrown_away: deque[Use] = deque(maxlen=64)
        self.spikes = 0
        #: When the last spike was read, either way: up, it may have been a refill then a
        #: use; down, a use then a refill (juice poured, then the shopping put in).
        self._spiked_at: datetime | None = None
        self._next_prune = 0
        #: When the first reading came: how much history the forecast can rest on.
        self.started: datetime | None = None

    def saw_arrive(self, refill: Refill) -> bool:
        """Whether ``refill`` came between two readings close together on a sound sensor,
        and was no delivery already credited: stock that really came just then."""
        return refill is self._plain

    @property
    def last_reading(self) -> datetime | None:
        """When the newest reading taken was stamped."""
        return self._last_ts

    @property
    def reads_empty(self) -> bool:
        """Whether the newest reading taken shows nothing on the sensor."""
        return self._last_value is not None and self._last_value <= 0

    @property
    def heartbeat(self) -> timedelta | None:
        """The device's usual gap between readings, once enough gaps have been heard."""
        return timedelta(seconds=self._beat) if self._beat else None

    @property
    def estimate(self) -> LevelEstimate | None:
        if self._level is None or self._level_ts is None:
            return None
        level = self._believed(self._level)
        return LevelEstimate(level=level, ts=self._level_ts, noise=self.noise, drift=self.drift)

    @property
    def drift(self) -> float:
        """How far the zero may have drifted since it was last known: one sd.

        A creep upwards hides use and a creep downwards shows use that never was, and
        while an item is in use neither can be told from use (the creep estimate only
        catches as much of a creep as the quiet spells show). So the
        doubt about the zero grows by :data:`DRIFT_PER_DAY` of capacity a day, and
        forecasts allow for it; where the quiet spells measure the creep that is taken
        out, by no more than what that fit may have missed (:meth:`_measured_wander`).
        It is known at the first reading, and again when a full store shows where it is
        (:meth:`delivered`). Counters do not drift.
        """
        doubt = self._unbounded_drift()
        bound = self._extreme_bound(doubt)
        return doubt if bound is None else min(doubt, bound / EXTREME_DOUBTS)

    def _unbounded_drift(self) -> float:
        """How far the zero may have drifted since it was last known (one sd), from how
        fast a zero wanders and the creep measured: it grows without end."""
        if self._calibrated is not None:
            return self._wander()  # the creep since the zero was known is measured
        if self._taken_back:
            # A creep clearly faster than a zero wanders, taken back along the fitted
            # rate (_back_date) and followed since: as unsure as that rate, times the
            # hours since the zero was known.
            return max(self._wander(), self._quiet.own[1] * self._hours_since_zero())
        # The quiet spells catch most of a creep, not all: a sensor seen to creep this
        # much is a share of that unsure of its zero, or as unsure as their fit.
        crept = self.offset - self._zero_offset
        doubt = max(self._wander(), CREEP_MISSED * abs(crept))
        measured = self._measured_wander()
        return doubt if measured is None else min(doubt, measured)

    def _extreme_bound(self, doubt: float) -> float | None:
        """How far the zero can be from where it is believed, as the stock the readings
        showed bounds it; ``None`` before they show any.

        The stock is never below none nor above a full store. A level read as ``low``
        (creep taken out) would be none if the zero sat ``low`` higher than believed, so
        it sits no higher than that; one read as ``high`` puts it no lower than the
        store's headroom then. Since then it may have wandered on, as fast as ``doubt``
        has grown since the zero was known. Without this bound the doubt grows with
        every day since a full store last showed the zero: after a year it was most of
        a fridge, and orders came ever earlier and smaller.
        """
        if not self._extremes or self._level_ts is None:
            return None
        # Asked many times a decision, and the same until a reading comes (which also
        # moves the noise) or the kept levels change.
        key = (self._level_ts, doubt)
        if self._bound is not None and self._bound[0] == key:
            return self._bound[1]
        hours = self._hours_since_zero()
        # How far the zero may wander in an hour, as the doubt has grown since known.
        wander = CALIBRATION_DOUBTS * doubt / hours if hours > 0 else 0.0
        now, capacity = self._level_ts, self.item.capacity

        def since(ts: datetime) -> float:
            return wander * ((now - ts) / timedelta(hours=1))

        above = min(max(low, 0.0) + since(ts) for _, (ts, low), _ in self._extremes)
        below = min(max(capacity - high, 0.0) + since(ts) for _, _, (ts, high) in self._extremes)
        margin = CALIBRATION_DOUBTS * self.noise + daily_drift(self.item)
        bound = max(above, below) + margin
        self._bound = (key, bound)
        return bound

    def _note_extremes(self, ts: datetime, shown: float) -> None:
        """Keep ``shown`` (the stock a live reading shows, creep taken out) if it is the
        day's lowest or highest so far."""
        day = hour_of(ts) // 24
        self._bound = None
        if self._extremes and self._extremes[-1][0] == day:
            _, low, high = self._extremes[-1]
            if low[1] <= shown <= high[1]:
                return
            self._extremes[-1] = (
                day,
                (ts, shown) if shown < low[1] else low,
                (ts, shown) if shown > high[1] else high,
            )
        else:
            self._extremes.append((day, (ts, shown), (ts, shown)))

    def _shift_extremes(self, offset: float) -> None:
        """The zero is believed ``offset`` higher at once: each kept level shows that much
        less stock."""
        kept = [
            (day, (lt, low - offset), (ht, high - offset))
            for day, (lt, low), (ht, high) in self._extremes
        ]
        self._extremes = deque(kept, maxlen=EXTREME_DAYS)
        self._bound = None

    def _measured_wander(self) -> float | None:
        """How far the zero may have moved since it was last known, where the quiet
        spells measure its creep and it is taken out: the days before the spells could
        show it, at the zero's usual wander, then the fit's own doubt and a share of
        the rate it shows, for the part of it the fit misses. ``None`` where the spells
        show nothing yet, or a creep down that is not taken out (small uses look alike)."""
        rate, sd = self._quiet.rate, self._quiet.rate_sd
        if sd <= 0 or self.creep != rate:
            return None
        hours = self._hours_since_zero()
        blind = min(hours, UNMEASURED / timedelta(hours=1))
        per_hour = MEASURED_DOUBTS * sd + CREEP_MISSED_MEASURED * abs(rate)
        return daily_drift(self.item) / 24 * blind + per_hour * hours

    def _hours_since_zero(self) -> float:
        if self._zero_at is None or self._level_ts is None:
            return 0.0
        return (self._level_ts - self._zero_at) / timedelta(hours=1)

    def _wander(self) -> float:
        """How far a zero wanders (one sd) from where it was last known until now: no
        further than in :data:`ZERO_SETTLES`."""
        hours = min(self._hours_since_zero(), ZERO_SETTLES / timedelta(hours=1))
        return daily_drift(self.item) * hours / 24

    def _could_have_drifted(self, shift: float) -> bool:
        """Whether the zero may have moved by ``shift`` since it was last known."""
        wander = self._wander()
        bound = self._extreme_bound(wander)
        limit = CALIBRATION_DOUBTS * wander
        return shift <= (limit if bound is None else min(limit, bound))

    def _zero_is(self, offset: float, ts: datetime) -> None:
        """The sensor's zero is known: it reads ``offset`` high (negative: low) at ``ts``."""
        self.offset, self._zero_offset, self._zero_at = offset, offset, ts
        self._taken_back = False
        self._extremes.clear()
        self._bound = None
        self._zeros.append((ts, offset))
        self._calibrate()

    def _calibrate(self) -> None:
        """Measure the zero's creep rate from where it was known, once those points span
        :data:`ZERO_SPAN`: the least-squares slope. The consumption kept was counted at
        the creep rate believed then; it is corrected to the new rate."""
        if len(self._zeros) < 2 or self._zeros[-1][0] - self._zeros[0][0] < ZERO_SPAN:
            return
        hours = [(ts - self._zeros[0][0]) / timedelta(hours=1) for ts, _ in self._zeros]
        rate = statistics.linear_regression(hours, [offset for _, offset in self._zeros]).slope
        if abs(rate) * 24 <= CREEP_SHOWN * daily_drift(self.item):
            return  # no more than a zero wanders anyway: left to the doubt about it
        change = rate - (self._calibrated if self._calibrated is not None else self.creep)
        now, started = self._zeros[-1][0], self.started or self._zeros[0][0]
        for hour in range(hour_of(max(started, now - HISTORY)), hour_of(now)):
            self.hourly[hour] = self.hourly.get(hour, 0.0) + change
        self._calibrated = rate

    @property
    def creep(self) -> float:
        """The sensor's creep, per hour: measured from where its zero was known, up or
        down; else as fitted on the quiet spells between uses.

        Use only lowers a level, so a level that rises while nothing is used is the
        sensor's zero moving (:class:`~edge_agent.creep.QuietSpells`). A level that
        falls may be uses too small to see, so a creep down is taken only where nine
        tenths of the last day's use (:data:`SEEN_USES`, :data:`USE_MEMORY`) came in
        falls big enough to be uses; else it is left to the doubt about the zero (it
        errs towards ordering early, not towards running out).
        """
        if self._calibrated is not None:
            return self._calibrated
        rate = self._quiet.rate
        if rate < 0 and self._used_in_uses < SEEN_USES * self._used:
            return 0.0
        return rate

    @property
    def noise(self) -> float:
        """The estimated sensor noise (standard deviation), 0 until there is evidence."""
        if len(self._diffs) < 8:
            return 0.0  # too few rises: a counter, or a sensor with no noise to speak of
        return statistics.median(self._diffs) / _MEDIAN_ABS_DIFF

    @property
    def last_use(self) -> datetime | None:
        return self.uses[-1].ts if self.uses else None

    def use_gaps(self) -> tuple[timedelta, timedelta] | None:
        """The median and the 90th percentile of the times between recent uses; ``None``
        with fewer than five uses. Use in bursts (the weekend's washes) has short gaps
        mostly and a long one now and then: the percentile tells how long it can be."""
        if len(self.uses) < 5:
            return None
        times = [use.ts for use in itertools.islice(reversed(self.uses), 32)]
        gaps = sorted((a - b).total_seconds() for a, b in itertools.pairwise(times))
        long = gaps[min(math.ceil(0.9 * len(gaps)), len(gaps)) - 1]
        return timedelta(seconds=statistics.median(gaps)), timedelta(seconds=long)

    @property
    def empty_below(self) -> float:
        """A level under this counts as empty: what is left may not serve a use."""
        return 0.05 * self.item.pack_size

    def observe(self, ts: datetime, value: float) -> Refill | None:
        """Take one reading; return the refill it confirmed, if any.

        Readings not newer than the last one (duplicates, late arrivals) are ignored.
        """
        if self._last_ts is not None and ts <= self._last_ts:
            return None
        level = self._level
        refill = self._observe(ts, value)
        if self._level != level:
            self._changed_at = ts
        return refill

    def _observe(self, ts: datetime, value: float) -> Refill | None:
        heard, dated = self._last_ts, self._level_ts
        off_beat = heard is not None and self._heard_after((ts - heard).total_seconds())
        self._last_ts = ts
        # A reading far over what the store holds is a spike; the scale's top moves up
        # with a zero that crept up.
        value = min(max(value, 0.0), self.item.capacity * 1.5 + max(self.offset, 0.0))
        if self._level is None or self._level_ts is None:
            self.started = self._zero_at = ts
            self._zeros.append((ts, 0.0))
            self._window.append(value)
            self._level, self._level_ts, self._last_value = value, ts, value
            return None
        refill = None
        believed = self._believed(self._level)
        if self._pending is not None:
            pending_ts, pending, heard_before = self._pending
            self._pending = None
            rise, on = pending - self._level, value - pending
            if (
                self.item.metered
                and rise > 0
                and on > self.refill_threshold
                and value <= self.item.pack_size + self._refill_tolerance()
            ):
                # A fresh cartridge rising on: the reading before was a spike (read 150,
                # 82, 150 L), or the meter was still counting it in. Confirmed there, the
                # cartridge's zero would be set to make that reading full, and the rest
                # of the rise counted as a second cartridge on top. Where it went is for
                # the next reading to confirm. (Past a full pack, the end of a meter's
                # scale, it is this reading that is the spike.)
                self._pending = (pending_ts, value, heard_before)
                return None
            # A spike springs back: the next reading is near the old level again. Any
            # other next reading confirms the jump, even one that jumps on (the last of
            # the juice drunk, then the shopping put in: a use, then a refill).
            if abs(value - self._level) > abs(pending - self._level) / 2:
                refill = self._jump(pending_ts, pending, heard_before)
            else:
                self.spikes += 1
                self._spiked_at = pending_ts
        if abs(value - self._level) > self.refill_threshold:
            self._pending = (ts, value, heard)
        else:
            self._accept(ts, value, off_beat=off_beat)
        if self._level_ts != dated:
            # The readings show the level again, and with it the deliveries credited in
            # the silence (less the use meanwhile). If they show less than half of
            # them, a noisy sensor may have stuck while silent and come back repeating
            # a value from before them: the credit stays until it shows itself alive (a
            # later reading that differs from this one) or shows the rise. A counter
            # repeats itself whenever nothing is used: its reading is believed. Nor
            # does the value a sensor was stuck at when credited take it back: a spike
            # ends a stuck run, and the stuck value comes again after it; nor, for a
            # counter credited while it read one level through the deliveries, a
            # miscount that leaves that level as it was.
            shows = self._shown(self._level) - (believed - self._silent_credit)
            missing = (
                self._silent_credit > 0 and shows < self._silent_credit / 2 and self._seldom_repeats
            )
            stuck_at = self._silent_credit_stuck_at
            if self._back_from_silence is None and missing:
                self._back_from_silence = value
            elif value not in (self._back_from_silence, stuck_at) and self._level != stuck_at:
                credited_at, stuck = self.credited_at, stuck_at is not None
                taken = self._silence_shown()
                if taken and refill is None and credited_at is not None and stuck:
                    # Back from sticking, with no rise: what came while it was stuck was
                    # used as the readings it never sent fell, so the credit they take
                    # back was use (the stuck readings counted none).
                    self._spread(credited_at, ts, taken)
        return refill

    @property
    def repeating_since(self) -> datetime | None:
        """For a sensor that repeats itself whenever nothing is used (a counter, a quiet
        gauge), when the level read last changed (a miscount that the median leaves out
        is no change). None for a noisy sensor (:attr:`stuck` tells when one stops), and
        while a sensor reads below its scale, which shows no level at all."""
        if self._below_scale or len(self._repeats) < 8 or self._seldom_repeats:
            return None
        return self._changed_at

    def _heard_after(self, gap: float) -> bool:
        """A reading came ``gap`` seconds after the last: keep the heartbeat; return
        whether this one came before it was due."""
        gaps = self._gaps
        gaps.append(gap)
        self._heard += 1
        if self._heard % (CADENCE_GAPS // 4) == 0:  # the heartbeat hardly changes
            self._beat = sorted(gaps)[3 * len(gaps) // 4]
        return gap < OFF_BEAT * self._beat

    def believe(
        self, ts: datetime, level: float, *, silent: bool = False, repeated: bool = False
    ) -> None:
        """Take ``level`` as the stock at ``ts``, on news other than the readings.

        The news is a delivery the shop confirmed that the readings show short, or not
        at all: a sensor whose zero drifted down reads less than is there, and once it
        reads empty while stocked it can show no delivery. The difference is credited to
        the level, so that the agent does not order again and again what is already on
        the shelf. A stuck sensor's level dates from its last sign of life; the news is
        newer. The credit only makes up for readings that show too little, but for a
        sensor below its scale, which shows nothing at all: the news is the level.
        ``silent``: the news is deliveries made while the sensor was silent, or stuck,
        which its next readings will show (less the use meanwhile): the credit goes then.
        ``repeated``: the sensor has read one value since before them (a counter stuck
        through them): like a stuck sensor's, that value read again takes nothing back.
        """
        if self._level is None or self._level_ts is None:
            return
        if self.blind and self._level_ts < ts:
            self._pass_blind_time(ts)
        before = self.credit
        self.credit = level - self._shown(self._level)
        if not self._below_scale:
            self.credit = max(self.credit, 0.0)
        self.credited_at = ts
        if silent:
            self._silent_credit += max(self.credit - before, 0.0)
            stuck_at = self._level if repeated else self._last_value if self.stuck else None
            self._silent_credit_stuck_at = stuck_at

    def _silence_shown(self) -> float:
        """The readings show the level again after a silence: deliveries credited
        meanwhile are in them, less the use meanwhile. Returns the credit taken back."""
        shown, self._silent_credit = min(self._silent_credit, self.credit), 0.0
        self._back_from_silence = self._silent_credit_stuck_at = None
        self.credit -= shown
        return shown

    def best_before(self, now: datetime) -> datetime | None:
        """When the stock on the shelf goes past its date.

        The oldest stock goes first, so what is left is always the newest lot: it is
        all gone at the last refill's date (a refill keeps ``shelf_life_days`` from when
        it came). ``None`` for an item that keeps, for stock no refill was seen bringing,
        and for readings that show stock past the date (then the readings are believed).
        """
        days = self.item.shelf_life_days
        if days is None or not self.refills:
            return None
        ends = self.refills[-1].ts + timedelta(days=days)
        return ends if ends > now else None

    @property
    def below_scale(self) -> bool:
        """Whether the zero crept down below the bottom of the scale, which reads nothing
        while there may be stock."""
        return self._below_scale

    def delivered(
        self,
        refill: Refill,
        quantity: float,
        *,
        confirmed: bool = False,
        unseen: Unseen | None = None,
    ) -> None:
        """``refill`` was a delivery of ``quantity`` (the shop's word, in the item's unit).

        A delivery that shows short of what came, while the readings say there was room
        for more, ran the store over: whatever the readings say, it is full now, and
        the sensor's zero has crept down by the difference (left alone, the agent would
        believe it emptier than it is, order early and overflow it again). Only a
        difference the zero's drift can explain is taken, unless the shop said it
        delivered just then (``confirmed``), what shows missing is more than the
        household could use while the delivery was put away, and what shows is not a
        whole number of packs (packs left out of the delivery); else it is a use, a
        short delivery, or not this delivery. A delivery that reads more than the store
        holds, the other way round, shows the zero crept up (a rise of whole packs
        showed it at once; one that ran the store over shows it here). One that shows
        short and reads the store full, as near as a refill shows its size, ran it over
        with the zero where it is believed: the zero is known again there.

        A refill that ended a silence (:meth:`unseen_since`) rose by the delivery less
        the use meanwhile, which only the forecast can put a figure on (``unseen``):
        it shows short only beyond that use's doubt, and the store is taken for full
        only where the shortfall, less the use since the delivery came, keeps to the
        creep down the quiet spells show (the use meanwhile might be anything else).
        """
        if self._rise is None or self._rise[0] is not refill:
            return  # not the last refill, or its rise says nothing
        _, rise, level, silence = self._rise
        if silence is not None:
            if unseen is not None and confirmed:
                self._delivered_unseen(refill, quantity, rise, level, unseen)
            return
        if self._over_capacity(level):
            return  # it filled the store, and the zero crept up
        capacity, tolerance = self.item.capacity, self._refill_tolerance()
        believed = self._believed(level)
        shift = capacity - believed
        if rise >= quantity - self._refill_tolerance(readings=2) or shift < -tolerance:
            return
        if shift <= tolerance:
            # It ran over and reads full: the zero is where it is believed, as near as a
            # refill shows its size. Left to grow, the doubt would order early, and a
            # store kept full that way never reads low enough to bound it.
            if daily_drift(self.item) and not self.item.metered:
                self._zero_is(self.offset, refill.ts)
            return
        # The shop's word that this was the delivery, and no packs left out of it.
        unexplained = confirmed and not self._packs(rise)
        sudden = unexplained and quantity - rise > self._sudden_use()
        if (
            sudden
            or self._could_have_drifted(shift)
            or self._on_the_line(refill.ts, shift)
            or (unexplained and self._crept_down_by(refill.ts, shift))
        ):
            self._zero_is(self.offset - shift, refill.ts)
        elif unexplained:
            self._short.append((refill.ts, self.offset - shift))

    def _delivered_unseen(
        self, refill: Refill, quantity: float, rise: float, level: float, unseen: Unseen
    ) -> None:
        """:meth:`delivered`, for a refill read after a silence."""
        capacity, tolerance = self.item.capacity, self._refill_tolerance()
        believed = self._believed(level)
        if rise + unseen.used >= quantity - tolerance - UNSEEN_DOUBTS * unseen.sd:
            return  # it shows whole, as far as the use meanwhile can be told
        if believed >= capacity - tolerance:
            return
        shift = capacity - unseen.since_delivery - believed
        if shift > tolerance and self._crept_down_by(refill.ts, shift):
            self._zero_is(self.offset - shift, refill.ts)

    def ran_over(self, since: datetime, ts: datetime, came_to: float, used: float) -> bool:
        """A delivery the shop confirmed, that readings sound until it came (``since``)
        showed too little of to be a refill, brought the stock to ``came_to``; ``used``
        was used since. A spike read since may have been the delivery with a use: up, a
        use just after it (the pot eaten as the rest were put away); down, a use just
        before it (a jug of juice poured half an hour before the shopping came, so the
        readings fell and came back). Then nothing is known; nor while a rise read since
        waits for the next reading to confirm it (the scale read the delivery once, then
        dropped out): the readings may yet show it, and how full the store is; nor when
        the readings came back on the scale since (below it, they showed nothing): what
        they showed before the shop's word may be after the delivery.

        If that is more than the store holds, the store ran over: it was full, and a
        zero that drifts has crept down by what the readings show short of that. Left
        alone, the agent would believe the store emptier than it is, and order early and
        run it over again; credited, the stock would seem to fall as the zero went on
        creeping. Known here and where it was known before, the zero gives the creep
        (:meth:`_calibrate`). Returns whether the store ran over.
        """
        if (
            self._level is None
            or self._spiked_since(since)
            or (self._pending is not None and self._pending[0] >= since)
            or self.back_on_scale_since(since)
            or not daily_drift(self.item)  # a counter's zero does not creep
            or self.item.metered  # a new cartridge replaces the old: it never runs over
            or came_to < self.item.capacity - self._refill_tolerance()
        ):
            return False
        shift = self.item.capacity - used - self._believed(self._level)
        if shift > self._refill_tolerance():
            self._zero_is(self.offset - shift, ts)
        return True

    def back_on_scale_since(self, since: datetime) -> bool:
        """Whether the readings came back on the scale at ``since`` or later, after
        reading nothing below it: what they showed then may be a delivery."""
        return self._back_on_scale_at is not None and self._back_on_scale_at >= since

    def rise_waiting(self, since: datetime) -> bool:
        """Whether a rise read at ``since`` or later waits for the next reading, which
        tells a refill from a spike."""
        pending, level = self._pending, self._level
        return (
            pending is not None and level is not None and pending[0] >= since and pending[1] > level
        )

    def unseen_since(self, refill: Refill) -> datetime | None:
        """When the reading was that ``refill`` rose from, if it ended a silence (the
        use meanwhile unknown); None if that reading was recent, or not of it."""
        if self._rise is None or self._rise[0] is not refill:
            return None
        return self._rise[3]

    def _spiked_since(self, since: datetime) -> bool:
        """Whether a spike was read at ``since`` or after."""
        return self._spiked_at is not None and self._spiked_at >= since

    def _over_capacity(self, level: float) -> bool:
        """Whether a refill to ``level`` reads more than the store holds; if so, the zero
        crept up that much, and it is taken out (unless by more than a zero wanders: a
        fault, such as a reading off the scale)."""
        over = self._believed(level) - self.item.capacity
        if over > self._refill_tolerance() and self._could_have_drifted(over):
            self.offset += over
            self._shift_extremes(over)
            return True
        return False

    def _creep_since_zero(self, ts: datetime, offset: float) -> float | None:
        """How fast the zero crept (per hour, negative: down) if it reads ``offset`` high
        at ``ts``, from where it was last known; None before it was known."""
        if self._zero_at is None or ts <= self._zero_at:
            return None
        return (offset - self._zero_offset) / ((ts - self._zero_at) / timedelta(hours=1))

    def _crept_down_by(self, ts: datetime, shift: float) -> bool:
        """Whether a zero ``shift`` lower at ``ts`` keeps to the creep down the quiet
        spells show (taken or not: small uses may look the same), within two sd of the
        fit or :data:`AGREEING_CREEP` of it: then a confirmed delivery showing that much
        short filled the store."""
        # From where it was last known, with any creep already taken since.
        creep = self._creep_since_zero(ts, self.offset - shift)
        rate = -self._quiet.rate
        if creep is None or rate <= 0:
            return False
        return abs(creep + rate) <= max(2 * self._quiet.rate_sd, AGREEING_CREEP * -creep)

    def _on_the_line(self, ts: datetime, shift: float) -> bool:
        """Whether a delivery that shows ``shift`` short at ``ts`` puts the zero on one
        line with the last one that showed short and where the zero was last known."""
        offset_now = self.offset - shift
        since_zero = self._creep_since_zero(ts, offset_now)
        if not self._short or since_zero is None:
            return False
        earlier, offset_then = self._short[-1]
        if self._zero_at is None or earlier <= self._zero_at:
            return False
        # The zero's creep from where it was last known, and between the two shortfalls:
        # two like shortfalls close together agree with any line from far away.
        rates = [since_zero, (offset_now - offset_then) / ((ts - earlier) / timedelta(hours=1))]
        if rates[0] * rates[1] <= 0:
            return False
        return abs(rates[0] - rates[1]) <= AGREEING_CREEP * max(abs(rate) for rate in rates)

    def _packs(self, rise: float) -> bool:
        """Whether ``rise`` is one or more whole packs, as far as a refill can tell."""
        pack, tolerance = self.item.pack_size, self._refill_tolerance()
        return rise >= pack - tolerance and abs(rise - pack * round(rise / pack)) <= tolerance

    def _sudden_use(self) -> float:
        """More than the household could use while a delivery is put away: twice the
        largest use seen between two readings (unbounded until five uses are seen)."""
        if len(self.uses) < 5:
            return math.inf
        return SUDDEN_USE * max(use.quantity for use in self.uses)

    def consumed_between(self, start: datetime, end: datetime) -> float:
        """Net consumption recorded in ``[start, end]``; partial hours count pro rata."""
        return sum(
            self.hourly.get(hour, 0.0) * seconds / _HOUR
            for hour, seconds in hour_overlaps(start, end)
        )

    # --- internals ----------------------------------------------------------------

    def _jump(self, ts: datetime, value: float, heard: datetime | None) -> Refill | None:
        """A jump the next reading confirmed: a refill if up, a big use if down. ``heard``:
        when the reading before it came, whatever it showed."""
        assert self._level is not None
        change = value - self._level
        self._window.clear()
        self._window.append(value)
        self._quiet.close()
        self._quiet.add(ts, value)
        refill = None
        if change > 0:
            refill = Refill(ts, change)
            self.refills.append(refill)
            # The median lags a use just before; a stuck or silent sensor missed some.
            assert self._level_ts is not None
            assert self._last_value is not None
            fresh = self._sound_at(ts)
            # A spike read since the level's last reading may have been this delivery,
            # with a use made just after it (juice poured as the shopping was put away):
            # the rise is the delivery less that use, and says nothing of a store run
            # over (as :meth:`ran_over` knows nothing after a spike either way).
            # A stale reading of a sensor neither stuck nor below its scale was a silence:
            # it still shows the level then, and only the use since is unknown.
            if self._spiked_since(self._level_ts) or self.blind:
                self._rise = None
            else:
                silence = None if fresh else self._level_ts
                self._rise = (refill, value - self._last_value, value, silence)
            if self._below_scale:
                self._back_on_scale(ts, value)
            # A delivery credited before it showed (a stuck or silent sensor) shows now:
            # what came while the sensor was silent whatever the rise (use since made it
            # smaller), else as far as the rise goes.
            shown_late = self._silence_shown()
            if not shown_late:
                shown_late = min(self.credit, change)
                self.credit -= shown_late
            self._plain = refill if fresh and not shown_late else None
            # More than the store holds: the zero crept up at least that much. Stock
            # comes in whole packs, whatever the zero: a rise of some other size is a
            # hand on the shelf that stayed for two readings, or a delivery that ran
            # the store over, which only the order it delivers can tell (delivered).
            if self._packs(change):
                self._over_capacity(value)
            self._pinned_since = ts if self._at_full_scale(value) else None
            if self._pinned_since is not None:
                # The meter shows the end of its scale, so a fresh pack is full whatever
                # its zero: one that reads less used than was would show it less full.
                self.credit = max(self.offset, 0.0)
            elif self.item.metered and heard is not None and ts - heard <= FRESH_READING:
                # A new cartridge replaces the old, so it is full whatever the meter says:
                # a meter that reads it partly used just after shows where its zero crept
                # (read after a gap, it may show use since).
                self.credit = 0.0
                self._zero_is(value - self.item.pack_size, ts)
        elif self._expired_lot(ts, -change):
            self.thrown_away.append(Use(ts, -change))  # not use: it says nothing of demand
        else:
            self._consume(ts, -change)  # from the old level, before it moves
        self._level, self._level_ts, self._last_value = value, ts, value
        self._prune(ts)
        return refill

    def _expired_lot(self, ts: datetime, fall: float) -> bool:
        """Whether a big fall is the rest of a lot thrown away at its best-before date.

        First in, first out: a lot is used up once the stock is no more than what came
        after it. A fall within :data:`EXPIRY_WINDOW` of a lot's date, no larger than
        what is left of it, is that lot going in the bin. What is left is the stock the
        readings show less the newer lots, and the readings are as sure as the zero: a
        lot thrown away that they show a little more of is still the lot
        (:data:`EXPIRY_DOUBTS`, up to twice what they show left). Counted as use, it
        would raise the rate the next orders are sized by, when the household uses too
        little to finish a pack before its date.
        """
        shelf_life = self.item.shelf_life_days
        if shelf_life is None or self._level is None:
            return False
        stock = self._shown(self._level)
        newer = 0.0
        for refill in reversed(self.refills):
            left = stock - newer  # what is left of this lot and the older ones
            if left <= self._use_threshold():
                return False
            best_before = refill.ts + timedelta(days=shelf_life)
            if best_before - EXPIRY_WINDOW[0] <= ts <= best_before + EXPIRY_WINDOW[1]:
                # As far as the level is known, but the doubt finds no more of a lot than
                # the readings show left of it: where they show little, a use is likelier.
                estimate = self.estimate
                assert estimate is not None
                doubt = min(EXPIRY_DOUBTS * estimate.sd, left)
                return fall <= min(left + doubt, refill.quantity) + self.refill_threshold / 2
            newer += refill.quantity
        return False

    @property
    def stuck(self) -> bool:
        """Whether the sensor seems stuck: a noisy sensor repeating one value exactly.

        A sensor that does not repeat itself one time in three, repeating itself
        :data:`STUCK_RUN` times in a row, is more likely stuck than unlucky.
        """
        return self._run >= STUCK_RUN and self._seldom_repeats

    @property
    def _seldom_repeats(self) -> bool:
        """Whether the sensor repeats itself less than one time in three (a noisy one,
        not a counter or a quiet gauge), over enough readings to tell."""
        return len(self._repeats) >= 8 and sum(self._repeats) / len(self._repeats) < 1 / 3

    def _pass_blind_time(self, ts: datetime) -> None:
        """The readings showed nothing from the level's time until ``ts``: what was used
        meanwhile is unknown, not nothing, and a zero below the scale went on creeping."""
        assert self._level_ts is not None
        self.empty_hours.update(range(hour_of(self._level_ts), hour_of(ts) + 1))
        if self._below_scale:
            self.offset += self.creep * (ts - self._level_ts) / timedelta(hours=1)
        self._level_ts = ts

    def _back_on_scale(self, ts: datetime, value: float) -> None:
        """The readings show a level again, after a time below the scale: believed from
        now on."""
        self._pass_blind_time(ts)
        self._below_scale, self.credit = False, 0.0
        self._back_on_scale_at = ts
        self._quiet.close()
        self._window.clear()
        self._window.append(value)
        self._level, self._level_ts, self._last_value = value, ts, value

    def _sound_at(self, ts: datetime) -> bool:
        """Whether the readings are sound up to ``ts``: the level read at most
        :data:`FRESH_READING` before, the sensor neither stuck nor below its scale."""
        return (
            self._level_ts is not None and ts - self._level_ts <= FRESH_READING and not self.blind
        )

    def level_read(self, now: datetime) -> float | None:
        """The stock believed, if the readings are sound up to ``now``; ``None`` if not
        (a stuck, silent or blind sensor's level is a guess)."""
        estimate = self.estimate
        return estimate.level if estimate is not None and self._sound_at(now) else None

    @property
    def blind(self) -> bool:
        """Whether the readings show nothing: a stuck sensor, or one whose zero crept
        down below the bottom of its scale and reads nothing while stocked."""
        return self.stuck or self._below_scale

    def _accept(self, ts: datetime, value: float, *, off_beat: bool) -> None:
        assert self._level is not None
        assert self._last_value is not None
        below = value <= 0 < -self.offset
        if self._below_scale and not below:
            self._back_on_scale(ts, value)
            return
        self._below_scale = below
        if below:
            # There may be up to the creep left: like a stuck sensor's, the reading is
            # no evidence, and the level's time stays at the last one that showed some.
            self._last_value = value
            return
        pinned = self._pinned(ts, value)
        rise = value - self._last_value
        difference = abs(rise)
        assert self._level_ts is not None
        hours = (ts - self._level_ts).total_seconds() / _HOUR
        if difference > self._use_threshold() or hours > self._quiet_gap() or off_beat:
            # A use, a gap that may hide one, or a reading sent for a change (a use too
            # small to tell from noise, maybe) ends a quiet spell.
            self._quiet.close()
        if value == self._last_value:
            self._run += 1
            if self.stuck:
                # Not evidence of anything, neither noise nor use: while stuck, the
                # level's time stays at the last reading that showed life.
                return
            self._repeats.append(True)
        else:
            self._repeats.append(False)
            if self.stuck:
                # Free again: the stuck value says nothing, so start the median afresh.
                self._window.clear()
            self._run = 0
            if 0 < rise < self.refill_threshold / 2:
                # Use only ever lowers the level, so small rises are noise alone.
                self._diffs.append(difference)
        self._last_value = value
        self._quiet.add(ts, value)
        self._window.append(value)
        level = statistics.median(self._window)
        quantity = self._level - level
        # The creep hid this much use: the level fell that much more than it shows.
        creep = self.creep
        hidden = creep * hours
        self.offset += hidden
        self._back_date(ts)
        self._consume(ts, quantity + hidden)
        self._level, self._level_ts = level, ts
        if not self.credit:  # a sensor proven to read low shows nothing of the zero
            self._note_extremes(ts, level - self.offset)
        if pinned is not None:
            self._unpin(pinned, ts, value)

    def _quiet_gap(self) -> float:
        """The longest gap, in hours, a quiet spell goes on across."""
        if not self._beat:
            return QUIET_GAP
        return min(QUIET_GAP, MISSED_BEAT * self._beat / _HOUR)

    def _back_date(self, ts: datetime) -> None:
        """A creep up the quiet spells show, far faster than a zero wanders
        (:data:`CREEP_BACK_DATED`), crept from where the zero was last known, not only
        from when it showed: an item in daily use in doses too small to see has no quiet
        spells until it stands empty. The zero is brought up to that line, and the use
        the creep hid over the hours kept is spread over them. How far the zero may be
        off the line is the fitted rate's own doubt times those hours, not the share of
        the creep the quiet spells may miss (:attr:`drift`): that would leave a hopper
        crept a kilogram half a kilogram unsure, ordered for again and again.
        The rate is the one the sensor's own spells show, its household's other
        sensors not weighed: a faulty household's noisy gauge would otherwise take back
        weeks of a creep its fits only wander into."""
        if self._calibrated is not None or self._zero_at is None or ts <= self._zero_at:
            return
        # Taken back only where the creep is clearly that fast (two sd under the fit),
        # and the line is only ever raised, so only as far as the rate surely goes (one
        # sd under): the fitted rate wanders about the true one, and the highest of its
        # lines would stand.
        rate, sd = self._quiet.own
        if (rate - 2 * sd) * 24 <= CREEP_BACK_DATED * daily_drift(self.item):
            return
        surely = rate - sd
        since = (ts - self._zero_at) / timedelta(hours=1)
        behind = self._zero_offset + surely * since - self.offset
        if behind <= self._use_threshold():
            return
        self.offset += behind
        self._shift_extremes(behind)
        self._taken_back = True
        start = max(self._zero_at, ts - HISTORY)
        self._spread(start, ts, behind * ((ts - start) / (ts - self._zero_at)))

    def _at_full_scale(self, value: float) -> bool:
        """Whether ``value`` is a meter's reading of a full pack: the end of its scale."""
        return self.item.metered and value >= self.item.pack_size - self._refill_tolerance()

    def _pinned(self, ts: datetime, value: float) -> datetime | None:
        """When a meter that starts to count a fresh pack at ``ts`` began to show it
        full (if that was a day of use or more ago, it sat at the end of its scale).

        A meter reads exactly a full pack only at the end of its scale; a reading a
        little under it is the meter counting (far under it, a spike, or a stuck meter
        showing the use it missed).
        """
        since = self._pinned_since
        if since is None or value >= self.item.pack_size or not self._at_full_scale(value):
            return None
        self._pinned_since = None
        return since

    def _unpin(self, since: datetime, ts: datetime, value: float) -> None:
        """A meter counts again at ``ts`` after showing a fresh pack full since ``since``.

        A meter whose zero crept so that it reads less used than was (a level too high)
        shows a fresh pack full until that much has run through it, and a spent one as
        that much left. The household's usual use went on meanwhile, unseen: the meter
        now reads that much more than there is, and that is where its zero is.

        One that counts within a day (:data:`PINNED`) shows its zero all the same, as a
        full store does a load cell's: no higher than the use it may have missed, no
        lower than a fresh pack's full scale. Else no fresh cartridge ever showed a
        meter that does not creep its zero, the doubt about it grew for good, and after
        half a year a cartridge was ordered every four days with 140 L of 150 left.
        """
        used = self._usual_use(since) * ((ts - since) / timedelta(hours=1))
        shift = value - (self.item.pack_size - used)
        before, self.credit = self.offset, 0.0
        if ts - since < PINNED or shift > self._use_threshold():
            self._zero_is(max(shift, 0.0), ts)
        self._spread(since, ts, self.offset - before)

    def _usual_use(self, before: datetime) -> float:
        """The use per hour on a median day of use of the week before ``before`` (a
        spent pack waiting for the next one used nothing, and a faulty sensor's jumps
        make a day of much use now and then)."""
        end = hour_of(before)
        days = [
            sum(self.hourly.get(hour, 0.0) for hour in range(start, start + 24))
            for start in range(end - USUAL_DAYS * 24, end, 24)
        ]
        used = [day for day in days if day > 0]
        return statistics.median(used) / 24 if len(used) >= 3 else 0.0

    def _shown(self, level: float) -> float:
        """The stock a median of readings shows, once the creep is allowed for."""
        return max(level - self.offset, 0.0)

    def _believed(self, level: float) -> float:
        """The stock believed: what the readings show, and what a delivery proved."""
        return self._shown(level) + self.credit

    def _refill_tolerance(self, readings: int = 1) -> float:
        """How far a refill may show off its true size: the sensor's noise, a small use.
        A rise read from one reading to the next (``readings=2``) is as noisy as both."""
        return max(4 * math.sqrt(readings) * self.noise, SHORT_DELIVERY * self.item.pack_size)

    @property
    def use_floor(self) -> float:
        """The least a use can be, however quiet the sensor: less is no use seen."""
        return USE_FLOOR * self.item.pack_size

    def _use_threshold(self) -> float:
        return max(3 * self.noise, self.use_floor)

    def _consume(self, ts: datetime, quantity: float) -> None:
        """Record ``quantity`` used (negative: given back) since the level's last time."""
        assert self._level_ts is not None
        assert self._level is not None
        start = self._level_ts
        # The use of about the last day: how much of it came in falls big enough to be uses.
        fade = math.exp(-(ts - start) / USE_MEMORY) if ts > start else 1.0
        self._used_in_uses *= fade
        self._used *= fade
        if quantity > self._use_threshold():
            self.uses.append(Use(ts, quantity))
            self._used_in_uses += quantity
        self._used += max(quantity, 0.0)
        self._spread(start, ts, quantity)
        if self._believed(self._level) <= self.empty_below:
            # Empty since ``start``. The hour ``start`` falls in holds the use that
            # emptied the store (or an earlier reading marked it already): only the
            # hours that begin after it are unseen.
            self.empty_hours.update(range(hours_from(start), hour_of(ts) + 1))
        self._prune(ts)

    def _spread(self, start: datetime, end: datetime, quantity: float) -> None:
        """Count ``quantity`` used over ``[start, end]``, pro rata by the hour."""
        if not quantity:
            return
        span = (end - start).total_seconds()
        shares = list(hour_overlaps(start, end)) if span > 0 else []
        if not shares:
            shares, span = [(hour_of(end), 1.0)], 1.0
        for hour, seconds in shares:
            self.hourly[hour] = self.hourly.get(hour, 0.0) + quantity * seconds / span

    def _prune(self, ts: datetime) -> None:
        """Forget hours older than :data:`HISTORY`, once a day."""
        now = hour_of(ts)
        if now < self._next_prune:
            return
        self._next_prune = now + 24
        horizon = hour_of(ts - HISTORY)
        for hour in [h for h in self.hourly if h < horizon]:
            del self.hourly[hour]
        self.empty_hours = {h for h in self.empty_hours if h >= horizon}
