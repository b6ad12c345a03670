"""MQTT in: the agent's connection to its household's broker, through aiomqtt."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

import aiomqtt

from edge_agent import protocol
from edge_agent.errors import ConfigError


@dataclass(frozen=True, slots=True)
class BrokerUrl:
    """Where a broker listens, from ``mqtt://host:port``."""

    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        parts = urlsplit(url)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ConfigError(f"broker URL {url!r} must look like mqtt://host:port")
        try:
            port = parts.port or 1883
        except ValueError:
            raise ConfigError(f"broker URL {url!r} has an invalid port") from None
        return cls(parts.hostname, port)

    def __str__(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


async def publish(
    client: aiomqtt.Client,
    topic: str,
    payload: bytes,
    *,
    qos: int = 1,
    retain: bool = False,
    timeout: float = 10.0,
) -> None:
    """Publish and wait for the broker's acknowledgement; ``aiomqtt.MqttError`` if none.

    The timeout is ours, not aiomqtt's: aiomqtt's uses ``asyncio.wait_for``, which on
    Python 3.11 can swallow a cancellation that arrives just as the PUBACK does
    (CPython gh-86296), leaving a task that ignores ``cancel()``.
    """
    try:
        async with asyncio.timeout(timeout):
            await client.publish(topic, payload, qos=qos, retain=retain, timeout=math.inf)
    except TimeoutError:
        raise aiomqtt.MqttError(f"no acknowledgement for {topic} within {timeout}s") from None


class MqttLink:
    """One connection to the broker, for one household's agent.

    Entering connects with a Last Will that marks the agent offline (retained),
    announces it online, and subscribes to the household's readings, device
    availability and order updates. The session is persistent, so QoS 1 messages
    sent while the agent was away are delivered when it comes back.
    """

    def __init__(self, broker: BrokerUrl, *, household: str, timeout: float = 10.0) -> None:
        self.household = household
        will = aiomqtt.Will(
            protocol.agent_status_topic(household),
            protocol.encode(protocol.AgentStatus(state="offline")),
            qos=1,
            retain=True,
        )
        self._timeout = timeout
        self._client = aiomqtt.Client(
            broker.host,
            broker.port,
            identifier=f"restock-agent-{household}",
            clean_session=False,
            will=will,
            timeout=timeout,
        )

    async def __aenter__(self) -> Self:
        await self._client.__aenter__()
        for topic in protocol.agent_subscriptions(self.household):
            await self._client.subscribe(topic, qos=1)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.__aexit__(exc_type, exc, tb)

    async def publish_status(self, *, now: datetime, pending_orders: int) -> None:
        status = protocol.AgentStatus(state="online", ts=now, pending_orders=pending_orders)
        await publish(
            self._client,
            protocol.agent_status_topic(self.household),
            protocol.encode(status),
            retain=True,
            timeout=self._timeout,
        )

    async def publish_retained(self, topic: str, payload: bytes) -> None:
        """Publish a retained message outside the protocol (Home Assistant's discovery)."""
        await publish(self._client, topic, payload, retain=True, timeout=self._timeout)

    async def publish_outlook(self, outlook: protocol.ItemOutlook) -> None:
        await publish(
            self._client,
            protocol.item_outlook_topic(self.household, outlook.item),
            protocol.encode(outlook),
            retain=True,
            timeout=self._timeout,
        )

    async def messages(self) -> AsyncIterator[tuple[str, bytes]]:
        """Incoming (topic, payload) pairs; ends with ``aiomqtt.MqttError`` if the link drops."""
        async for message in self._client.messages:
            payload = message.payload
            if not isinstance(payload, bytes | bytearray):
                payload = str(payload).encode()
            yield message.topic.value, bytes(payload)
