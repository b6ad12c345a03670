"""How a household uses its consumables: a seeded, sans-I/O consumption model.

Each item has a :class:`UsagePattern`: the times of day it is used (breakfast, dinner,
an evening dishwasher run, ...), how weekends differ, and whether each use takes a fixed
dose (a washer's auto-dosing, one dishwasher tablet). Over a long run, an item's mean
daily use is ``pack_size / cycle_days``; single days vary around it.

Times of day are in UTC, the scenario clock's zone. The same items, seed and days
always give the same events, and each item draws from its own random stream, so adding
an item to a scenario does not change how the others are used.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from edge_agent.catalog import Device, ItemSpec, SensorKind
from simulators.errors import SimulatorError
from simulators.scenario import Scenario

#: The shape of the gamma noise on each use: the coefficient of variation is 1/sqrt(4).
_NOISE_SHAPE = 4.0
_LAST_SECOND = 24 * 3600 - 1


@dataclass(frozen=True, slots=True)
class Consumption:
    """At ``ts`` the household used ``quantity`` (in the item's unit) of ``item``."""

    ts: datetime
    item: str
    quantity: float


@dataclass(frozen=True, slots=True)
class Occasion:
    """A time of day an item is used, and the share of the day's use it takes."""

    hour: float
    share: float
    spread_minutes: float = 20.0

    def __post_init__(self) -> None:
        if not 0 <= self.hour < 24:
            raise ValueError(f"occasion hour must be in [0, 24), got {self.hour}")
        if self.share <= 0 or self.spread_minutes < 0:
            raise ValueError("occasion share must be positive and spread not negative")


@dataclass(frozen=True, slots=True)
class UsagePattern:
    """When and how an item is used on weekdays and weekends.

    Without a ``dose`` the day's use is split over the occasions by share, each amount
    random around its mean. With a ``dose`` (min, max) the household makes whole uses
    (washes, dishwasher runs) of a dose drawn from that range, at occasions picked by
    share, as many as the day's use calls for on average.
    """

    weekday: tuple[Occasion, ...]
    weekend: tuple[Occasion, ...]
    #: Use on a weekend day relative to a weekday; the weekly mean stays the same.
    weekend_factor: float = 1.0
    dose: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        for name, occasions in (("weekday", self.weekday), ("weekend", self.weekend)):
            if not occasions or not math.isclose(sum(o.share for o in occasions), 1.0):
                raise ValueError(f"{name} occasions must be given and their shares sum to 1")
        if self.weekend_factor <= 0:
            raise ValueError("weekend_factor must be positive")
        if self.dose is not None and not 0 < self.dose[0] <= self.dose[1]:
            raise ValueError(f"dose needs 0 < min <= max, got {self.dose}")

    def occasions(self, weekend: bool) -> tuple[Occasion, ...]:
        return self.weekend if weekend else self.weekday

    def day_factor(self, weekend: bool) -> float:
        """How much of the mean daily use falls on this kind of day."""
        week = 5 + 2 * self.weekend_factor
        return (self.weekend_factor if weekend else 1.0) * 7 / week


BREAKFAST = UsagePattern(
    weekday=(Occasion(7.0, 0.75), Occasion(16.5, 0.25)),
    weekend=(Occasion(9.0, 0.7), Occasion(16.0, 0.3)),
    weekend_factor=1.2,
)
JUICE = UsagePattern(
    weekday=(Occasion(7.0, 1.0),),
    weekend=(Occasion(9.0, 0.7), Occasion(12.5, 0.3)),
    weekend_factor=1.3,
)
YOGURT = UsagePattern(
    weekday=(Occasion(7.0, 0.6), Occasion(19.5, 0.4)),
    weekend=(Occasion(9.5, 0.6), Occasion(19.5, 0.4)),
    weekend_factor=1.1,
)
COFFEE = UsagePattern(
    weekday=(Occasion(6.75, 0.6), Occasion(13.5, 0.4)),
    weekend=(Occasion(8.5, 0.5), Occasion(15.0, 0.5)),
    weekend_factor=1.1,
)
DINNER = UsagePattern(
    weekday=(Occasion(18.5, 1.0),),
    weekend=(Occasion(10.0, 0.5), Occasion(18.5, 0.5)),
    weekend_factor=1.4,
)
MEALS = UsagePattern(
    weekday=(Occasion(7.0, 0.3), Occasion(12.5, 0.2), Occasion(18.5, 0.5)),
    weekend=(Occasion(9.0, 0.3), Occasion(13.0, 0.3), Occasion(18.5, 0.4)),
    weekend_factor=1.2,
)
LAUNDRY = UsagePattern(
    weekday=(Occasion(19.0, 1.0, spread_minutes=45),),
    weekend=(Occasion(10.0, 0.6, spread_minutes=45), Occasion(15.0, 0.4, spread_minutes=45)),
    weekend_factor=1.8,
    dose=(60.0, 80.0),
)
DISHWASHER = UsagePattern(
    weekday=(Occasion(21.0, 1.0, spread_minutes=30),),
    weekend=(Occasion(14.5, 0.4, spread_minutes=30), Occasion(21.0, 0.6, spread_minutes=30)),
    weekend_factor=1.15,
    dose=(1.0, 1.0),
)
DRINKING_WATER = UsagePattern(
    weekday=(
        Occasion(7.0, 0.2),
        Occasion(8.0, 0.1),
        Occasion(12.5, 0.1),
        Occasion(16.0, 0.15),
        Occasion(18.0, 0.25),
        Occasion(20.5, 0.2),
    ),
    weekend=(
        Occasion(8.5, 0.2),
        Occasion(11.0, 0.15),
        Occasion(13.0, 0.2),
        Occasion(16.0, 0.15),
        Occasion(18.5, 0.2),
        Occasion(21.0, 0.1),
    ),
    weekend_factor=1.2,
)

#: Patterns for well-known items, looked up by item id first.
ITEM_PATTERNS: Mapping[str, UsagePattern] = {
    "milk": BREAKFAST,
    "coffee": COFFEE,
    "juice": JUICE,
    "yogurt": YOGURT,
    "eggs": DINNER,
}
#: Otherwise an item is used the way its appliance is.
DEVICE_PATTERNS: Mapping[Device, UsagePattern] = {
    Device.FRIDGE: MEALS,
    Device.WASHER: LAUNDRY,
    Device.DISHWASHER: DISHWASHER,
    Device.COFFEE_MACHINE: COFFEE,
    Device.WATER_FILTER: DRINKING_WATER,
}


def mean_daily_use(item: ItemSpec) -> float:
    """``pack_size / cycle_days``: the long-run use per day, in the item's unit."""
    if item.cycle_days is None:
        raise SimulatorError(f"item {item.id!r} has no cycle_days, so its use is unknown")
    return item.pack_size / item.cycle_days


def pattern_for(
    item: ItemSpec, patterns: Mapping[str, UsagePattern] = ITEM_PATTERNS
) -> UsagePattern:
    """The usage pattern of ``item``: by its id if known, else by its appliance."""
    return patterns.get(item.id) or DEVICE_PATTERNS[item.device]


class ConsumptionModel:
    """Seeded consumption of a set of items, day by day, as time-ordered events."""

    def __init__(
        self,
        items: Sequence[ItemSpec],
        *,
        seed: int,
        patterns: Mapping[str, UsagePattern] = ITEM_PATTERNS,
    ) -> None:
        self._items = tuple(items)
        self._seed = seed
        self._patterns = {item.id: pattern_for(item, patterns) for item in self._items}
        self._means = {item.id: mean_daily_use(item) for item in self._items}

    @classmethod
    def for_scenario(cls, scenario: Scenario) -> ConsumptionModel:
        return cls(scenario.items, seed=scenario.household.seed)

    def events(self, start: datetime, days: int) -> Iterator[Consumption]:
        """Every use in ``[start, start + days)``, in time order; the same on every call."""
        if start.tzinfo is None:
            raise SimulatorError("the consumption model needs a timezone-aware start")
        start = start.astimezone(UTC)
        end = start + timedelta(days=days)
        rngs = {item.id: random.Random(f"{self._seed}/{item.id}") for item in self._items}
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        day = midnight
        while day < end:
            per_item = [self._day(item, day, rngs[item.id]) for item in self._items]
            for event in heapq.merge(*per_item, key=lambda e: e.ts):
                if start <= event.ts < end:
                    yield event
            day += timedelta(days=1)

    def _day(self, item: ItemSpec, day: datetime, rng: random.Random) -> list[Consumption]:
        pattern = self._patterns[item.id]
        weekend = day.weekday() >= 5
        target = self._means[item.id] * pattern.day_factor(weekend)
        occasions = pattern.occasions(weekend)
        whole = item.sensor is SensorKind.COUNT
        uses: list[tuple[Occasion, float]]
        if pattern.dose is None:
            uses = [
                (o, target * o.share * rng.gammavariate(_NOISE_SHAPE, 1 / _NOISE_SHAPE))
                for o in occasions
            ]
        else:
            low, high = pattern.dose
            count = _whole_units((target / ((low + high) / 2)), rng)
            picked = rng.choices(occasions, weights=[o.share for o in occasions], k=count)
            uses = [(o, rng.uniform(low, high)) for o in picked]
        events = []
        for occasion, amount in uses:
            quantity = float(_whole_units(amount, rng)) if whole else amount
            if quantity > 0:
                events.append(Consumption(_time_of_day(day, occasion, rng), item.id, quantity))
        events.sort(key=lambda e: e.ts)
        return events


def scenario_consumption(scenario: Scenario) -> Iterator[Consumption]:
    """The household's uses over the whole scenario, in time order."""
    model = ConsumptionModel.for_scenario(scenario)
    return model.events(scenario.start, scenario.household.days)


def _whole_units(amount: float, rng: random.Random) -> int:
    """Round ``amount`` up or down at random so that the mean stays ``amount``."""
    floor = math.floor(amount)
    return floor + (1 if rng.random() < amount - floor else 0)


def _time_of_day(day: datetime, occasion: Occasion, rng: random.Random) -> datetime:
    seconds = occasion.hour * 3600 + rng.gauss(0.0, occasion.spread_minutes * 60)
    return day + timedelta(seconds=round(min(max(seconds, 0.0), _LAST_SECOND)))
