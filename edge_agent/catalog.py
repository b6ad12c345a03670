"""The catalog of consumables: one description per item, shared by agent, simulators and tests.

An item is described once, by :class:`ItemSpec`, in the same shape that scenario files
(docs/scenarios.md) and agent configuration files use. Nothing else restates these facts.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable

import msgspec

from edge_agent.errors import ConfigError

#: Identifiers (households, devices, items) become MQTT topic levels and URL parts,
#: so they are restricted to characters that are safe in both.
IDENTIFIER = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class Device(enum.StrEnum):
    """The appliances Restock knows how to read."""

    FRIDGE = "fridge"
    WASHER = "washer"
    DISHWASHER = "dishwasher"
    COFFEE_MACHINE = "coffee_machine"
    WATER_FILTER = "water_filter"


class SensorKind(enum.StrEnum):
    """How an appliance measures an item: a load cell, a level gauge or a counter."""

    WEIGHT = "weight"
    LEVEL = "level"
    COUNT = "count"


def check_identifier(value: str, what: str) -> str:
    """Return ``value`` if it is a valid identifier, else raise ``ValueError`` naming ``what``."""
    if not IDENTIFIER.match(value):
        raise ValueError(
            f"{what} {value!r} must be 1-64 characters of a-z, 0-9, '_' or '-',"
            " starting with a letter or digit"
        )
    return value


class LeadTime(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The delivery lead time range, in hours."""

    min: float
    max: float

    def __post_init__(self) -> None:
        if not 0 <= self.min <= self.max:
            raise ValueError(
                f"lead_time_hours needs 0 <= min <= max, got min={self.min}, max={self.max}"
            )


class ItemSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One consumable: what senses it, how it is sold, stored and delivered."""

    id: str
    name: str
    device: Device
    sensor: SensorKind
    unit: str
    pack_size: float
    capacity: float
    lead_time_hours: LeadTime
    price: float
    #: The stock at the start of a scenario. Agent configuration files leave it out.
    initial: float = 0.0
    shelf_life_days: float | None = None
    cycle_days: float | None = None

    def __post_init__(self) -> None:
        check_identifier(self.id, "item id")
        for field in ("pack_size", "capacity"):
            if getattr(self, field) <= 0:
                raise ValueError(f"{field} must be greater than 0 for item {self.id!r}")
        if not 0 <= self.initial <= self.capacity:
            raise ValueError(f"initial must be between 0 and capacity for item {self.id!r}")
        if self.pack_size > self.capacity:
            raise ValueError(f"pack_size must not exceed capacity for item {self.id!r}")
        if self.price < 0:
            raise ValueError(f"price must not be negative for item {self.id!r}")
        for field in ("shelf_life_days", "cycle_days"):
            value = getattr(self, field)
            if value is not None and value <= 0:
                raise ValueError(f"{field} must be greater than 0 for item {self.id!r}")
        if not self.unit:
            raise ValueError(f"unit must not be empty for item {self.id!r}")

    @property
    def metered(self) -> bool:
        """Whether the sensor meters what has been used of the installed pack, rather
        than weighing or counting what is left: its scale ends at a full pack."""
        return self.device is Device.WATER_FILTER

    def level_from_reading(self, value: float) -> float:
        """The stock a sensor's reported ``value`` stands for, in the item's unit.

        Most sensors report what is left. A water filter reports the litres that have run
        through its installed cartridge, so what is left is one cartridge (``pack_size``)
        less that; spare cartridges on a shelf are not sensed.
        """
        if self.metered:
            return max(self.pack_size - value, 0.0)
        return value


def index_items(items: Iterable[ItemSpec], *, source: str) -> dict[str, ItemSpec]:
    """Map item id to spec, refusing duplicate ids."""
    by_id: dict[str, ItemSpec] = {}
    for item in items:
        if item.id in by_id:
            raise ConfigError(f"{source}: item id {item.id!r} appears twice")
        by_id[item.id] = item
    return by_id
