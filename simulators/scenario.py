"""Scenario files: one simulated household and its items, loaded from TOML into frozen values.

A scenario has a ``[household]`` table (``id``, ``start``, ``days``, ``seed``), one
``[[items]]`` table per consumable, decoded straight into the shared
:class:`~edge_agent.catalog.ItemSpec`, an optional ``[sensors]`` table of sensor faults
(:class:`SensorSettings`) and an optional ``[model]`` table that shapes how the
household consumes (:class:`ModelSettings`). docs/scenarios.md documents every field.
A scenario is either wholly valid or refused with a
:class:`~simulators.errors.ScenarioError` naming the file, the line and the field.
"""

from __future__ import annotations

import os
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from edge_agent.catalog import ItemSpec, check_identifier
from simulators.errors import ScenarioError
from simulators.toml_errors import describe_syntax_error, describe_validation_error

#: The scenarios shipped with the package, such as ``demo.toml``.
SCENARIOS_DIR = Path(__file__).parent / "scenarios"


class HouseholdSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Who is simulated, from when, for how long, and the seed that makes it repeatable."""

    id: str
    start: datetime
    days: int
    seed: int

    def __post_init__(self) -> None:
        check_identifier(self.id, "household id")
        if self.start.tzinfo is None:
            raise ValueError("start needs a timezone, e.g. 2026-01-05T00:00:00Z")
        msgspec.structs.force_setattr(self, "start", self.start.astimezone(UTC))
        if self.days < 1:
            raise ValueError(f"days must be at least 1, got {self.days}")

    @property
    def end(self) -> datetime:
        """The instant the scenario ends: ``start`` plus ``days``."""
        return self.start + timedelta(days=self.days)


# --- [sensors]: sensor faults -------------------------------------------------------


def _check_range(pair: tuple[float, float], what: str) -> None:
    low, high = pair
    if not 0 <= low <= high:
        raise ValueError(f"{what} needs [low, high] with 0 <= low <= high, got {list(pair)}")


def _check_rate(value: float, what: str) -> None:
    if value < 0:
        raise ValueError(f"{what} must not be negative, got {value}")


def _check_probability(value: float, what: str) -> None:
    if not 0 <= value <= 1:
        raise ValueError(f"{what} must be between 0 and 1, got {value}")


class _Fault(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Base of the fault tables; each is on when present, off when ``false``."""


class NoiseFault(_Fault, frozen=True):
    """Gaussian noise on every sample of a load cell or level gauge (counters are exact)."""

    #: One standard deviation of a load cell's noise, in grams.
    grams: float = 2.0
    #: One standard deviation of a level gauge's noise, as a fraction of capacity.
    level: float = 0.002

    def __post_init__(self) -> None:
        _check_rate(self.grams, "noise.grams")
        _check_rate(self.level, "noise.level")


class TareDriftFault(_Fault, frozen=True):
    """A slow zero offset on load cells and gauges: a seeded linear creep plus a daily cycle."""

    #: One standard deviation of each sensor's creep rate, as a fraction of capacity per day.
    per_day: float = 0.002
    #: Amplitude of the daily (temperature) cycle, as a fraction of capacity.
    daily: float = 0.002

    def __post_init__(self) -> None:
        _check_rate(self.per_day, "tare_drift.per_day")
        _check_rate(self.daily, "tare_drift.daily")


class StuckFault(_Fault, frozen=True):
    """Episodes in which a sensor keeps reporting the value it had when it stuck."""

    per_week: float = 0.5
    hours: tuple[float, float] = (2.0, 24.0)

    def __post_init__(self) -> None:
        _check_rate(self.per_week, "stuck.per_week")
        _check_range(self.hours, "stuck.hours")


class DropoutFault(_Fault, frozen=True):
    """Episodes in which a whole device is offline: ``offline`` announced, no readings."""

    per_week: float = 0.5
    hours: tuple[float, float] = (1.0, 12.0)

    def __post_init__(self) -> None:
        _check_rate(self.per_week, "dropouts.per_week")
        _check_range(self.hours, "dropouts.hours")


class SpikeFault(_Fault, frozen=True):
    """A transient reading (a hand on the shelf, the door opening), corrected seconds later."""

    per_day: float = 1.0
    #: How far a spike lifts a load cell or gauge, as a fraction of capacity.
    size: tuple[float, float] = (0.1, 0.5)
    #: How long until the sensor reports the true value again.
    seconds: float = 20.0

    def __post_init__(self) -> None:
        _check_rate(self.per_day, "spikes.per_day")
        _check_range(self.size, "spikes.size")
        _check_rate(self.seconds, "spikes.seconds")


class DuplicateFault(_Fault, frozen=True):
    """Each message is published twice with this probability (same payload, same seq)."""

    probability: float = 0.02

    def __post_init__(self) -> None:
        _check_probability(self.probability, "duplicates.probability")


