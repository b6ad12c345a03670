"""One appliance's firmware, sans-I/O: the exact MQTT messages it publishes, and when.

A :class:`DeviceFirmware` holds an :class:`~simulators.sensors.ItemSensor` per item and
draws its device-wide faults (dropouts, reboots) from the seed at construction. It never
reads a clock: the caller drives it along one timeline, calling

- :meth:`~DeviceFirmware.boot` once, at the start;
- :meth:`~DeviceFirmware.wake` at each :meth:`~DeviceFirmware.next_due` instant
  (heartbeats, dropouts, reboots, spikes);
- :meth:`~DeviceFirmware.level_changed` whenever an item's true level changes;
- :meth:`~DeviceFirmware.shutdown` once, at the end;

with non-decreasing instants, and publishes the returned :class:`Message` values in order.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from edge_agent import protocol
from edge_agent.catalog import Device, ItemSpec
from simulators.errors import SimulatorError
from simulators.scenario import SensorSettings
from simulators.sensors import Episode, ItemSensor, Spike, draw_episodes, fault_rng

#: How long a reboot keeps a device offline, in seconds, at least and at most.
REBOOT_SECONDS = (3.0, 15.0)

#: The true level of an item, by item id, at the instant of the call.
LevelOf = Callable[[str], float]


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message a device publishes at instant ``at``."""

    at: datetime
    topic: str
    payload: bytes
    retain: bool = False


class _Kind(enum.IntEnum):
    """What a scheduled event does; the order settles events due at the same instant."""

    SPIKE_END = enum.auto()
    SPIKE = enum.auto()
    DROPOUT_END = enum.auto()
    REBOOT_UP = enum.auto()
    DROPOUT_START = enum.auto()
    REBOOT_DOWN = enum.auto()


@dataclass(frozen=True, slots=True, order=True)
class _Event:
    at: datetime
    kind: _Kind
    item: str = ""
    spike: Spike | None = field(default=None, compare=False)


