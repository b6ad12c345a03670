"""Small item specs for unit tests."""

from __future__ import annotations

from datetime import UTC, datetime

from edge_agent.catalog import Device, ItemSpec, LeadTime, SensorKind

T0 = datetime(2026, 1, 5, tzinfo=UTC)

MILK = ItemSpec(
    id="milk",
    name="Milk",
    device=Device.FRIDGE,
    sensor=SensorKind.WEIGHT,
    unit="g",
    pack_size=1000,
    capacity=4000,
    lead_time_hours=LeadTime(24, 48),
    price=1.2,
    initial=3000,
    shelf_life_days=10,
    cycle_days=2.5,
)

COFFEE = ItemSpec(
    id="coffee",
    name="Coffee beans",
    device=Device.COFFEE_MACHINE,
    sensor=SensorKind.WEIGHT,
    unit="g",
    pack_size=1000,
    capacity=2000,
    lead_time_hours=LeadTime(48, 96),
    price=12.0,
    initial=1500,
    cycle_days=12,
)

DETERGENT = ItemSpec(
    id="detergent",
    name="Liquid detergent",
    device=Device.WASHER,
    sensor=SensorKind.LEVEL,
    unit="ml",
    pack_size=1500,
    capacity=3000,
    lead_time_hours=LeadTime(24, 72),
    price=9.0,
    initial=1800,
    cycle_days=28,
)

EGGS = ItemSpec(
    id="eggs",
    name="Eggs",
    device=Device.FRIDGE,
    sensor=SensorKind.COUNT,
    unit="egg",
    pack_size=10,
    capacity=30,
    lead_time_hours=LeadTime(24, 48),
    price=3.3,
    initial=10,
    shelf_life_days=28,
    cycle_days=6,
)

RICE = ItemSpec(
    id="rice",
    name="Rice, 1 kg bag",
    device=Device.FRIDGE,  # a load cell under the jar; any device will do
    sensor=SensorKind.WEIGHT,
    unit="g",
    pack_size=1000,
    capacity=5000,
    lead_time_hours=LeadTime(24, 48),
    price=2.0,
    initial=3000,
    cycle_days=2,
)

# The meter counts the litres run through the installed cartridge (one pack).
WATER_FILTER = ItemSpec(
    id="water_filter",
    name="Water filter cartridge, 150 L",
    device=Device.WATER_FILTER,
    sensor=SensorKind.LEVEL,
    unit="L",
    pack_size=150,
    capacity=150,
    lead_time_hours=LeadTime(48, 120),
    price=13.0,
    initial=60,
    cycle_days=30,
)
