"""How a household uses its consumables: a seeded, sans-I/O consumption model.

Each item has a mean daily use (:func:`mean_daily_use`): the scenario's
``[model] daily_use`` if given, else ``pack_size / cycle_days``, else a typical use per
person for its appliance (:data:`TYPICAL_USE`) times the people living there. Its
:class:`UsagePattern` says when that use happens: the times of day (breakfast, dinner, an
evening dishwasher run, ...), how much more a weekend day takes than a weekday, and
whether each use is a fixed dose (a washer's auto-dosing, one dishwasher tablet).

The ``[model]`` table (:class:`~simulators.scenario.ModelSettings`) shapes it further:

- ``people``: more people make each day's use less noisy (and set the typical use);
- ``weekend_factor`` and ``use_days`` move use between weekdays, keeping the weekly mean;
- ``away``: nobody is home, so nothing is used and nothing is bought by hand;
- ``guests``: use scales with the people at home, ``(people + guests) / people``;
- ``shifts``: from a moment on, an item is used ``factor`` times as much, for good;
- ``purchases`` and ``hand_bought_per_week``: packs brought home by hand
  (:meth:`ConsumptionModel.purchases`), not ordered through Restock.

Times are in UTC, the scenario clock's zone, and weekdays are UTC weekdays. The same
items, settings, seed and days always give the same events, and each item draws from its
own random streams, so adding an item to a scenario does not change how the others are
used or bought.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from edge_agent.catalog import Device, ItemSpec, SensorKind
from simulators.errors import SimulatorError
from simulators.scenario import WEEKDAYS, ModelSettings, Scenario

#: The shape of the gamma noise on each use, per person living there: with ``p`` people
#: a use's coefficient of variation is ``1 / sqrt(2 p)``, as many people's habits average out.
_NOISE_SHAPE_PER_PERSON = 2.0
_LAST_SECOND = 24 * 3600 - 1

#: The ``[model]`` of a scenario without one: two people at home, no habit changes.
DEFAULT_MODEL = ModelSettings()


@dataclass(frozen=True, slots=True)
class Consumption:
    """At ``ts`` the household used ``quantity`` (in the item's unit) of ``item``."""

    ts: datetime
    item: str
    quantity: float


@dataclass(frozen=True, slots=True)
class HandPurchase:
    """At ``ts`` someone brought home ``packs`` of ``item`` by hand, not through Restock."""

    ts: datetime
    item: str
    packs: int


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
class Dose:
    """What one use of a dosing appliance takes (a wash, a dishwasher run), as (min,
    max): ``amount`` in grams or millilitres (converted to the item's unit), ``pieces``
    for an item counted in pieces (pods, tablets) or in a unit that is neither."""

    amount: tuple[float, float]
    pieces: tuple[float, float] = (1.0, 1.0)

    def __post_init__(self) -> None:
        for low, high in (self.amount, self.pieces):
            if not 0 < low <= high:
                raise ValueError(f"a dose needs 0 < min <= max, got {(low, high)}")

    def of(self, item: ItemSpec) -> tuple[float, float]:
        """The dose in ``item``'s unit."""
        scale = UNITS.get(item.unit.lower())
        if item.sensor is SensorKind.COUNT or scale is None:
            return self.pieces
        low, high = self.amount
        return low / scale[1], high / scale[1]


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
    dose: Dose | None = None

    def __post_init__(self) -> None:
        for name, occasions in (("weekday", self.weekday), ("weekend", self.weekend)):
            if not occasions or not math.isclose(sum(o.share for o in occasions), 1.0):
                raise ValueError(f"{name} occasions must be given and their shares sum to 1")
        if self.weekend_factor <= 0:
            raise ValueError("weekend_factor must be positive")

    def occasions(self, weekend: bool) -> tuple[Occasion, ...]:
        return self.weekend if weekend else self.weekday

    def week(
        self, *, weekend_factor: float = 1.0, days: Collection[str] = WEEKDAYS
    ) -> tuple[float, ...]:
        """Each weekday's use (Monday first) relative to the mean daily use.

        Only ``days`` (names from ``WEEKDAYS``) see use, and a weekend day takes
        ``self.weekend_factor * weekend_factor`` times a weekday; the seven sum to 7.
        """
        weekend = self.weekend_factor * weekend_factor
        weights = [
            (weekend if index >= 5 else 1.0) if name in days else 0.0
            for index, name in enumerate(WEEKDAYS)
        ]
        total = sum(weights)
        return tuple(7 * weight / total for weight in weights)


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
    dose=Dose(amount=(60.0, 80.0)),  # ml of liquid or g of powder; or one pod
)
DISHWASHER = UsagePattern(
    weekday=(Occasion(21.0, 1.0, spread_minutes=30),),
    weekend=(Occasion(14.5, 0.4, spread_minutes=30), Occasion(21.0, 0.6, spread_minutes=30)),
    weekend_factor=1.15,
    dose=Dose(amount=(15.0, 25.0)),  # g of powder or ml of gel; or one tablet
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


@dataclass(frozen=True, slots=True)
class TypicalUse:
    """How much of an item a household uses a day: ``per_person`` each plus ``per_household``.

    ``unit`` is ``"g"`` or ``"ml"``; ``None`` counts whole pieces (eggs, tablets,
    capsules), whatever the item calls them.
    """

    per_person: float
    unit: str | None
    per_household: float = 0.0

    def in_unit(self, unit: str, people: int) -> float | None:
        """The daily use of ``people`` in ``unit``, or ``None`` if ``unit`` does not fit."""
        amount = self.per_person * people + self.per_household
        scale = UNITS.get(unit.lower())
        if self.unit is None:
            # A counter counts pieces; an item counted in grams or litres is a mistake.
            return amount if scale is None else None
        if scale is None or scale[0] != self.unit:
            return None
        return amount / scale[1]


#: Units of mass and volume, as (base unit, how many of it one makes). Others name pieces.
UNITS: Mapping[str, tuple[str, float]] = {
    "g": ("g", 1.0),
    "kg": ("g", 1000.0),
    "ml": ("ml", 1.0),
    "cl": ("ml", 10.0),
    "dl": ("ml", 100.0),
    "l": ("ml", 1000.0),
}

#: Typical use of an item by its appliance and sensor, for items without a ``cycle_days``.
#: Rough figures for a European household; a scenario's ``daily_use`` overrides them.
TYPICAL_USE: Mapping[tuple[Device, SensorKind], TypicalUse] = {
    # A fridge item on a load cell or gauge: milk, yogurt, juice, cheese.
    (Device.FRIDGE, SensorKind.WEIGHT): TypicalUse(150.0, "g"),
    (Device.FRIDGE, SensorKind.LEVEL): TypicalUse(150.0, "ml"),
    (Device.FRIDGE, SensorKind.COUNT): TypicalUse(0.5, None),  # eggs
    # Detergent: a 70 ml load every five person-days, plus one a week for bed linen.
    (Device.WASHER, SensorKind.LEVEL): TypicalUse(15.0, "ml", per_household=10.0),
    (Device.WASHER, SensorKind.WEIGHT): TypicalUse(15.0, "g", per_household=10.0),
    (Device.WASHER, SensorKind.COUNT): TypicalUse(0.2, None, per_household=0.15),  # pods
    # Dishwasher: a run a day for four people, one every two or three days for one.
    (Device.DISHWASHER, SensorKind.COUNT): TypicalUse(0.2, None, per_household=0.2),
    (Device.DISHWASHER, SensorKind.WEIGHT): TypicalUse(4.0, "g", per_household=4.0),
    (Device.DISHWASHER, SensorKind.LEVEL): TypicalUse(4.0, "ml", per_household=4.0),
    # Coffee: two or three cups a day, about 7 g of beans each.
    (Device.COFFEE_MACHINE, SensorKind.WEIGHT): TypicalUse(18.0, "g"),
    (Device.COFFEE_MACHINE, SensorKind.COUNT): TypicalUse(2.0, None),  # capsules
    # Filtered water for drinking and cooking.
    (Device.WATER_FILTER, SensorKind.LEVEL): TypicalUse(2000.0, "ml"),
}


def mean_daily_use(item: ItemSpec, model: ModelSettings = DEFAULT_MODEL) -> float:
    """The long-run use per day of ``item``, in its unit, in the household ``model`` describes.

    In order: ``model.daily_use[item.id]``; ``pack_size / cycle_days``; the typical use of
    ``model.people`` (:data:`TYPICAL_USE`); and, for an appliance, sensor or unit the table
    does not know, a pack a week.
    """
    if item.id in model.daily_use:
        return model.daily_use[item.id]
    if item.cycle_days is not None:
        return item.pack_size / item.cycle_days
    typical = TYPICAL_USE.get((item.device, item.sensor))
    amount = None if typical is None else typical.in_unit(item.unit, model.people)
    return item.pack_size / 7 if amount is None else amount


def people_at(model: ModelSettings, ts: datetime) -> int:
    """How many people are at home at ``ts``: none while away, more while guests stay."""
    if any(away.start <= ts < away.end for away in model.away):
        return 0
    return model.people + sum(g.people for g in model.guests if g.start <= ts < g.end)


def shift_factor(model: ModelSettings, item_id: str, ts: datetime) -> float:
    """How much the habit shifts begun by ``ts`` multiply the use of ``item_id``."""
    factor = 1.0
    for shift in model.shifts:
        if shift.at <= ts and (not shift.items or item_id in shift.items):
            factor *= shift.factor
    return factor


def pattern_for(
    item: ItemSpec, patterns: Mapping[str, UsagePattern] = ITEM_PATTERNS
) -> UsagePattern:
    """The usage pattern of ``item``: by its id if known, else by its appliance."""
    return patterns.get(item.id) or DEVICE_PATTERNS[item.device]


#: When people shop by hand, by weekday (Monday is 0): hours (from, to), UTC.
#: After work on weekdays and on Saturday morning.
SHOPPING_HOURS: Mapping[int, tuple[float, float]] = {
    0: (17.0, 19.5),
    1: (17.0, 19.5),
    2: (17.0, 19.5),
    3: (17.0, 19.5),
    4: (17.0, 19.5),
    5: (9.0, 12.0),
}
_SHOPPING_HOURS_PER_WEEK = sum(close - open_ for open_, close in SHOPPING_HOURS.values())


class ConsumptionModel:
    """Seeded consumption of a set of items, day by day, as time-ordered events.

    ``model`` is the scenario's ``[model]`` table: who lives here and how their habits
    change. Settings naming items that are not among ``items`` are ignored.
    """

    def __init__(
        self,
        items: Sequence[ItemSpec],
        *,
        seed: int,
        model: ModelSettings = DEFAULT_MODEL,
        patterns: Mapping[str, UsagePattern] = ITEM_PATTERNS,
    ) -> None:
        self._items = tuple(items)
        self._seed = seed
        self._model = model
        self._patterns = {item.id: pattern_for(item, patterns) for item in self._items}
        self._means = {item.id: mean_daily_use(item, model) for item in self._items}
        self._weeks = {
            item.id: self._patterns[item.id].week(
                weekend_factor=model.weekend_factor,
                days=model.use_days.get(item.id, WEEKDAYS),
            )
            for item in self._items
        }
        self._noise_shape = _NOISE_SHAPE_PER_PERSON * model.people

    @classmethod
    def for_scenario(cls, scenario: Scenario) -> ConsumptionModel:
        return cls(scenario.items, seed=scenario.household.seed, model=scenario.model)

    def events(self, start: datetime, days: int) -> Iterator[Consumption]:
        """Every use in ``[start, start + days)``, in time order; the same on every call."""
        start, end = _window(start, days)
        rngs = {item.id: random.Random(f"{self._seed}/{item.id}") for item in self._items}
        for day in _midnights(start, end):
            per_item = [self._day(item, day, rngs[item.id]) for item in self._items]
            for event in heapq.merge(*per_item, key=lambda e: e.ts):
                if start <= event.ts < end:
                    yield event

    def purchases(self, start: datetime, days: int) -> tuple[HandPurchase, ...]:
        """Packs brought home by hand in ``[start, start + days)``, in time order.

        The ``[model] purchases`` as given, plus for each item a Poisson process of
        ``hand_bought_per_week`` single packs in :data:`SHOPPING_HOURS`, while someone is home.
        """
        start, end = _window(start, days)
        known = set(self._patterns)
        bought = [
            HandPurchase(p.at, p.item, p.packs)
            for p in self._model.purchases
            if p.item in known and start <= p.at < end
        ]
        for item in self._items:
            bought.extend(self._hand_bought(item.id, start, end))
        return tuple(sorted(bought, key=lambda p: (p.ts, p.item)))

    def _scale(self, item_id: str, ts: datetime) -> float:
        """The use at ``ts`` relative to the household's usual: who is home, shifted habits."""
        model = self._model
        return people_at(model, ts) / model.people * shift_factor(model, item_id, ts)

    def _day(self, item: ItemSpec, day: datetime, rng: random.Random) -> list[Consumption]:
        target = self._means[item.id] * self._weeks[item.id][day.weekday()]
        if target <= 0:
            return []
        pattern = self._patterns[item.id]
        occasions = pattern.occasions(day.weekday() >= 5)
        if pattern.dose is None:
            uses = self._shared_uses(item, day, target, occasions, rng)
        else:
            uses = self._dosed_uses(item, day, target, occasions, pattern.dose.of(item), rng)
        whole = item.sensor is SensorKind.COUNT
        events = []
        for ts, amount in uses:
            quantity = float(_whole_units(amount, rng)) if whole else amount
            if quantity > 0 and people_at(self._model, ts) > 0:
                events.append(Consumption(ts, item.id, quantity))
        events.sort(key=lambda e: e.ts)
        return events

    def _shared_uses(
        self,
        item: ItemSpec,
        day: datetime,
        target: float,
        occasions: Sequence[Occasion],
        rng: random.Random,
    ) -> list[tuple[datetime, float]]:
        """The day's ``target`` split over ``occasions`` by share, each use random around it."""
        uses = []
        for occasion in occasions:
            ts = _time_of_day(day, occasion, rng)
            # Draw the noise even when nobody is home, so that who is home at one moment
            # does not change the household's randomness at any other.
            noise = rng.gammavariate(self._noise_shape, 1 / self._noise_shape)
            uses.append((ts, target * occasion.share * self._scale(item.id, ts) * noise))
        return uses

    def _dosed_uses(
        self,
        item: ItemSpec,
        day: datetime,
        target: float,
        occasions: Sequence[Occasion],
        dose: tuple[float, float],
        rng: random.Random,
    ) -> list[tuple[datetime, float]]:
        """Whole uses (washes, runs) of a random ``dose``, as many as ``target`` needs."""
        low, high = dose
        uses = []
        for occasion in occasions:
            usual = day + timedelta(hours=occasion.hour)
            expected = target * occasion.share * self._scale(item.id, usual) / ((low + high) / 2)
            for _ in range(_whole_units(expected, rng)):
                uses.append((_time_of_day(day, occasion, rng), rng.uniform(low, high)))
        return uses

    def _hand_bought(self, item_id: str, start: datetime, end: datetime) -> list[HandPurchase]:
        rate = self._model.hand_bought_rate(item_id)
        if rate <= 0:
            return []
        rng = random.Random(f"{self._seed}/{item_id}/hand")
        bought = []
        for day in _midnights(start, end):
            hours = SHOPPING_HOURS.get(day.weekday())
            if hours is None:
                continue
            opens, closes = hours
            for _ in range(_poisson(rate * (closes - opens) / _SHOPPING_HOURS_PER_WEEK, rng)):
                ts = day + timedelta(seconds=round(rng.uniform(opens, closes) * 3600))
                if start <= ts < end and people_at(self._model, ts) > 0:
                    bought.append(HandPurchase(ts, item_id, 1))
        return bought


def scenario_consumption(scenario: Scenario) -> Iterator[Consumption]:
    """The household's uses over the whole scenario, in time order."""
    model = ConsumptionModel.for_scenario(scenario)
    return model.events(scenario.start, scenario.household.days)


def scenario_purchases(scenario: Scenario) -> tuple[HandPurchase, ...]:
    """The packs the household buys by hand over the whole scenario, in time order."""
    model = ConsumptionModel.for_scenario(scenario)
    return model.purchases(scenario.start, scenario.household.days)


def _window(start: datetime, days: int) -> tuple[datetime, datetime]:
    """``[start, start + days)`` in UTC."""
    if start.tzinfo is None:
        raise SimulatorError("the consumption model needs a timezone-aware start")
    start = start.astimezone(UTC)
    return start, start + timedelta(days=days)


def _midnights(start: datetime, end: datetime) -> Iterator[datetime]:
    """The start of every day that overlaps ``[start, end)``."""
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        yield day
        day += timedelta(days=1)


def _poisson(mean: float, rng: random.Random) -> int:
    """A Poisson-distributed count with ``mean`` (Knuth's method; ``mean`` is small here)."""
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _whole_units(amount: float, rng: random.Random) -> int:
    """Round ``amount`` up or down at random so that the mean stays ``amount``."""
    floor = math.floor(amount)
    return floor + (1 if rng.random() < amount - floor else 0)


def _time_of_day(day: datetime, occasion: Occasion, rng: random.Random) -> datetime:
    seconds = occasion.hour * 3600 + rng.gauss(0.0, occasion.spread_minutes * 60)
    return day + timedelta(seconds=round(min(max(seconds, 0.0), _LAST_SECOND)))