class DeviceFirmware:
    """The firmware of ``device`` in ``household``, sensing ``items`` over ``[start, end]``.

    Deterministic: the same arguments and the same calls give the same messages.
    """

    def __init__(
        self,
        *,
        household: str,
        device: Device,
        items: Sequence[ItemSpec],
        settings: SensorSettings,
        seed: int,
        start: datetime,
        end: datetime,
    ) -> None:
        _check_items(device, items)
        if end <= start:
            raise SimulatorError(f"the {device} needs end after start, got {start} .. {end}")
        self.household = household
        self.device = device
        self.items = {item.id: item for item in items}
        self.start = start
        self.end = end
        self.heartbeat = settings.heartbeat
        self.sensors = {
            item.id: ItemSensor(
                item, settings, seed=seed, household=household, start=start, end=end
            )
            for item in items
        }
        self.dropouts = _draw_dropouts(
            settings, fault_rng(seed, household, device, "dropouts"), start, end
        )
        self.reboots = _draw_reboots(
            settings, fault_rng(seed, household, device, "reboots"), start, end
        )
        self._events = self._schedule()
        self._duplicates = settings.duplicates
        self._duplicate_rng = fault_rng(seed, household, device, "duplicates")
        self._out_of_order = settings.out_of_order
        self._out_of_order_rng = fault_rng(seed, household, device, "out_of_order")
        self._availability = protocol.availability_topic(household, device)
        self._next_event = 0
        self._next_beat: datetime | None = None
        self._now: datetime | None = None
        self._booted = False
        self._shut = False
        self._in_dropout = False
        self._rebooting = False
        self._seq = 0
        self._last: dict[str, float] = {}
        self._spiking: set[str] = set()
        self._held: list[Message] = []

    def _schedule(self) -> list[_Event]:
        events: list[_Event] = []
        for episode in self.dropouts:
            events += [
                _Event(episode.start, _Kind.DROPOUT_START),
                _Event(episode.end, _Kind.DROPOUT_END),
            ]
        for episode in self.reboots:
            events += [
                _Event(episode.start, _Kind.REBOOT_DOWN),
                _Event(episode.end, _Kind.REBOOT_UP),
            ]
        for item_id, sensor in self.sensors.items():
            for spike in sensor.spikes:
                events += [
                    _Event(spike.at, _Kind.SPIKE, item_id, spike),
                    _Event(spike.until, _Kind.SPIKE_END, item_id),
                ]
        return sorted(events)

    # --- state --------------------------------------------------------------------------

    @property
    def online(self) -> bool:
        """Whether the device is connected and publishing."""
        return self._booted and not (self._shut or self._in_dropout or self._rebooting)

    @property
    def seq(self) -> int:
        """The ``seq`` the device's next reading will carry."""
        return self._seq

    def next_due(self) -> datetime | None:
        """The next instant the firmware must be woken, or ``None`` if none before ``end``."""
        if not self._booted or self._shut:
            return None
        due = [self._next_beat] if self._next_beat is not None else []
        if self._next_event < len(self._events):
            due.append(self._events[self._next_event].at)
        soonest = min(due, default=None)
        return soonest if soonest is not None and soonest < self.end else None

    # --- what the caller drives -----------------------------------------------------------

    def boot(self, now: datetime, level: LevelOf) -> list[Message]:
        """Power on at ``now`` (normally ``start``): ``online``, then a reading of every item."""
        if self._booted:
            raise SimulatorError(f"the {self.device} firmware has already booted")
        self._booted = True
        self._now = now
        while self._next_event < len(self._events) and self._events[self._next_event].at < now:
            self._next_event += 1
        return self._come_online(now, level)

    def wake(self, now: datetime, level: LevelOf) -> list[Message]:
        """Do everything due at or before ``now``, in order; ``level`` gives true levels."""
        self._advance(now, "wake")
        messages: list[Message] = []
        while (due := self.next_due()) is not None and due <= now:
            event = self._events[self._next_event] if self._next_event < len(self._events) else None
            if event is not None and event.at == due:
                self._next_event += 1
                messages += self._handle(event, level)
            else:
                messages += self._beat(due, level)
        return messages

    def level_changed(self, now: datetime, item_id: str, true_level: float) -> list[Message]:
        """The true level of ``item_id`` changed at ``now``: report it if the sensor sees it."""
        sensor = self._sensor(item_id)
        self._advance(now, "report a level change")
        self._check_woken(now)
        value = sensor.sample(now, true_level)
        if not self.online or value == self._last.get(item_id):
            return []
        return self._reading(now, item_id, value)

    def shutdown(self, now: datetime) -> list[Message]:
        """Power off cleanly at ``now``: release held-back readings, then ``offline``."""
        self._advance(now, "shut down")
        self._check_woken(now)
        messages = self._go_offline(now) if self.online else []
        self._shut = True
        return messages

    # --- events -----------------------------------------------------------------------------

    def _handle(self, event: _Event, level: LevelOf) -> list[Message]:
        at = event.at
        match event.kind:
            case _Kind.DROPOUT_START:
                was_online = self.online
                self._in_dropout = True
                return self._go_offline(at) if was_online else []
            case _Kind.DROPOUT_END:
                if not self._in_dropout:
                    return []
                self._in_dropout = False
                return self._come_online(at, level) if self.online else []
            case _Kind.REBOOT_DOWN:
                if not self.online:
                    return []
                messages = self._go_offline(at)
                self._rebooting = True
                self._seq = 0
                return messages
            case _Kind.REBOOT_UP:
                if not self._rebooting:
                    return []
                self._rebooting = False
                return self._come_online(at, level) if self.online else []
            case _Kind.SPIKE:
                return self._spike(at, event, level)
            case _Kind.SPIKE_END:
                if event.item not in self._spiking:
                    return []
                self._spiking.discard(event.item)
                value = self.sensors[event.item].sample(at, level(event.item))
                return self._reading(at, event.item, value)

    def _spike(self, at: datetime, event: _Event, level: LevelOf) -> list[Message]:
        if not self.online or event.spike is None:
            return []
        sensor = self.sensors[event.item]
        value = sensor.quantize(sensor.sample(at, level(event.item)) + event.spike.lift)
        self._spiking.add(event.item)
        return self._reading(at, event.item, value)

    def _beat(self, at: datetime, level: LevelOf) -> list[Message]:
        self._next_beat = at + self.heartbeat
        return self._read_all(at, level)

    def _come_online(self, at: datetime, level: LevelOf) -> list[Message]:
        online = Message(at, self._availability, protocol.ONLINE, retain=True)
        self._next_beat = at + self.heartbeat
        return [online, *self._read_all(at, level)]

    def _go_offline(self, at: datetime) -> list[Message]:
        # The device flushes what it held back before the connection goes; the
        # retained ``offline`` is what the broker's Last Will would publish.
        released = [replace(message, at=at) for message in self._held]
        self._held = []
        self._next_beat = None
        self._spiking.clear()
        return [*released, Message(at, self._availability, protocol.OFFLINE, retain=True)]

    # --- readings ---------------------------------------------------------------------------

    def _read_all(self, at: datetime, level: LevelOf) -> list[Message]:
        messages: list[Message] = []
        for item_id, sensor in self.sensors.items():
            messages += self._reading(at, item_id, sensor.sample(at, level(item_id)))
        return messages

    def _reading(self, at: datetime, item_id: str, value: float) -> list[Message]:
        """Publish one reading, through the duplicate and out-of-order faults."""
        unit = self.items[item_id].unit
        reading = protocol.Reading(ts=at, value=value, unit=unit, seq=self._seq)
        self._seq += 1
        self._last[item_id] = value
        topic = protocol.reading_topic(self.household, self.device, item_id)
        message = Message(at, topic, protocol.encode(reading))
        batch = [message, message] if self._draw_duplicate() else [message]
        if self._draw_out_of_order() and not self._held:
            self._held = batch
            return []
        released = [replace(held, at=at) for held in self._held]
        self._held = []
        return batch + released

    def _draw_duplicate(self) -> bool:
        fault = self._duplicates
        return fault is not None and self._duplicate_rng.random() < fault.probability

    def _draw_out_of_order(self) -> bool:
        fault = self._out_of_order
        return fault is not None and self._out_of_order_rng.random() < fault.probability

    # --- checks -----------------------------------------------------------------------------

    def _sensor(self, item_id: str) -> ItemSensor:
        sensor = self.sensors.get(item_id)
        if sensor is None:
            raise SimulatorError(f"the {self.device} does not sense {item_id!r}")
        return sensor

    def _advance(self, now: datetime, what: str) -> None:
        if not self._booted or self._shut:
            state = "has shut down" if self._shut else "has not booted"
            raise SimulatorError(f"cannot {what}: the {self.device} firmware {state}")
        if self._now is not None and now < self._now:
            raise SimulatorError(
                f"cannot {what} at {now.isoformat()}: the {self.device} firmware is"
                f" already at {self._now.isoformat()}"
            )
        self._now = now

    def _check_woken(self, now: datetime) -> None:
        due = self.next_due()
        if due is not None and due < now:
            raise SimulatorError(
                f"the {self.device} firmware is due at {due.isoformat()}:"
                f" wake it before {now.isoformat()}"
            )


