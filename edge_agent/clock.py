"""One clock for every component: real time, or an accelerated simulated time.

Logic never reads the wall clock: it is handed a :class:`Clock` (adapters) or a
``datetime`` (the sans-I/O core). In demos and tests the simulators, agent, bridge and
shop share one :class:`SimulatedClock`, so 60 days pass in a minute.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What components need from time: the current instant, and a way to wait."""

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """Real time. The only place in Restock that reads the wall clock."""

    speed = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class SimulatedClock:
    """Simulated time that starts at ``start`` and runs ``speed`` times faster than real time.

    It is driven by the monotonic clock, so every component that shares the instance
    sees the same simulated instant. A harness whose simulation falls behind (a slow or
    busy machine) can :meth:`hold` the clock until it catches up: simulated time stands
    still meanwhile, and every :meth:`sleep` waits for it to move on, so nothing that
    shares the clock runs ahead of the world it simulates.
    """

    def __init__(self, start: datetime, *, speed: float) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs a timezone-aware start")
        if speed <= 0:
            raise ValueError(f"SimulatedClock speed must be positive, got {speed}")
        self.start = start.astimezone(UTC)
        self.speed = speed
        self._origin = time.monotonic()
        self._holds = 0
        self._held_at = 0.0  # monotonic instant the current hold began
        self._moving = asyncio.Event()
        self._moving.set()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self._elapsed() * self.speed)

    async def sleep(self, seconds: float) -> None:
        until = self._elapsed() + max(0.0, seconds) / self.speed
        while (left := until - self._elapsed()) > 0:
            if self._holds:
                await self._moving.wait()
            else:
                await asyncio.sleep(left)

    def restart(self) -> None:
        """Make simulated time ``start`` again now: once a harness has finished setting up."""
        self._origin = self._held_at = time.monotonic()

    @property
    def held(self) -> bool:
        return self._holds > 0

    def hold(self) -> None:
        """Stop simulated time until as many :meth:`release` calls as holds."""
        if not self._holds:
            self._held_at = time.monotonic()
            self._moving.clear()
        self._holds += 1

    def release(self) -> None:
        """Undo one :meth:`hold`; time moves on from where it stood once none is left."""
        if not self._holds:
            raise ValueError("release() without hold(): the clock is not held")
        self._holds -= 1
        if not self._holds:
            self._origin += time.monotonic() - self._held_at
            self._moving.set()

    def _elapsed(self) -> float:
        """Real seconds the clock has run since its origin, not counting holds."""
        return (self._held_at if self._holds else time.monotonic()) - self._origin


async def sleep_until(clock: Clock, when: datetime) -> None:
    """Wait until ``clock`` reaches ``when``; return at once if it already has."""
    await clock.sleep((when - clock.now()).total_seconds())


def to_utc(value: datetime) -> datetime:
    """Return ``value`` in UTC; naive datetimes are refused rather than guessed at."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no timezone")
    return value.astimezone(UTC)


def isoformat_z(value: datetime) -> str:
    """ISO-8601 UTC with a ``Z`` suffix, as every Restock payload writes time."""
    return to_utc(value).isoformat().replace("+00:00", "Z")
