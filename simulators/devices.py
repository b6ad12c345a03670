"""Simulated appliances on MQTT, and the runner that lives a scenario's days through them.

Each :class:`DeviceSimulator` is one appliance (the fridge, the washer, ...) with its own
MQTT connection, as real firmware would have. Its Last Will marks it ``offline``
(retained); on connect it publishes ``online`` (retained) and a reading of every item it
senses. After that it publishes an item's reading when the sensed value changes, and a
heartbeat reading of every item once per ``heartbeat`` of clock time.

:class:`SimulatedHousehold` replays the consumption model on the clock, applies each use
and delivery to the true :class:`~simulators.stock.Stock`, and lets the devices report.
The model and the stock are sans-I/O; this module is the only one that speaks MQTT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

import aiomqtt

from edge_agent import protocol
from edge_agent.catalog import Device, ItemSpec, SensorKind
from edge_agent.clock import Clock, sleep_until
from edge_agent.mqtt_link import publish
from simulators.errors import SimulatorError
from simulators.household import Consumption, ConsumptionModel
from simulators.scenario import Scenario
from simulators.stock import Stock, StockSummary

logger = logging.getLogger(__name__)

DEFAULT_HEARTBEAT = timedelta(hours=1)
DEFAULT_TIMEOUT = 10.0
#: A load cell's noise, one standard deviation, in grams.
LOAD_CELL_NOISE_GRAMS = 2.0

_GRAMS_PER_UNIT = {"g": 1.0, "kg": 1000.0}
#: Decimal places a level gauge reports, by unit; other units report whole numbers.
_LEVEL_DECIMALS = {"L": 1, "l": 1, "ml": 0}


# --- sensors (sans-I/O) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sensor:
    """How an appliance turns the true level of an item into a reported value."""

    decimals: int = 0
    noise_sd: float = 0.0

    def read(self, true_level: float, rng: random.Random) -> float:
        noise = rng.gauss(0.0, self.noise_sd) if self.noise_sd > 0 else 0.0
        return float(round(max(true_level + noise, 0.0), self.decimals))


def sensor_for(item: ItemSpec) -> Sensor:
    """The sensor that measures ``item``: a noisy load cell, an exact counter or a gauge."""
    match item.sensor:
        case SensorKind.WEIGHT:
            grams = _GRAMS_PER_UNIT.get(item.unit, 1.0)
            decimals = 0 if grams == 1.0 else 3
            return Sensor(decimals=decimals, noise_sd=LOAD_CELL_NOISE_GRAMS / grams)
        case SensorKind.COUNT:
            return Sensor(decimals=0)
        case SensorKind.LEVEL:
            return Sensor(decimals=_LEVEL_DECIMALS.get(item.unit, 0))


# --- one appliance on MQTT ------------------------------------------------------------


class DeviceSimulator:
    """One appliance with its own MQTT connection, for the life of an ``async with`` block.

    ``read_level(item_id)`` returns the true level of an item; the device senses it.
    """

    def __init__(
        self,
        hostname: str,
        port: int = 1883,
        *,
        household: str,
        device: Device,
        items: Sequence[ItemSpec],
        clock: Clock,
        read_level: Callable[[str], float],
        seed: int,
        heartbeat: timedelta = DEFAULT_HEARTBEAT,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if heartbeat <= timedelta():
            raise SimulatorError(f"heartbeat must be positive, got {heartbeat}")
        wrong = [item.id for item in items if item.device != device]
        if wrong:
            raise SimulatorError(f"the {device} does not sense items {wrong}")
        self.hostname = hostname
        self.port = port
        self.household = household
        self.device = device
        self.items = {item.id: item for item in items}
        self._sensors = {item.id: sensor_for(item) for item in items}
        self._clock = clock
        self._read_level = read_level
        self._rng = random.Random(f"{seed}/{household}/{device}/sensor")
        self._heartbeat = heartbeat
        self._timeout = timeout
        self._availability = protocol.availability_topic(household, device)
        self._client: aiomqtt.Client | None = None
        self._heartbeats: asyncio.Task[None] | None = None
        self._stopping = False
        self._last: dict[str, float] = {}
        self._seq = 0

    @property
    def seq(self) -> int:
        """The ``seq`` the next reading will carry."""
        return self._seq

    async def __aenter__(self) -> Self:
        if self._client is not None:
            raise SimulatorError(f"the {self.device} simulator is already running")
        client = aiomqtt.Client(
            self.hostname,
            self.port,
            identifier=f"restock-sim-{self.household}-{self.device}",
            will=aiomqtt.Will(self._availability, protocol.OFFLINE, qos=1, retain=True),
            timeout=self._timeout,
        )
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as exc:
            raise SimulatorError(
                f"the {self.device} cannot connect to {self.hostname}:{self.port}: {exc}"
            ) from None
        self._client = client
        try:
            await self._publish(self._availability, protocol.ONLINE, retain=True)
            for item_id in self.items:
                await self.publish(item_id)
        except BaseException:
            await self._disconnect(announce=False)
            raise
        self._stopping = False
        self._heartbeats = asyncio.create_task(self._beat(), name=f"{self.device}-heartbeat")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._disconnect(announce=True)

    async def publish(self, item_id: str) -> protocol.Reading:
        """Sense ``item_id`` now and publish the reading, whatever its value."""
        return await self._send(item_id, self._sense(item_id))

    async def changed(self, item_id: str) -> protocol.Reading | None:
        """The true level of ``item_id`` changed: publish if the sensed value differs."""
        value = self._sense(item_id)
        if value == self._last.get(item_id):
            return None
        return await self._send(item_id, value)

    def _sense(self, item_id: str) -> float:
        sensor = self._sensors.get(item_id)
        if sensor is None:
            raise SimulatorError(f"the {self.device} does not sense {item_id!r}")
        return sensor.read(self._read_level(item_id), self._rng)

    async def _send(self, item_id: str, value: float) -> protocol.Reading:
        unit = self.items[item_id].unit
        reading = protocol.Reading(ts=self._clock.now(), value=value, unit=unit, seq=self._seq)
        self._seq += 1
        self._last[item_id] = value
        topic = protocol.reading_topic(self.household, self.device, item_id)
        await self._publish(topic, protocol.encode(reading))
        return reading

    async def _publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        if self._client is None:
            raise SimulatorError(f"the {self.device} simulator is not connected")
        try:
            await publish(self._client, topic, payload, retain=retain, timeout=self._timeout)
        except aiomqtt.MqttError as exc:
            raise SimulatorError(f"the {self.device} could not publish to {topic}: {exc}") from None

    async def _beat(self) -> None:
        due = self._clock.now()
        while not self._stopping:
            now = self._clock.now()
            # Skip beats missed while busy, and re-align if the clock was set back.
            due = min(max(due + self._heartbeat, now), now + self._heartbeat)
            await sleep_until(self._clock, due)
            for item_id in self.items:
                if self._stopping:
                    return
                try:
                    await self.publish(item_id)
                except SimulatorError as exc:
                    logger.warning("heartbeat skipped: %s", exc)

    async def _disconnect(self, *, announce: bool) -> None:
        if self._heartbeats is not None:
            self._stopping = True
            self._heartbeats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeats
            self._heartbeats = None
        client = self._client
        if client is None:
            return
        try:
            if announce:
                # A clean shutdown sends no Last Will, so say it ourselves.
                await self._publish(self._availability, protocol.OFFLINE, retain=True)
        except SimulatorError as exc:
            logger.warning("could not announce going offline: %s", exc)
        finally:
            self._client = None
            try:
                await client.__aexit__(None, None, None)
            except aiomqtt.MqttError as exc:
                logger.warning("the %s disconnected uncleanly: %s", self.device, exc)


# --- the household runner -------------------------------------------------------------


class SimulatedHousehold:
    """A scenario's household: its devices on MQTT, its true stock, its days of use.

    Inside ``async with``, :meth:`run` replays the scenario on the clock until its end
    (cancel the task to stop early), and :meth:`deliver` is what the shop calls when a
    delivery arrives.
    """

    def __init__(
        self,
        hostname: str,
        port: int = 1883,
        *,
        scenario: Scenario,
        clock: Clock,
        stock: Stock | None = None,
        heartbeat: timedelta = DEFAULT_HEARTBEAT,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.scenario = scenario
        self.stock = stock if stock is not None else Stock(scenario.items, start=scenario.start)
        self._clock = clock
        self._model = ConsumptionModel.for_scenario(scenario)
        household = scenario.household
        by_device: dict[Device, list[ItemSpec]] = {}
        for item in scenario.items:
            by_device.setdefault(item.device, []).append(item)
        self.devices = {
            device: DeviceSimulator(
                hostname,
                port,
                household=household.id,
                device=device,
                items=items,
                clock=clock,
                read_level=self.stock.level,
                seed=household.seed,
                heartbeat=heartbeat,
                timeout=timeout,
            )
            for device, items in by_device.items()
        }
        self._device_of = {item.id: self.devices[item.device] for item in scenario.items}
        self._events = self._model.events(scenario.start, household.days)
        self._pending: Consumption | None = None
        self._stack: AsyncExitStack | None = None

    async def __aenter__(self) -> Self:
        if self._stack is not None:
            raise SimulatorError(f"household {self.scenario.household.id!r} is already running")
        async with AsyncExitStack() as stack:
            for device in self.devices.values():
                await stack.enter_async_context(device)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def run(self) -> tuple[StockSummary, ...]:
        """Live the scenario's days on the clock; return each item's summary at the end.

        Cancelling the task stops the household between uses; calling :meth:`run`
        again resumes where it stopped.
        """
        if self._stack is None:
            raise SimulatorError("enter the household (async with) before running it")
        while True:
            if self._pending is None:
                self._pending = next(self._events, None)
                if self._pending is None:
                    break
            event = self._pending
            await self._advance_to(event.ts)
            self._pending = None
            if self.stock.consume(event.ts, event.item, event.quantity) > 0:
                await self._device_of[event.item].changed(event.item)
        await self._advance_to(self.scenario.end)
        return self.stock.summary(self.scenario.end)

    async def deliver(self, item_id: str, packs: int) -> float:
        """A delivery of ``packs`` packs of ``item_id`` arrives now; return what fitted."""
        device = self._device_of.get(item_id)
        if device is None:
            raise SimulatorError(
                f"household {self.scenario.household.id!r} stocks no item {item_id!r}"
            )
        kept = self.stock.deliver(self._clock.now(), item_id, packs)
        await device.changed(item_id)
        return kept

    def summary(self) -> tuple[StockSummary, ...]:
        """Each item's summary so far (up to the scenario's end)."""
        return self.stock.summary(min(self._clock.now(), self.scenario.end))

    async def _advance_to(self, when: datetime) -> None:
        """Wait until ``when``, throwing away lots as they expire on the way."""
        while (due := self.stock.next_expiry()) is not None and due <= when:
            await sleep_until(self._clock, due)
            for item_id in self.stock.expire(due):
                await self._device_of[item_id].changed(item_id)
        await sleep_until(self._clock, when)
