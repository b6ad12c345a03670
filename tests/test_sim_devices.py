"""Simulated appliances on a real broker: availability, Last Will, readings and deliveries."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import aiomqtt
import pytest

from edge_agent import protocol
from edge_agent.catalog import Device, ItemSpec
from edge_agent.clock import SimulatedClock
from simulators.devices import DeviceSimulator, SimulatedHousehold
from simulators.household import ConsumptionModel
from simulators.scenario import Scenario, parse_scenario
from simulators.stock import Stock
from tests.brokers import BrokerAddress

pytestmark = pytest.mark.broker

SCENARIO = """
[household]
id = "{household}"
start = 2026-01-05T00:00:00Z
days = {days}
seed = 11

[[items]]
id = "eggs"
name = "Eggs"
device = "fridge"
sensor = "count"
unit = "egg"
pack_size = 10
capacity = 30
initial = 6
lead_time_hours = {{ min = 24, max = 48 }}
price = 3.29
shelf_life_days = 28
cycle_days = 5

[[items]]
id = "milk"
name = "Milk"
device = "fridge"
sensor = "weight"
unit = "g"
pack_size = 1000
capacity = 4000
initial = 1000
lead_time_hours = {{ min = 24, max = 48 }}
price = 1.19
shelf_life_days = 10
cycle_days = 1.5

[[items]]
id = "tablets"
name = "Dishwasher tablets"
device = "dishwasher"
sensor = "count"
unit = "tablet"
pack_size = 40
capacity = 120
initial = 20
lead_time_hours = {{ min = 24, max = 72 }}
price = 9.99
cycle_days = 40

[[items]]
id = "water_filter"
name = "Water filter"
device = "water_filter"
sensor = "level"
unit = "L"
pack_size = 150
capacity = 300
initial = 120
lead_time_hours = {{ min = 48, max = 120 }}
price = 12.99
cycle_days = 30
"""

LEVELS = {"eggs": 6.0, "milk": 1000.0}
NEVER = timedelta(days=3650)


def unique(broker: BrokerAddress) -> str:
    return f"{broker.kind}-{uuid.uuid4().hex[:10]}"


def make_scenario(household: str, *, days: int = 1) -> Scenario:
    return parse_scenario(SCENARIO.format(household=household, days=days), source="test")


def fridge(
    broker: BrokerAddress,
    household: str,
    *,
    clock: SimulatedClock,
    heartbeat: timedelta = NEVER,
    levels: dict[str, float] | None = None,
) -> DeviceSimulator:
    scenario = make_scenario(household)
    values = LEVELS if levels is None else levels
    return DeviceSimulator(
        broker.host,
        broker.port,
        household=household,
        device=Device.FRIDGE,
        items=[item for item in scenario.items if item.device is Device.FRIDGE],
        clock=clock,
        read_level=values.__getitem__,
        seed=1,
        heartbeat=heartbeat,
    )


class UsedStock(Stock):
    """A stock that tells when it is first used."""

    def __init__(self, items: Iterable[ItemSpec], *, start: datetime) -> None:
        super().__init__(items, start=start)
        self.used = asyncio.Event()

    def consume(self, now: datetime, item_id: str, quantity: float) -> float:
        self.used.set()
        return super().consume(now, item_id, quantity)


def slow_clock(scenario: Scenario) -> SimulatedClock:
    return SimulatedClock(scenario.start, speed=1.0)


@asynccontextmanager
async def watching(broker: BrokerAddress, topic: str) -> AsyncIterator[aiomqtt.Client]:
    """A subscriber to ``topic``, subscribed before the block starts."""
    identifier = f"watch-{uuid.uuid4().hex[:10]}"
    async with aiomqtt.Client(broker.host, broker.port, identifier=identifier) as client:
        await client.subscribe(topic, qos=1)
        yield client


async def next_message(client: aiomqtt.Client) -> aiomqtt.Message:
    async with asyncio.timeout(5):
        return await anext(aiter(client.messages))


async def readings(client: aiomqtt.Client) -> AsyncIterator[tuple[str, str, protocol.Reading]]:
    """Yield ``(device, item, reading)`` for each reading the client receives."""
    async for message in client.messages:
        parsed = protocol.parse_topic(message.topic.value)
        if isinstance(parsed, protocol.ReadingTopic):
            assert isinstance(message.payload, bytes)
            yield parsed.device, parsed.item, protocol.decode_reading(message.payload)


async def test_device_publishes_online_retained(broker: BrokerAddress) -> None:
    """On connect a device marks itself online, retained for later subscribers."""
    household = unique(broker)
    clock = slow_clock(make_scenario(household))
    async with fridge(broker, household, clock=clock):
        topic = protocol.availability_topic(household, "fridge")
        async with watching(broker, topic) as watcher:
            message = await next_message(watcher)
    assert message.payload == protocol.ONLINE
    assert message.retain


async def test_power_cut_leaves_offline_will(broker: BrokerAddress) -> None:
    """A device that vanishes without disconnecting is marked offline by its Last Will."""
    household = unique(broker)
    clock = slow_clock(make_scenario(household))
    topic = protocol.availability_topic(household, "fridge")
    async with fridge(broker, household, clock=clock) as device, watching(broker, topic) as watcher:
        assert (await next_message(watcher)).payload == protocol.ONLINE
        # Drop the socket without DISCONNECT, as a power cut would.
        assert device._client is not None
        device._client._client._sock_close()
        message = await next_message(watcher)
    assert message.payload == protocol.OFFLINE


async def test_clean_stop_publishes_offline_retained(broker: BrokerAddress) -> None:
    """A device that stops cleanly says it is offline itself, retained."""
    household = unique(broker)
    clock = slow_clock(make_scenario(household))
    async with fridge(broker, household, clock=clock):
        pass
    async with watching(broker, protocol.availability_topic(household, "fridge")) as watcher:
        message = await next_message(watcher)
    assert message.payload == protocol.OFFLINE
    assert message.retain


async def test_device_reports_each_item_on_connect(broker: BrokerAddress) -> None:
    """On connect a device reports every item it senses, with seq counting from 0."""
    household = unique(broker)
    clock = slow_clock(make_scenario(household))
    topic = f"restock/v1/{household}/+/+/reading"
    seen = {}
    async with watching(broker, topic) as watcher, fridge(broker, household, clock=clock):
        async with asyncio.timeout(5):
            async for _, item, reading in readings(watcher):
                seen[item] = reading
                if len(seen) == 2:
                    break
    assert sorted(reading.seq for reading in seen.values()) == [0, 1]
    assert seen["eggs"].value == 6
    assert seen["eggs"].unit == "egg"
    assert seen["milk"].value == pytest.approx(1000, abs=10)


async def test_heartbeat_repeats_unchanged_readings(broker: BrokerAddress) -> None:
    """With nothing used, a device still reports each item once per heartbeat."""
    household = unique(broker)
    scenario = make_scenario(household)
    clock = SimulatedClock(scenario.start, speed=3600 * 20)
    eggs: list[protocol.Reading] = []
    topic = protocol.reading_topic(household, "fridge", "eggs")
    device = fridge(broker, household, clock=clock, heartbeat=timedelta(hours=1))
    async with watching(broker, topic) as watcher, device:
        async with asyncio.timeout(5):
            async for _, _, reading in readings(watcher):
                eggs.append(reading)
                if len(eggs) == 3:
                    break
    assert [reading.value for reading in eggs] == [6, 6, 6]


async def test_unchanged_value_is_not_published(broker: BrokerAddress) -> None:
    """A device only reports between heartbeats when the sensed value changes."""
    household = unique(broker)
    clock = slow_clock(make_scenario(household))
    levels = dict(LEVELS)
    async with fridge(broker, household, clock=clock, levels=levels) as device:
        assert await device.changed("eggs") is None
        levels["eggs"] = 5
        reading = await device.changed("eggs")
    assert reading is not None
    assert reading.value == 5


async def test_household_run_reports_true_stock(broker: BrokerAddress) -> None:
    """Replaying a day of use, the devices' latest readings match the true stock."""
    household = unique(broker)
    scenario = make_scenario(household, days=2)
    clock = SimulatedClock(scenario.start, speed=86400 * 4)
    latest: dict[str, protocol.Reading] = {}
    topic = f"restock/v1/{household}/+/+/reading"
    home = SimulatedHousehold(broker.host, broker.port, scenario=scenario, clock=clock)
    async with watching(broker, topic) as watcher, home:
        async with asyncio.timeout(10):
            summaries = await home.run()
        last_seq = {device: sim.seq - 1 for device, sim in home.devices.items()}
        seen_seq: dict[str, int] = {}
        async with asyncio.timeout(5):
            async for device, item, reading in readings(watcher):
                latest[item] = reading
                seen_seq[device] = reading.seq
                if all(seen_seq.get(d, -1) >= s for d, s in last_seq.items()):
                    break
    used = {summary.item: summary.served for summary in summaries}
    assert used["tablets"] > 0
    assert latest["tablets"].value == home.stock.level("tablets")
    assert latest["eggs"].value == home.stock.level("eggs")
    assert latest["water_filter"].value == pytest.approx(home.stock.level("water_filter"), abs=0.05)


