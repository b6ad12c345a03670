"""The running agent takes a device's readings in the order the device sent them, as
they come through a real broker."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiomqtt
import pytest

from edge_agent import protocol
from edge_agent.clock import SimulatedClock
from edge_agent.mqtt_link import BrokerUrl
from tests.agents import MILK_TOPIC, make_agent, running
from tests.brokers import BrokerAddress
from tests.items import T0


@pytest.mark.broker
async def test_a_reading_that_came_late_is_taken_in_its_place(
    broker: BrokerAddress, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fridge's second reading reaches the broker after its third (held back, then
    sent). Dropped as older than the newest, the milk would seem to fall 1 kg at once;
    taken in its place, it shows two uses of half a kilogram an hour apart."""
    agent = make_agent(
        broker=BrokerUrl(broker.host, broker.port), clock=SimulatedClock(T0, speed=1.0)
    )
    sent = [(1, 3, 3000.0), (3, 1, 2000.0), (2, 2, 2500.0), (4, 0.5, 2000.0)]
    handled = asyncio.Event()
    handle = agent.handle

    def counted(topic: str, payload: bytes) -> None:
        handle(topic, payload)
        if agent.readings_received == len(sent):
            handled.set()

    monkeypatch.setattr(agent, "handle", counted)
    async with (
        running(agent),
        aiomqtt.Client(broker.host, broker.port, identifier="fridge") as fridge,
    ):
        async with asyncio.timeout(10):
            await agent.connected.wait()
        for seq, hours_ago, value in sent:
            reading = protocol.Reading(T0 - timedelta(hours=hours_ago), value, "g", seq)
            await fridge.publish(MILK_TOPIC, protocol.encode(reading), qos=1)
        async with asyncio.timeout(10):
            await handled.wait()
    uses = [(use.ts, round(use.quantity)) for use in agent.brain.estimators["milk"].uses]
    assert uses == [(T0 - timedelta(hours=2), 500), (T0 - timedelta(hours=1), 500)]
