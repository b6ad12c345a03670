"""Waiting for whichever comes first: a wake-up, or some time on a given clock."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from edge_agent.clock import Clock


async def first(*waits: Coroutine[Any, Any, Any]) -> None:
    """Wait for whichever of ``waits`` finishes first; cancel the others."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def wake_or_sleep(wake: asyncio.Event, clock: Clock, seconds: float) -> None:
    """Until ``wake`` is set or ``seconds`` of ``clock``'s time have passed."""
    if wake.is_set():
        return
    await first(wake.wait(), clock.sleep(seconds))