async def test_delivery_shows_as_higher_reading(broker: BrokerAddress) -> None:
    """A delivery raises the stock and the device reports it at once."""
    household = unique(broker)
    scenario = make_scenario(household)
    clock = slow_clock(scenario)
    topic = protocol.reading_topic(household, "dishwasher", "tablets")
    home = SimulatedHousehold(
        broker.host, broker.port, scenario=scenario, clock=clock, heartbeat=NEVER
    )
    values = []
    async with watching(broker, topic) as watcher, home:
        async with asyncio.timeout(5):
            async for _, _, reading in readings(watcher):
                values.append(reading.value)
                if len(values) == 1:
                    await home.deliver("tablets", 2)
                else:
                    break
    assert values == [20, 100]


async def test_cancelled_run_resumes_without_losing_uses(broker: BrokerAddress) -> None:
    """Cancelling a run stops it cleanly; running again neither loses nor repeats a use."""
    household = unique(broker)
    scenario = make_scenario(household, days=2)
    clock = SimulatedClock(scenario.start, speed=86400)
    expected: dict[str, float] = defaultdict(float)
    for event in ConsumptionModel.for_scenario(scenario).events(scenario.start, 2):
        expected[event.item] += event.quantity
    stock = UsedStock(scenario.items, start=scenario.start)
    home = SimulatedHousehold(broker.host, broker.port, scenario=scenario, clock=clock, stock=stock)
    async with home:
        clock.restart()
        first = asyncio.create_task(home.run())
        async with asyncio.timeout(5):
            await stock.used.wait()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        async with asyncio.timeout(10):
            summaries = await home.run()
    for summary in summaries:
        assert summary.demanded == pytest.approx(expected[summary.item]), summary.item