def _check_items(device: Device, items: Sequence[ItemSpec]) -> None:
    if not items:
        raise SimulatorError(f"the {device} senses no items")
    wrong = [item.id for item in items if item.device != device]
    if wrong:
        raise SimulatorError(f"the {device} does not sense items {wrong}")
    ids = [item.id for item in items]
    twice = sorted({item_id for item_id in ids if ids.count(item_id) > 1})
    if twice:
        raise SimulatorError(f"the {device} lists items {twice} twice")


def _draw_dropouts(
    settings: SensorSettings, rng: random.Random, start: datetime, end: datetime
) -> tuple[Episode, ...]:
    dropouts = settings.dropouts
    if dropouts is None:
        return ()
    return draw_episodes(
        rng,
        start,
        end,
        per_day=dropouts.per_week / 7,
        length=lambda: timedelta(hours=rng.uniform(*dropouts.hours)),
    )


def _draw_reboots(
    settings: SensorSettings, rng: random.Random, start: datetime, end: datetime
) -> tuple[Episode, ...]:
    reboots = settings.reboots
    if reboots is None:
        return ()
    return draw_episodes(
        rng,
        start,
        end,
        per_day=reboots.per_week / 7,
        length=lambda: timedelta(seconds=rng.uniform(*REBOOT_SECONDS)),
    )
