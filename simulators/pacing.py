"""Keep a simulated clock from running ahead of the parts of a simulation that lag.

On a fast machine the demo's household publishes each instant's readings, and the
agent handles them, long before the next instant is due. On a busy machine, or a Pi,
they may not keep up with a day a second. If the clock ran on regardless, the agent
would decide days after what it last read (and order for a household it has not heard
from), and the shop deliver on days the household has not lived yet. :func:`pace`
holds the clock while anything is too far behind it, so a slow machine runs the demo
slower, not wrong.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from edge_agent.clock import SimulatedClock

logger = logging.getLogger(__name__)

#: How often the pacer looks, in real seconds.
PACE_EVERY = 0.005
#: Something this far behind the clock (simulated time) holds it until nothing is behind.
HOLD_AFTER = timedelta(minutes=30)
#: A hold longer than this (real seconds) is let go, and no other taken until nothing
#: is behind: a reading the broker lost must not stop the demo for good.
GIVE_UP = 10.0


async def pace(
    clock: SimulatedClock,
    behind: Callable[[], timedelta],
    *,
    hold_after: timedelta = HOLD_AFTER,
    every: float = PACE_EVERY,
    give_up: float = GIVE_UP,
) -> None:
    """Until cancelled, hold ``clock`` whenever ``behind()`` exceeds ``hold_after``.

    ``behind()`` says how far (simulated time) the furthest-behind part of the
    simulation is; the clock moves on once it is zero, or after ``give_up`` seconds.
    """
    loop = asyncio.get_running_loop()
    held_since: float | None = None
    armed = True
    try:
        while True:
            await asyncio.sleep(every)
            lag = behind()
            if held_since is None:
                if not lag:
                    armed = True
                elif armed and lag > hold_after:
                    clock.hold()
                    held_since = loop.time()
            elif not lag:
                clock.release()
                held_since = None
            elif loop.time() - held_since >= give_up:
                logger.warning(
                    "the simulation is still %s behind the clock after %g s; letting it run",
                    lag,
                    give_up,
                )
                clock.release()
                held_since = None
                armed = False
    finally:
        if held_since is not None:
            clock.release()


async def catch_up(
    clock: SimulatedClock,
    behind: Callable[[], timedelta],
    *,
    every: float = PACE_EVERY,
    give_up: float = GIVE_UP,
) -> bool:
    """Hold ``clock`` until nothing is ``behind()``, for ``give_up`` seconds at most.

    Returns whether everything caught up.
    """
    clock.hold()
    try:
        async with asyncio.timeout(give_up):
            # What lags has no event to wait on: the agent and the household only count.
            while behind():  # noqa: ASYNC110
                await asyncio.sleep(every)
    except TimeoutError:
        logger.warning("the simulation is still %s behind after %g s", behind(), give_up)
        return False
    finally:
        clock.release()
    return True
