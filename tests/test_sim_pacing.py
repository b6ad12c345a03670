"""The pacer: a simulated clock held while part of the simulation lags behind it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from edge_agent.clock import SimulatedClock
from simulators.pacing import catch_up, pace

START = datetime(2026, 1, 5, tzinfo=UTC)
SPEED = 3600 * 1000.0  # an hour each real millisecond
FAR_BEHIND = timedelta(hours=3)


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - the clock has no event for being held
            await asyncio.sleep(0.001)


async def test_the_clock_is_held_while_something_is_far_behind() -> None:
    clock = SimulatedClock(START, speed=SPEED)
    lag = [timedelta()]
    pacer = asyncio.create_task(pace(clock, lambda: lag[0], every=0.001))
    try:
        await asyncio.sleep(0.02)
        assert not clock.held  # nothing behind: time runs
        lag[0] = timedelta(minutes=10)
        await asyncio.sleep(0.02)
        assert not clock.held  # a little behind is normal
        lag[0] = FAR_BEHIND
        await until(lambda: clock.held)
        lag[0] = timedelta(minutes=10)
        await asyncio.sleep(0.02)
        assert clock.held  # held until nothing at all is behind
        lag[0] = timedelta()
        await until(lambda: not clock.held)
        lag[0] = FAR_BEHIND
        await until(lambda: clock.held)
    finally:
        pacer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pacer
    assert not clock.held  # a cancelled pacer lets the clock go


async def test_a_hold_that_never_ends_is_given_up(caplog: pytest.LogCaptureFixture) -> None:
    """Something that never catches up (a lost reading) does not stop the clock for good."""
    clock = SimulatedClock(START, speed=SPEED)
    lag = [FAR_BEHIND]
    pacer = asyncio.create_task(pace(clock, lambda: lag[0], every=0.001, give_up=0.05))
    try:
        with caplog.at_level(logging.WARNING, logger="simulators.pacing"):
            await until(lambda: clock.held)
            await until(lambda: not clock.held)
        assert "still 3:00:00 behind the clock" in caplog.text
        await asyncio.sleep(0.1)
        assert not clock.held  # not held again for the same lag
        lag[0] = timedelta()
        await asyncio.sleep(0.02)
        lag[0] = FAR_BEHIND  # caught up once, then behind anew: held again
        await until(lambda: clock.held)
    finally:
        pacer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pacer


async def test_catch_up_holds_the_clock_until_nothing_is_behind() -> None:
    clock = SimulatedClock(START, speed=SPEED)
    lag = [FAR_BEHIND]
    waiting = asyncio.create_task(catch_up(clock, lambda: lag[0], every=0.001))
    await until(lambda: clock.held)
    held_at = clock.now()
    await asyncio.sleep(0.02)
    assert clock.now() == held_at
    lag[0] = timedelta()
    async with asyncio.timeout(5):
        assert await waiting
    assert not clock.held


async def test_catch_up_gives_up_after_a_while() -> None:
    clock = SimulatedClock(START, speed=SPEED)
    async with asyncio.timeout(5):
        assert not await catch_up(clock, lambda: FAR_BEHIND, every=0.001, give_up=0.05)
    assert not clock.held
