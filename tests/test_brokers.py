"""The broker fixtures themselves: both brokers carry retained messages and Last Wills."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from tests.brokers import BrokerAddress


@pytest.mark.broker
async def test_broker_delivers_last_will_retained(broker: BrokerAddress) -> None:
    """A client that vanishes leaves its retained Last Will for later subscribers."""
    topic = f"test/{broker.kind}/will"
    will = aiomqtt.Will(topic, b"offline", qos=1, retain=True)
    client = aiomqtt.Client(broker.host, broker.port, identifier="dying", will=will)
    await client.__aenter__()
    # Drop the socket without DISCONNECT, as a power cut would.
    client._client._sock_close()
    await asyncio.sleep(0.2)
    async with aiomqtt.Client(broker.host, broker.port, identifier="watcher") as watcher:
        await watcher.subscribe(topic, qos=1)
        async with asyncio.timeout(5):
            message = await anext(aiter(watcher.messages))
    assert message.payload == b"offline"
