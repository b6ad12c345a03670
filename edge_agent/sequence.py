"""Each device's readings put back in the order it sent them, by their ``seq`` numbers.

A device numbers every reading it publishes, on any of its items, and starts again at 0
when it reboots (docs/protocol.md). A message can still come late: held back by the
device or the network, it arrives after the one sent next. Taken in the order they came,
the late reading would be dropped as older than the newest, and a spike whose end came
late would look like a level that the next spike read again: a refill, then as much used
at once. So a reading that skips a number waits for the missing one, which as a rule
comes right after it. A reading that does not bring it (the missing one was lost), or
:meth:`Resequencer.flush`, which the agent calls at each periodic decision, ends the
wait: what waited goes on, in order.

Sans-I/O: readings in, readings out, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from edge_agent.protocol import Reading

#: A reading of one item: (item id, reading).
ItemReading = tuple[str, Reading]

#: The item id a reading not taken stands under while it keeps its place.
_SKIPPED = ""


@dataclass(slots=True)
class _Device:
    #: The seq the next reading in order has; ``None`` before the first.
    expected: int | None = None
    #: Readings that came before one sent ahead of them, by seq.
    waiting: dict[int, ItemReading] = field(default_factory=dict)
    #: The newest reading's time passed on.
    newest: datetime | None = None


class Resequencer:
    """Puts each device's readings back in the order the device sent them."""

    def __init__(self) -> None:
        self._devices: dict[str, _Device] = {}

    @property
    def waiting(self) -> int:
        """How many readings wait for one sent before them."""
        return sum(len(device.waiting) for device in self._devices.values())

    def push(self, device: str, item_id: str, reading: Reading) -> list[ItemReading]:
        """Take one reading from ``device``; return the readings now in order, oldest
        first: none while it waits for one sent before it, else it and any that waited
        for it."""
        state = self._devices.setdefault(device, _Device())
        seq = reading.seq
        if state.expected is None or seq < state.expected:
            # The first; a duplicate, or a late reading whose wait was given up; or the
            # device rebooted and counts from 0 again. All pass on (the estimator drops
            # what is not newer than it has), and a reboot starts the count afresh.
            released = []
            if state.newest is None or reading.ts > state.newest:
                released = self._give_up(state)
                state.expected = seq + 1
            return self._passed(state, [*released, (item_id, reading)])
        if seq == state.expected:
            released = [(item_id, reading)]
            state.expected += 1
            while state.expected in state.waiting:
                released.append(state.waiting.pop(state.expected))
                state.expected += 1
            return self._passed(state, released)
        if seq in state.waiting:
            return []  # a duplicate of one waiting already
        state.waiting[seq] = (item_id, reading)
        if len(state.waiting) == 1:
            return []
        # The next reading came, and still not the missing one: it was lost. What
        # waited goes on, with this one, in order.
        return self._give_up(state)

    def skip(self, device: str, reading: Reading) -> list[ItemReading]:
        """Count a reading of ``device`` that is not taken (an item the agent does not
        know): it keeps its place, so the readings after it need not wait for it. Return
        the readings now in order, as :meth:`push` does, without it. A device never
        heard from with a reading taken has no count to keep (nor a place kept for
        every name a topic may carry)."""
        if device not in self._devices:
            return []
        return self.push(device, _SKIPPED, reading)

    def flush(self) -> list[ItemReading]:
        """End every wait: the readings that waited, in order, device by device."""
        released = []
        for state in self._devices.values():
            released += self._give_up(state)
        return released

    def _give_up(self, state: _Device) -> list[ItemReading]:
        if not state.waiting:
            return []
        released = [state.waiting[seq] for seq in sorted(state.waiting)]
        state.expected = max(state.waiting) + 1
        state.waiting.clear()
        return self._passed(state, released)

    @staticmethod
    def _passed(state: _Device, released: list[ItemReading]) -> list[ItemReading]:
        """Note the newest of ``released``; return them, but for readings not taken."""
        for _, reading in released:
            if state.newest is None or reading.ts > state.newest:
                state.newest = reading.ts
        return [taken for taken in released if taken[0] != _SKIPPED]
