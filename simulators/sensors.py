"""What an appliance's sensor reports for one item: the true level, seen through its faults.

Sans-I/O and deterministic: an :class:`ItemSensor` is built from a seed and the span of a
scenario, draws its fault episodes up front, and turns ``(now, true_level)`` into the
value the device would report. Each fault draws from its own random stream
(:func:`fault_rng`), so switching one fault on or off never changes another's draws.

Spikes are drawn here, per item, but applied by the firmware
(:mod:`simulators.firmware`), because a spike is a pair of messages, not a value.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from edge_agent.catalog import Device, ItemSpec, SensorKind
from simulators.scenario import SensorSettings

_DAY = timedelta(days=1)
_GRAMS_PER_UNIT = {"g": 1.0, "kg": 1000.0}
#: Decimal places a load cell reports, by unit; other units report whole numbers.
_WEIGHT_DECIMALS = {"kg": 3}
#: Decimal places a level gauge reports, by unit; other units report whole numbers.
_LEVEL_DECIMALS = {"L": 1, "l": 1, "ml": 0}
#: A counter's spike is a miscount of this many extra units, at least and at most.
_MISCOUNT = (1, 3)


@dataclass(frozen=True, slots=True)
class Episode:
    """A span in which a fault holds: from ``start`` up to, but not including, ``end``."""

    start: datetime
    end: datetime

    def covers(self, when: datetime) -> bool:
        return self.start <= when < self.end


@dataclass(frozen=True, slots=True)
class Spike:
    """A transient reading at ``at``, ``lift`` above the measured value, corrected at ``until``."""

    at: datetime
    until: datetime
    lift: float


def fault_rng(seed: int, household: str, owner: str, fault: str) -> random.Random:
    """The random stream of one fault (``"noise"``, ...) of one item or device (``owner``)."""
    return random.Random(f"{seed}/{household}/{owner}/{fault}")


def draw_episodes(
    rng: random.Random,
    start: datetime,
    end: datetime,
    *,
    per_day: float,
    length: Callable[[], timedelta],
) -> tuple[Episode, ...]:
    """Episodes starting in ``[start, end)`` at Poisson rate ``per_day``, lasting ``length()``.

    The clock of arrivals stops during an episode, so episodes never overlap.
    """
    if per_day <= 0:
        return ()
    episodes: list[Episode] = []
    at = start
    while True:
        gap_days = rng.expovariate(per_day)
        # Compare in days first: a tiny rate would overflow a datetime.
        if gap_days >= (end - at) / _DAY:
            return tuple(episodes)
        at += timedelta(days=gap_days)
        episode = Episode(at, at + length())
        episodes.append(episode)
        at = episode.end
        if at >= end:
            return tuple(episodes)


def reported_quantity(item: ItemSpec, level: float) -> float:
    """The quantity a device reports for ``item`` when ``level`` is in stock, before faults.

    Every device reports the level, except the water filter: it meters the litres that
    have run through the installed cartridge (one pack; spares are counted in
    ``level``), and a spent filter with no spare reads a full ``pack_size``.
    """
    if item.device != Device.WATER_FILTER:
        return level
    if level <= 0:
        return item.pack_size
    installed = level - item.pack_size * (math.ceil(level / item.pack_size) - 1)
    return item.pack_size - installed


def _decimals(item: ItemSpec) -> int:
    match item.sensor:
        case SensorKind.WEIGHT:
            return _WEIGHT_DECIMALS.get(item.unit, 0)
        case SensorKind.LEVEL:
            return _LEVEL_DECIMALS.get(item.unit, 0)
        case SensorKind.COUNT:
            return 0


def _noise_sd(item: ItemSpec, settings: SensorSettings) -> float:
    noise = settings.noise
    if noise is None:
        return 0.0
    match item.sensor:
        case SensorKind.WEIGHT:
            return noise.grams / _GRAMS_PER_UNIT.get(item.unit, 1.0)
        case SensorKind.LEVEL:
            return noise.level * item.capacity
        case SensorKind.COUNT:
            return 0.0


class ItemSensor:
    """How one appliance senses one item over ``[start, end]``: noise, drift, stuck, spikes.

    :meth:`sample` is the value reported at an instant. Noise draws from its stream once
    per sample; drift is a pure function of time; stuck episodes and spikes are drawn at
    construction and exposed as :attr:`stuck` and :attr:`spikes`.
    """

    def __init__(
        self,
        item: ItemSpec,
        settings: SensorSettings,
        *,
        seed: int,
        household: str,
        start: datetime,
        end: datetime,
    ) -> None:
        self.item = item
        self.start = start
        self._decimals = _decimals(item)
        self._noise_sd = _noise_sd(item, settings)
        self._noise = fault_rng(seed, household, item.id, "noise")
        self._creep, self._cycle, self._phase = self._draw_drift(
            settings, fault_rng(seed, household, item.id, "tare_drift")
        )
        self.stuck = self._draw_stuck(
            settings, fault_rng(seed, household, item.id, "stuck"), start, end
        )
        self._stuck_starts = [episode.start for episode in self.stuck]
        self.spikes = self._draw_spikes(
            settings, fault_rng(seed, household, item.id, "spikes"), start, end
        )
        self._last: float | None = None
        self._frozen: tuple[Episode, float] | None = None

    def _draw_drift(
        self, settings: SensorSettings, rng: random.Random
    ) -> tuple[float, float, float]:
        drift = settings.tare_drift
        if drift is None or self.item.sensor == SensorKind.COUNT:
            return 0.0, 0.0, 0.0
        capacity = self.item.capacity
        creep = rng.gauss(0.0, drift.per_day * capacity)
        return creep, drift.daily * capacity, rng.uniform(0.0, 2 * math.pi)

    @staticmethod
    def _draw_stuck(
        settings: SensorSettings, rng: random.Random, start: datetime, end: datetime
    ) -> tuple[Episode, ...]:
        stuck = settings.stuck
        if stuck is None:
            return ()
        return draw_episodes(
            rng,
            start,
            end,
            per_day=stuck.per_week / 7,
            length=lambda: timedelta(hours=rng.uniform(*stuck.hours)),
        )

    def _draw_spikes(
        self, settings: SensorSettings, rng: random.Random, start: datetime, end: datetime
    ) -> tuple[Spike, ...]:
        spikes = settings.spikes
        if spikes is None:
            return ()
        episodes = draw_episodes(
            rng,
            start,
            end,
            per_day=spikes.per_day,
            length=lambda: timedelta(seconds=spikes.seconds),
        )
        if self.item.sensor == SensorKind.COUNT:
            lifts = [float(rng.randint(*_MISCOUNT)) for _ in episodes]
        else:
            lifts = [rng.uniform(*spikes.size) * self.item.capacity for _ in episodes]
        return tuple(
            Spike(episode.start, episode.end, lift)
            for episode, lift in zip(episodes, lifts, strict=True)
        )

    def offset(self, now: datetime) -> float:
        """The tare drift at ``now``, in the item's unit: a creep plus a daily cycle."""
        days = (now - self.start) / _DAY
        return self._creep * days + self._cycle * math.sin(2 * math.pi * days + self._phase)

    def stuck_at(self, now: datetime) -> Episode | None:
        """The stuck episode covering ``now``, if any."""
        index = bisect_right(self._stuck_starts, now) - 1
        if index >= 0 and self.stuck[index].covers(now):
            return self.stuck[index]
        return None

    def quantize(self, value: float) -> float:
        """``value`` as the device reports it: rounded to its unit's places, never negative."""
        rounded = round(value, self._decimals)
        return rounded if rounded > 0 else 0.0

    def sample(self, now: datetime, true_level: float) -> float:
        """The value the sensor reports at ``now`` when ``true_level`` is in stock.

        Call it with non-decreasing ``now``: a stuck sensor keeps the value of its last
        sample before it stuck.
        """
        # Measure even when stuck, so the noise stream stays in step with the calls
        # whether or not the sensor sticks.
        measured = self._measure(now, true_level)
        episode = self.stuck_at(now)
        if episode is None:
            self._last = measured
            return measured
        if self._frozen is None or self._frozen[0] != episode:
            self._frozen = (episode, self._last if self._last is not None else measured)
        return self._frozen[1]

    def _measure(self, now: datetime, true_level: float) -> float:
        value = reported_quantity(self.item, true_level) + self.offset(now)
        if self._noise_sd > 0:
            value += self._noise.gauss(0.0, self._noise_sd)
        return self.quantize(value)