class OutOfOrderFault(_Fault, frozen=True):
    """Each reading is held back and published after the device's next one, with this chance."""

    probability: float = 0.01

    def __post_init__(self) -> None:
        _check_probability(self.probability, "out_of_order.probability")


class RebootFault(_Fault, frozen=True):
    """A device restarts: it goes offline briefly, comes back and its ``seq`` restarts at 0."""

    per_week: float = 0.2

    def __post_init__(self) -> None:
        _check_rate(self.per_week, "reboots.per_week")


#: The fault tables of ``[sensors]``, by key.
FAULTS: dict[str, type[_Fault]] = {
    "noise": NoiseFault,
    "tare_drift": TareDriftFault,
    "stuck": StuckFault,
    "dropouts": DropoutFault,
    "spikes": SpikeFault,
    "duplicates": DuplicateFault,
    "out_of_order": OutOfOrderFault,
    "reboots": RebootFault,
}


class SensorSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[sensors]``: how the devices report, and which faults they suffer (``None``: off).

    Without a ``[sensors]`` table, load cells and gauges are noisy and nothing else goes
    wrong. ``fault = true`` switches a fault on with its defaults, ``fault = false`` off,
    and a table switches it on with its own figures.
    """

    heartbeat_minutes: float = 60.0
    noise: NoiseFault | None = NoiseFault()
    tare_drift: TareDriftFault | None = None
    stuck: StuckFault | None = None
    dropouts: DropoutFault | None = None
    spikes: SpikeFault | None = None
    duplicates: DuplicateFault | None = None
    out_of_order: OutOfOrderFault | None = None
    reboots: RebootFault | None = None

    def __post_init__(self) -> None:
        if self.heartbeat_minutes <= 0:
            raise ValueError(f"heartbeat_minutes must be positive, got {self.heartbeat_minutes}")

    @property
    def heartbeat(self) -> timedelta:
        return timedelta(minutes=self.heartbeat_minutes)


# --- [model]: how the household consumes -------------------------------------------

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Away(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[[model.away]]``: nobody is home from ``from`` to ``to``, so nothing is used."""

    start: datetime = msgspec.field(name="from")
    end: datetime = msgspec.field(name="to")

    def __post_init__(self) -> None:
        _check_period(self, "away")


