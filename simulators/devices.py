"""Simulated appliances on MQTT: a :class:`~simulators.home.SimulatedHome` lived on a clock.

Each appliance (the fridge, the washer, ...) has its own MQTT connection, as real
firmware would, with a Last Will that marks it ``offline`` (retained). What the devices
publish, and when, is decided by the sans-I/O home and its firmware; this module only
waits for each instant on the clock and publishes the messages on the right connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Iterable
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

import aiomqtt

from edge_agent import protocol
from edge_agent.clock import Clock, sleep_until
from edge_agent.errors import ProtocolError
from edge_agent.mqtt_link import publish
from simulators.errors import SimulatorError
from simulators.firmware import Message
from simulators.home import SimulatedHome
from simulators.household import Consumption
from simulators.scenario import Scenario
from simulators.stock import Stock, StockSummary

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
#: How long (real seconds) a device keeps trying to reach a broker that went away.
DEFAULT_RECONNECT_FOR = 60.0
_BACKOFF = (0.1, 0.2, 0.5, 1.0, 2.0)


class DeviceConnection:
    """One appliance's MQTT connection, with its Last Will, for an ``async with`` block."""

    def __init__(
        self,
        hostname: str,
        port: int,
        *,
        household: str,
        device: str,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.hostname = hostname
        self.port = port
        self.household = household
        self.device = device
        self._timeout = timeout
        self._client: aiomqtt.Client | None = None

    async def __aenter__(self) -> Self:
        if self._client is not None:
            raise SimulatorError(f"the {self.device} is already connected")
        await self._connect()
        return self

    async def _connect(self) -> None:
        client = aiomqtt.Client(
            self.hostname,
            self.port,
            identifier=f"restock-sim-{self.household}-{self.device}",
            will=aiomqtt.Will(
                protocol.availability_topic(self.household, self.device),
                protocol.OFFLINE,
                qos=1,
                retain=True,
            ),
            timeout=self._timeout,
        )
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as exc:
            raise SimulatorError(
                f"the {self.device} cannot connect to {self.hostname}:{self.port}: {exc}"
            ) from None
        self._client = client

    async def reconnect(self) -> None:
        """Drop the connection, if any is left, connect again and say ``online`` again."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.__aexit__(None, None, None)
        await self._connect()
        availability = protocol.availability_topic(self.household, self.device)
        await self.publish(availability, protocol.ONLINE, retain=True)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            await client.__aexit__(None, None, None)
        except aiomqtt.MqttError as error:
            logger.warning("the %s disconnected uncleanly: %s", self.device, error)

    def power_cut(self) -> None:
        """Drop the connection without a goodbye, so the broker publishes the Last Will."""
        if self._client is None:
            raise SimulatorError(f"the {self.device} is not connected")
        # paho-mqtt has no public "die without DISCONNECT"; closing its socket is what a
        # power cut looks like to the broker.
        self._client._client._sock_close()

    async def send(self, message: Message) -> None:
        await self.publish(message.topic, message.payload, retain=message.retain)

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        if self._client is None:
            raise SimulatorError(f"the {self.device} is not connected")
        try:
            await publish(self._client, topic, payload, retain=retain, timeout=self._timeout)
        except aiomqtt.MqttError as exc:
            raise SimulatorError(f"the {self.device} could not publish to {topic}: {exc}") from None


class SimulatedHousehold:
    """A scenario's household on MQTT: its devices, its true stock, its days of use.

    Inside ``async with`` (which connects every device), :meth:`run` lives the scenario
    on the clock until its end (cancel the task to stop early; calling it again
    resumes), and :meth:`deliver` is what the shop calls when a delivery arrives.
    Leaving the block announces every device ``offline``.
    """

    def __init__(
        self,
        hostname: str,
        port: int = 1883,
        *,
        scenario: Scenario,
        clock: Clock,
        demand: Iterable[Consumption] | None = None,
        household_id: str | None = None,
        seed: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        reconnect_for: float = DEFAULT_RECONNECT_FOR,
    ) -> None:
        self.home = SimulatedHome(scenario, demand=demand, household_id=household_id, seed=seed)
        self.scenario = scenario
        self._clock = clock
        self.connections = {
            str(device): DeviceConnection(
                hostname, port, household=self.home.household_id, device=device, timeout=timeout
            )
            for device in self.home.firmware
        }
        self._reconnect_for = reconnect_for
        self._outbox: deque[Message] = deque()
        # run() and deliver() both publish; one at a time, so nothing goes out twice.
        self._sending = asyncio.Lock()
        self._stack: AsyncExitStack | None = None
        #: How many messages the devices have published.
        self.published = 0
        #: When each reading published was due, in order.
        self._reading_times: list[datetime] = []
        #: The instant run() is living (advancing to and publishing), if it is.
        self._living: datetime | None = None
        #: How many times a device reconnected after losing the broker.
        self.reconnects = 0
        #: The furthest the household has fallen behind the clock (simulated time).
        self.max_lag = timedelta()

    @property
    def stock(self) -> Stock:
        return self.home.stock

    async def __aenter__(self) -> Self:
        if self._stack is not None:
            raise SimulatorError(f"household {self.home.household_id!r} is already running")
        async with AsyncExitStack() as stack:
            for connection in self.connections.values():
                await stack.enter_async_context(connection)
            self._outbox.extend(self.home.boot())
            await self._flush()
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is None:
            return
        async with stack:
            self._outbox.extend(self.home.shut_down())
            try:
                await self._flush()
            except SimulatorError as error:
                logger.warning("could not announce going offline: %s", error)

    async def run(self) -> tuple[StockSummary, ...]:
        """Live the scenario's days on the clock; return each item's summary at the end."""
        if self._stack is None:
            raise SimulatorError("enter the household (async with) before running it")
        await self._flush()
        try:
            while (due := self.home.next_due()) is not None:
                await sleep_until(self._clock, due)
                self.max_lag = max(self.max_lag, self._clock.now() - due)
                self._living = due
                self._outbox.extend(self.home.advance(due))
                await self._flush()
                self._living = None
        finally:
            self._living = None
        await sleep_until(self._clock, self.scenario.end)
        self.home.advance(self.scenario.end)
        return self.home.summary()

    def lag(self) -> timedelta:
        """How far behind the clock :meth:`run` is living and publishing; zero while it waits."""
        return timedelta() if self._living is None else self._clock.now() - self._living

    def unheard(self, handled: int) -> timedelta:
        """How long ago the oldest reading published after the first ``handled`` was due.

        Zero when a listener has handled ``handled`` readings and there are no more:
        :mod:`simulators.pacing` uses it to hold the clock for an agent that lags.
        """
        if handled >= len(self._reading_times):
            return timedelta()
        return self._clock.now() - self._reading_times[handled]

    async def deliver(self, item_id: str, packs: int) -> float:
        """A delivery of ``packs`` packs of ``item_id`` arrives now; return what fitted."""
        kept, messages = self.home.deliver(self._clock.now(), item_id, packs)
        self._outbox.extend(messages)
        await self._flush()
        return kept

    def summary(self) -> tuple[StockSummary, ...]:
        """Each item's summary so far (up to the scenario's end)."""
        return self.home.stock.summary(min(self._clock.now(), self.scenario.end))

    async def _flush(self) -> None:
        """Publish every queued message in order; one that fails stays queued.

        A device that loses the broker reconnects, as real firmware does, and resends
        from the message that failed, for up to ``reconnect_for`` real seconds.
        """
        async with self._sending:
            while self._outbox:
                message = self._outbox[0]
                topic = _topic_of(message)
                connection = self._connection_for(message, topic)
                try:
                    await connection.send(message)
                except SimulatorError as error:
                    await self._reconnect(connection, error)
                    continue
                self._outbox.popleft()
                self.published += 1
                if isinstance(topic, protocol.ReadingTopic):
                    self._reading_times.append(message.at)

    async def _reconnect(self, connection: DeviceConnection, error: SimulatorError) -> None:
        logger.warning("%s; reconnecting", error)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._reconnect_for
        for attempt in itertools.count():
            await asyncio.sleep(_BACKOFF[min(attempt, len(_BACKOFF) - 1)])
            try:
                await connection.reconnect()
            except SimulatorError as failure:
                if loop.time() >= deadline:
                    raise SimulatorError(
                        f"{failure} (gave up after {self._reconnect_for:g} s)"
                    ) from None
                continue
            self.reconnects += 1
            return

    def _connection_for(self, message: Message, topic: protocol.Topic) -> DeviceConnection:
        device = getattr(topic, "device", None)
        connection = self.connections.get(str(device))
        if connection is None:
            raise SimulatorError(f"no device connection publishes {message.topic}")
        return connection


def _topic_of(message: Message) -> protocol.Topic:
    try:
        return protocol.parse_topic(message.topic)
    except ProtocolError as exc:
        raise SimulatorError(f"the home produced a message off protocol: {exc}") from None
