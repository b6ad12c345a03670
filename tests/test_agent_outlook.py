"""The running agent publishes each item's outlook, retained, through a real broker."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest

from edge_agent import protocol
from edge_agent.clock import SimulatedClock
from edge_agent.core import OrderDecision
from edge_agent.home_assistant import removal_messages
from edge_agent.mqtt_link import BrokerUrl
from edge_agent.service import AgentService
from edge_agent.store import AgentStore
from tests.agents import MILK_TOPIC, fail_first_call, make_agent, running
from tests.brokers import BrokerAddress
from tests.items import T0

COFFEE_TOPIC = protocol.reading_topic("home", "coffee_machine", "coffee")


def feed_history(agent: AgentService) -> None:
    """A day of hourly readings up to ``T0``: milk sound, the coffee hopper stuck for
    its last ten hours."""
    rng = random.Random(8)
    coffee = [round(1500 - 5 * hour + rng.gauss(0, 3)) for hour in range(14)]
    coffee += [coffee[-1]] * 10
    for hour in range(24):
        ts = T0 - timedelta(hours=24 - hour)
        milk = round(3000 - 16 * hour + rng.gauss(0, 5))
        agent.handle(MILK_TOPIC, protocol.encode(protocol.Reading(ts, milk, "g", 2 * hour)))
        reading = protocol.Reading(ts, coffee[hour], "g", hour)
        agent.handle(COFFEE_TOPIC, protocol.encode(reading))


async def outlooks(
    watcher: aiomqtt.Client, wanted: dict[str, protocol.SensorState]
) -> dict[str, protocol.ItemOutlook]:
    """Read item outlooks until each item in ``wanted`` has shown its state."""
    found: dict[str, protocol.ItemOutlook] = {}
    async for message in watcher.messages:
        if not message.payload:
            continue  # an item gone from the catalog, its outlook cleared
        if not message.topic.matches(protocol.item_outlook_topic("+", "+")):
            continue  # amqtt hands a new client retained messages outside its filter
        outlook = protocol.decode_item_outlook(bytes(message.payload))
        if wanted.get(outlook.item) == outlook.sensor:
            found[outlook.item] = outlook
        if found.keys() == wanted.keys():
            return found
    raise AssertionError("the broker closed the subscription")


@pytest.mark.broker
async def test_the_agent_publishes_each_items_outlook_and_a_sensor_gone_quiet(
    broker: BrokerAddress, caplog: pytest.LogCaptureFixture
) -> None:
    """On connecting, the agent publishes every item's outlook, retained: the milk's
    sound, the stuck coffee hopper's with a note for the household. When both appliances
    then go quiet for three heartbeats, the milk's outlook says so at once, and the agent
    logs one warning for the two: sensors gone quiet together point at their link."""
    clock = SimulatedClock(T0, speed=3600.0)  # an hour a second: a tick every 0.25 s
    agent = make_agent(broker=BrokerUrl(broker.host, broker.port), clock=clock)
    feed_history(agent)
    async with (
        running(agent),
        aiomqtt.Client(broker.host, broker.port, identifier="dashboard") as watcher,
    ):
        await watcher.subscribe(protocol.item_outlook_topic("home", "+"), qos=1)
        async with asyncio.timeout(20):
            first = await outlooks(watcher, {"milk": "ok", "coffee": "stuck"})
            quiet = await outlooks(watcher, {"milk": "silent"})
    milk, coffee = first["milk"], first["coffee"]
    assert milk.unit == "g"
    assert milk.level == pytest.approx(3000 - 16 * 23, abs=30)
    assert milk.run_out is not None
    assert milk.run_out.p10 <= milk.run_out.p50 <= milk.run_out.p90
    assert coffee.since is not None
    assert coffee.since <= T0 - timedelta(hours=6)
    assert coffee.note is not None
    assert "has repeated one value" in coffee.note
    assert quiet["milk"].since == T0 - timedelta(hours=1)
    # The agent kept the latest of each, for `restock agent items`.
    kept = {outlook.item: outlook.sensor for outlook in agent.store.outlooks()}
    assert kept == {"milk": "silent", "coffee": "silent"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(w.startswith("coffee: The coffee machine's coffee sensor") for w in warnings)
    assert not any(w.startswith("milk: No reading") for w in warnings)
    together = [w for w in warnings if w.startswith("No reading from 2 sensors at once")]
    assert together == [
        f"No reading from 2 sensors at once since {T0 - timedelta(hours=1):%a %d %b %H:%M} UTC"
        " (milk, coffee): more likely the link they share (Wi-Fi, broker or the devices'"
        " host) than each sensor; their levels are guesses from past use until they report"
        " again."
    ]


@pytest.mark.broker
async def test_a_tick_that_fails_is_logged_and_the_agent_goes_on(
    broker: BrokerAddress, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error in one tick's decision is logged with its traceback; the
    ticks after it still decide and publish."""
    clock = SimulatedClock(T0, speed=3600.0)
    agent = make_agent(broker=BrokerUrl(broker.host, broker.port), clock=clock)
    feed_history(agent)
    decide, calls = agent.brain.decide, []

    def fails_once(now: datetime) -> list[OrderDecision]:
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("a fault in the brain")
        return decide(now)

    monkeypatch.setattr(agent.brain, "decide", fails_once)
    async with (
        running(agent),
        aiomqtt.Client(broker.host, broker.port, identifier="dashboard") as watcher,
    ):
        await watcher.subscribe(protocol.item_outlook_topic("home", "+"), qos=1)
        async with asyncio.timeout(20):
            await outlooks(watcher, {"milk": "silent"})
    assert len(calls) > 1
    failed = [r for r in caplog.records if r.getMessage().startswith("the agent's tick failed")]
    assert len(failed) == 1
    assert failed[0].exc_info is not None