class Guests(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[[model.guests]]``: ``people`` more people at home from ``from`` to ``to``."""

    start: datetime = msgspec.field(name="from")
    end: datetime = msgspec.field(name="to")
    people: int = 2

    def __post_init__(self) -> None:
        _check_period(self, "guests")
        if self.people < 1:
            raise ValueError(f"guests.people must be at least 1, got {self.people}")


class HabitShift(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[[model.shifts]]``: from ``at`` on, ``items`` (all if empty) are used ``factor`` times."""

    at: datetime
    factor: float
    items: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_aware_utc(self, "at")
        if self.factor < 0:
            raise ValueError(f"shifts.factor must not be negative, got {self.factor}")


class Purchase(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[[model.purchases]]``: at ``at`` someone brings home ``packs`` of ``item`` by hand."""

    at: datetime
    item: str
    packs: int = 1

    def __post_init__(self) -> None:
        _check_aware_utc(self, "at")
        if self.packs < 1:
            raise ValueError(f"purchases.packs must be at least 1, got {self.packs}")


class ModelSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[model]``: who lives here and how their use of each item changes over time.

    An item's mean daily use is ``daily_use[item]`` when given, else
    ``pack_size / cycle_days``, else a typical use per person for its appliance times
    ``people`` (see :func:`simulators.household.mean_daily_use`).
    """

    people: int = 2
    #: Multiplies each item's weekend use relative to a weekday (the weekly mean is kept).
    weekend_factor: float = 1.0
    #: The true mean use per day of an item, in its unit, when it differs from its cycle.
    daily_use: dict[str, float] = msgspec.field(default_factory=dict)
    #: Lumpy use: an item used only on these weekdays ("mon" ... "sun"), e.g. a laundry day.
    use_days: dict[str, tuple[str, ...]] = msgspec.field(default_factory=dict)
    #: Random hand-bought packs per week, on top of ``purchases``: one rate for every
    #: item, or a table of rates by item id (items not named are never bought by hand).
    hand_bought_per_week: float | dict[str, float] = 0.0
    away: tuple[Away, ...] = ()
    guests: tuple[Guests, ...] = ()
    shifts: tuple[HabitShift, ...] = ()
    purchases: tuple[Purchase, ...] = ()

    def __post_init__(self) -> None:
        if self.people < 1:
            raise ValueError(f"people must be at least 1, got {self.people}")
        if self.weekend_factor <= 0:
            raise ValueError(f"weekend_factor must be positive, got {self.weekend_factor}")
        rates = self.hand_bought_per_week
        for item, rate in rates.items() if isinstance(rates, dict) else [("", rates)]:
            _check_rate(rate, f"hand_bought_per_week{'.' + item if item else ''}")
        for item, use in self.daily_use.items():
            if use < 0:
                raise ValueError(f"daily_use of {item!r} must not be negative, got {use}")
        for item, days in self.use_days.items():
            wrong = [day for day in days if day not in WEEKDAYS]
            if not days or wrong:
                raise ValueError(
                    f"use_days of {item!r} must list weekdays from {', '.join(WEEKDAYS)},"
                    f" got {list(days)}"
                )

    def hand_bought_rate(self, item_id: str) -> float:
        """Packs of ``item_id`` bought by hand per week, at random."""
        rates = self.hand_bought_per_week
        return rates.get(item_id, 0.0) if isinstance(rates, dict) else rates

    def named_items(self) -> dict[str, str]:
        """Every item id this table names, with where it names it."""
        named = dict.fromkeys(self.daily_use, "daily_use")
        named.update(dict.fromkeys(self.use_days, "use_days"))
        if isinstance(self.hand_bought_per_week, dict):
            named.update(dict.fromkeys(self.hand_bought_per_week, "hand_bought_per_week"))
        for index, shift in enumerate(self.shifts):
            named.update(dict.fromkeys(shift.items, f"shifts[{index}].items"))
        for index, purchase in enumerate(self.purchases):
            named[purchase.item] = f"purchases[{index}].item"
        return named


def _check_aware_utc(value: msgspec.Struct, field: str) -> None:
    when = getattr(value, field)
    if when.tzinfo is None:
        raise ValueError(f"{field} needs a timezone, e.g. 2026-01-05T00:00:00Z")
    msgspec.structs.force_setattr(value, field, when.astimezone(UTC))


def _check_period(value: Away | Guests, what: str) -> None:
    _check_aware_utc(value, "start")
    _check_aware_utc(value, "end")
    if value.end <= value.start:
        raise ValueError(f"{what} needs `to` after `from`")


# --- the scenario -------------------------------------------------------------------


class Scenario(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A whole, valid scenario: the household, its items, its sensors and its habits."""

    household: HouseholdSpec
    items: tuple[ItemSpec, ...]
    sensors: SensorSettings = SensorSettings()
    model: ModelSettings = ModelSettings()

    def __post_init__(self) -> None:
        if not self.items:
            raise ValueError("a scenario needs at least one [[items]] entry")
        seen: set[str] = set()
        for index, item in enumerate(self.items):
            if item.id in seen:
                raise ValueError(f"item id {item.id!r} appears twice - at `$.items[{index}].id`")
            seen.add(item.id)
        for named, where in self.model.named_items().items():
            if named not in seen:
                raise ValueError(
                    f"[model] names item {named!r}, which is not among the [[items]]"
                    f" - at `$.model.{where}`"
                )

    @property
    def start(self) -> datetime:
        return self.household.start

    @property
    def end(self) -> datetime:
        return self.household.end

    def item(self, item_id: str) -> ItemSpec:
        """The item with id ``item_id``; ``KeyError`` if the scenario has none."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate the scenario file at ``path``."""
    source, text = read_source(path, what="scenario")
    return parse_scenario(text, source=source)


def parse_scenario(text: str, *, source: str) -> Scenario:
    """Validate scenario TOML ``text``; ``source`` names it in error messages."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(describe_syntax_error(str(exc), text, source)) from None
    _switch_faults(raw)
    try:
        return msgspec.convert(raw, Scenario, str_keys=True)
    except msgspec.ValidationError as exc:
        raise ScenarioError(
            describe_validation_error(str(exc), raw, text, source, root=Scenario)
        ) from None


def builtin_scenario(name: str) -> Path:
    """The path of a scenario shipped with the package, e.g. ``builtin_scenario("demo")``."""
    return SCENARIOS_DIR / f"{name}.toml"


def read_source(
    path: str | os.PathLike[str], *, what: str, error: type[ScenarioError] = ScenarioError
) -> tuple[str, str]:
    """The name and text of the UTF-8 file at ``path``; ``error`` says why it is unreadable.

    A leading byte-order mark is dropped. ``what`` names the file's role in messages.
    """
    source = os.fspath(path)
    try:
        data = Path(source).read_bytes()
    except OSError as exc:
        raise error(f"{source}: cannot read {what}: {exc.strerror or exc}") from None
    try:
        return source, data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(f"{source}:{line}: {what} is not UTF-8 text: {exc.reason}") from None


def _switch_faults(raw: dict[str, Any]) -> None:
    """Turn ``fault = true`` into the fault's defaults and ``fault = false`` into off."""
    sensors = raw.get("sensors")
    if not isinstance(sensors, dict):
        return
    for key in FAULTS:
        if sensors.get(key) is True:
            sensors[key] = {}
        elif sensors.get(key) is False:
            sensors[key] = None
