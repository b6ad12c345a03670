"""The simulated clock: time that runs faster than real time, and can be held."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from edge_agent.clock import SimulatedClock

START = datetime(2026, 1, 5, tzinfo=UTC)
HOUR_PER_MS = 3600 * 1000.0  # an hour of simulated time each real millisecond


def test_a_simulated_clock_needs_an_aware_start_and_a_positive_speed() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SimulatedClock(datetime(2026, 1, 5), speed=1)
    with pytest.raises(ValueError, match="positive, got 0"):
        SimulatedClock(START, speed=0)


async def test_sleep_waits_simulated_time() -> None:
    clock = SimulatedClock(START, speed=HOUR_PER_MS)
    async with asyncio.timeout(5):
        await clock.sleep(24 * 3600)
    assert clock.now() >= START + timedelta(days=1)


async def test_a_held_clock_stands_still_and_its_sleepers_wait() -> None:
    """While held, now() does not move and no sleep ends; released, time goes on from there."""
    clock = SimulatedClock(START, speed=HOUR_PER_MS)
    clock.hold()
    clock.hold()  # holds nest: two holds need two releases
    held_at = clock.now()
    sleeper = asyncio.create_task(clock.sleep(3600))
    await asyncio.sleep(0.05)  # 50 hours, were the clock running
    assert clock.now() == held_at
    assert not sleeper.done()
    clock.release()
    await asyncio.sleep(0.05)
    assert clock.now() == held_at
    assert not sleeper.done()
    clock.release()
    async with asyncio.timeout(5):
        await sleeper
    # Time went on from where it stood, not from where it would have been.
    assert held_at + timedelta(hours=1) <= clock.now() < held_at + timedelta(hours=100)


def test_releasing_a_clock_not_held_is_an_error() -> None:
    clock = SimulatedClock(START, speed=1)
    with pytest.raises(ValueError, match="not held"):
        clock.release()
