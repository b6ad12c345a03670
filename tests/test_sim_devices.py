"""Simulated appliances on a real broker: availability, Last Will, readings and deliveries."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import aiomqtt
import pytest

from edge_agent import protocol
from edge_agent.clock import SimulatedClock
from simulators.devices import SimulatedHousehold
from simulators.embedded_broker import EmbeddedBroker
from simulators.home import SimulatedHome
from simulators.ports import free_port
from simulators.scenario import Scenario, parse_scenario
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

[sensors]
noise = false
"""


def unique(broker: BrokerAddress) -> str:
    return f"{broker.kind}-{uuid.uuid4().hex[:10]}"


def make_scenario(household: str, *, days: int = 1) -> Scenario:
    return parse_scenario(SCENARIO.format(household=household, days=days), source="test")


def household_on(
    broker: BrokerAddress, scenario: Scenario, *, speed: float = 1.0
) -> SimulatedHousehold:
    clock = SimulatedClock(scenario.start, speed=speed)
    return SimulatedHousehold(broker.host, broker.port, scenario=scenario, clock=clock)


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


async def readings(client: aiomqtt.Client) -> AsyncIterator[tuple[str, protocol.Reading]]:
    """Yield ``(item, reading)`` for each reading the client receives."""
    async for message in client.messages:
        parsed = protocol.parse_topic(message.topic.value)
        if isinstance(parsed, protocol.ReadingTopic):
            assert isinstance(message.payload, bytes)
            yield parsed.item, protocol.decode_reading(message.payload)


async def test_devices_publish_online_retained(broker: BrokerAddress) -> None:
    """On connect each device marks itself online, retained for later subscribers."""
    household = unique(broker)
    async with household_on(broker, make_scenario(household)):
        topic = protocol.availability_topic(household, "fridge")
        async with watching(broker, topic) as watcher:
            message = await next_message(watcher)
    assert message.payload == protocol.ONLINE
    assert message.retain


async def test_power_cut_leaves_offline_will(broker: BrokerAddress) -> None:
    """A device that vanishes without disconnecting is marked offline by its Last Will."""
    household = unique(broker)
    topic = protocol.availability_topic(household, "fridge")
    home = household_on(broker, make_scenario(household))
    async with home, watching(broker, topic) as watcher:
        assert (await next_message(watcher)).payload == protocol.ONLINE
        home.connections["fridge"].power_cut()
        message = await next_message(watcher)
    assert message.payload == protocol.OFFLINE


async def test_clean_stop_publishes_offline_retained(broker: BrokerAddress) -> None:
    """A device that stops cleanly says it is offline itself, retained."""
    household = unique(broker)
    async with household_on(broker, make_scenario(household)):
        pass
    async with watching(broker, protocol.availability_topic(household, "fridge")) as watcher:
        message = await next_message(watcher)
    assert message.payload == protocol.OFFLINE
    assert message.retain


async def test_devices_report_each_item_on_connect(broker: BrokerAddress) -> None:
    """On connect a device reports every item it senses, with seq counting from 0."""
    household = unique(broker)
    topic = protocol.reading_topic(household, "fridge", "+")
    seen = {}
    async with watching(broker, topic) as watcher, household_on(broker, make_scenario(household)):
        async with asyncio.timeout(5):
            async for item, reading in readings(watcher):
                seen[item] = reading
                if len(seen) == 2:
                    break
    assert sorted(reading.seq for reading in seen.values()) == [0, 1]
    assert seen["eggs"].value == 6
    assert seen["eggs"].unit == "egg"
    assert seen["milk"].value == 1000


async def test_live_messages_are_the_recorded_ones(broker: BrokerAddress) -> None:
    """Published live on a clock, the devices send exactly what the sans-I/O home records."""
    household = unique(broker)
    scenario = make_scenario(household, days=2)
    expected = [
        (message.topic, message.payload)
        for message in SimulatedHome(scenario).run()
        if message.topic.endswith("/reading")
    ]
    received: list[tuple[str, bytes]] = []
    home = household_on(broker, scenario, speed=86400 * 4)
    async with watching(broker, f"restock/v1/{household}/+/+/reading") as watcher:
        async with home:
            async with asyncio.timeout(10):
                await home.run()
        async with asyncio.timeout(10):
            async for message in watcher.messages:
                assert isinstance(message.payload, bytes)
                received.append((message.topic.value, message.payload))
                if len(received) == len(expected):
                    break
    assert received == expected


async def test_delivery_shows_as_higher_reading(broker: BrokerAddress) -> None:
    """A delivery raises the stock and the device reports it at once."""
    household = unique(broker)
    topic = protocol.reading_topic(household, "dishwasher", "tablets")
    home = household_on(broker, make_scenario(household))
    values = []
    async with watching(broker, topic) as watcher, home:
        async with asyncio.timeout(5):
            async for _, reading in readings(watcher):
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
    whole = SimulatedHome(scenario)
    for _ in whole.run():
        pass
    expected = {summary.item: summary.demanded for summary in whole.summary()}
    clock = SimulatedClock(scenario.start, speed=86400)
    home = SimulatedHousehold(broker.host, broker.port, scenario=scenario, clock=clock)
    async with home:
        first = asyncio.create_task(home.run())
        async with asyncio.timeout(5):
            await clock.sleep(10 * 3600)  # into the first day, well before the end
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        assert scenario.start < home.home.now < scenario.end
        async with asyncio.timeout(10):
            summaries = await home.run()
    for summary in summaries:
        assert summary.demanded == pytest.approx(expected[summary.item]), summary.item


async def test_devices_reconnect_after_the_broker_restarts() -> None:
    """A broker restart loses no message: the devices reconnect and resend from the gap."""
    port = free_port()
    household = f"restart-{uuid.uuid4().hex[:10]}"
    scenario = make_scenario(household, days=2)
    clock = SimulatedClock(scenario.start, speed=86400)
    home = SimulatedHousehold("127.0.0.1", port, scenario=scenario, clock=clock, timeout=2)
    async with EmbeddedBroker("127.0.0.1", port):
        await home.__aenter__()
        running = asyncio.create_task(home.run())
        async with asyncio.timeout(5):
            await clock.sleep(6 * 3600)
    # The broker is gone; the household keeps living, and its devices keep trying.
    async with EmbeddedBroker("127.0.0.1", port):
        async with asyncio.timeout(20):
            summaries = await running
        await home.__aexit__(None, None, None)
    assert home.reconnects >= 1
    # Every message the home produced went out once (the one in flight maybe twice).
    assert home.published == sum(1 for _ in SimulatedHome(scenario).run())
    assert {summary.item for summary in summaries} == {item.id for item in scenario.items}


async def test_the_household_says_how_long_its_readings_have_waited(broker: BrokerAddress) -> None:
    """``unheard(n)``: how long ago the reading after the first ``n`` published was due."""
    household = unique(broker)
    scenario = make_scenario(household, days=2)
    readings = [m for m in SimulatedHome(scenario).run() if m.topic.endswith("/reading")]
    clock = SimulatedClock(scenario.start, speed=86400 * 4)
    home = SimulatedHousehold(broker.host, broker.port, scenario=scenario, clock=clock)
    async with home:
        async with asyncio.timeout(10):
            await home.run()
        clock.hold()  # so that now() stands still while we compare
        now = clock.now()
        assert home.lag() == timedelta()  # not living: it waits for nothing
        assert home.unheard(len(readings)) == timedelta()
        assert home.unheard(0) == now - readings[0].at
        assert home.unheard(len(readings) - 1) == now - readings[-1].at
        clock.release()