async def retained_under(broker: BrokerAddress, prefix: str) -> list[str]:
    """The topics of the retained messages under ``prefix``: a sentinel published after
    subscribing marks where the retained ones end."""
    async with aiomqtt.Client(broker.host, broker.port, identifier="late") as watcher:
        await watcher.subscribe(f"{prefix}/#", qos=1)
        await watcher.publish(f"{prefix}/zz_sentinel", b"end", qos=1)
        topics = []
        async with asyncio.timeout(10):
            async for message in watcher.messages:
                if message.topic.value == f"{prefix}/zz_sentinel":
                    return topics
                # The embedded amqtt broker also hands a new client retained messages
                # outside its filter; Mosquitto does not.
                if message.topic.matches(f"{prefix}/#"):
                    topics.append(message.topic.value)
    raise AssertionError("the broker closed the subscription")


async def connect_once(agent: AgentService, broker: BrokerAddress) -> None:
    """Run the agent until it has connected and published its first outlooks (no item
    heard from yet), then stop it."""
    async with running(agent):
        async with asyncio.timeout(10):
            await agent.connected.wait()
        async with aiomqtt.Client(broker.host, broker.port, identifier="dashboard") as watcher:
            await watcher.subscribe(protocol.item_outlook_topic("home", "+"), qos=1)
            async with asyncio.timeout(10):
                await outlooks(watcher, {"milk": "waiting", "coffee": "waiting"})


@pytest.mark.broker
@pytest.mark.parametrize("configured", [True, False])
async def test_the_agent_announces_its_items_to_home_assistant_only_if_configured(
    broker: BrokerAddress, configured: bool
) -> None:
    """With a discovery prefix set, the connected agent leaves a retained config for each
    of its items' four entities, for Home Assistant to find whenever it starts."""
    agent = make_agent(broker=BrokerUrl(broker.host, broker.port))
    agent.home_assistant = "homeassistant" if configured else None
    await connect_once(agent, broker)
    topics = await retained_under(broker, "homeassistant")
    if not configured:
        assert topics == []
        return
    assert sorted(topics) == sorted(
        f"homeassistant/{component}/restock_home/{item}_{key}/config"
        for item in ("milk", "coffee")
        for component, key in (
            ("sensor", "level"),
            ("sensor", "run_out"),
            ("sensor", "sensor"),
            ("binary_sensor", "problem"),
        )
    )


@pytest.mark.broker
async def test_an_outlook_that_fails_is_logged_and_made_again_at_the_next_tick(
    broker: BrokerAddress, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The milk's outlook fails as the agent connects: the coffee's is published all the
    same, the agent goes on, and the milk's comes at the next tick."""
    clock = SimulatedClock(T0, speed=3600.0)
    agent = make_agent(broker=BrokerUrl(broker.host, broker.port), clock=clock)
    calls = fail_first_call(monkeypatch, agent.brain, "outlook", RuntimeError("a fault"))
    async with (
        running(agent),
        aiomqtt.Client(broker.host, broker.port, identifier="dashboard") as watcher,
    ):
        await watcher.subscribe(protocol.item_outlook_topic("home", "+"), qos=1)
        async with asyncio.timeout(20):
            await outlooks(watcher, {"milk": "waiting", "coffee": "waiting"})
    assert calls[0][0] == "milk"
    failed = [r for r in caplog.records if r.getMessage() == "could not make milk's outlook"]
    assert len(failed) == 1
    assert failed[0].exc_info is not None


@pytest.mark.broker
async def test_an_item_gone_from_the_catalog_leaves_the_dashboard(
    broker: BrokerAddress, tmp_path: Path
) -> None:
    """Juice was in the catalog, with its outlook retained and its Home Assistant
    entities announced. Restarted without it, the agent clears both and forgets it."""
    path = tmp_path / "agent.db"
    store = AgentStore(path)
    store.save_outlook(protocol.ItemOutlook(item="juice", ts=T0, unit="g", sensor="ok"))
    store.close()
    async with aiomqtt.Client(broker.host, broker.port, identifier="old-agent") as old:
        juice = protocol.ItemOutlook(item="juice", ts=T0, unit="g", sensor="ok")
        await old.publish(
            protocol.item_outlook_topic("home", "juice"), protocol.encode(juice), qos=1, retain=True
        )
        for message in removal_messages("homeassistant", "home", "juice"):
            await old.publish(message.topic, b"{}", qos=1, retain=True)
    assert len(await retained_under(broker, "homeassistant")) == 4
    agent = make_agent(AgentStore(path), broker=BrokerUrl(broker.host, broker.port))
    agent.home_assistant = "homeassistant"
    await connect_once(agent, broker)
    assert sorted(agent.store.outlook_items()) == ["coffee", "milk"]
    # As sets: amqtt may hand the same retained message over twice.
    remaining = set(await retained_under(broker, "restock/v1/home/agent/items"))
    assert remaining == {
        "restock/v1/home/agent/items/coffee",
        "restock/v1/home/agent/items/milk",
    }
    announced = set(await retained_under(broker, "homeassistant"))
    assert not any("/juice_" in topic for topic in announced)
    assert len(announced) == 8
