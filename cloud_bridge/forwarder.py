"""Forwarding new orders to the shop as signed ``order.created`` webhooks, until accepted.

The queue is the orders table (see store.py), so queued orders survive a restart. One
task sends due orders one at a time; a failed attempt is retried with exponential
backoff and jitter, scheduled on the business clock so that retries keep pace with a
simulated clock. The ``webhook-id`` is the order id on every attempt, so the shop can
deduplicate; the body is the same bytes on every attempt too.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from cloud_bridge.orders import Orders
from cloud_bridge.payloads import encode, order_created
from cloud_bridge.store import Order
from edge_agent.clock import Clock, sleep_until
from edge_agent.webhooks import sign

logger = logging.getLogger(__name__)

#: Orders sent per pass before the queue is looked at again.
BATCH: Final = 50


@dataclass(frozen=True, slots=True)
class Backoff:
    """Retry delays: ``initial`` doubling up to ``maximum`` seconds, with equal jitter."""

    initial: float
    maximum: float

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The wait after failed attempt number ``attempt`` (1 for the first)."""
        ceiling = min(self.maximum, self.initial * 2.0 ** min(attempt - 1, 60))
        return ceiling / 2 + rng.random() * ceiling / 2


class Forwarder:
    """Sends orders due for the shop; ``run`` loops until cancelled."""

    def __init__(
        self,
        orders: Orders,
        session: aiohttp.ClientSession,
        *,
        shop_url: str,
        shop_secret: str,
        clock: Clock,
        signing_clock: Clock,
        backoff: Backoff,
        timeout: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        self._orders = orders
        self._session = session
        self._shop_url = shop_url
        self._shop_secret = shop_secret
        self._clock = clock
        self._signing_clock = signing_clock
        self._backoff = backoff
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look at the queue now: a new order was placed."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.forward_due()
            except Exception:
                # A database error must not stop forwarding for good: log, pause, go on.
                logger.exception("forwarding pass failed")
                await self._clock.sleep(self._backoff.initial)
            await self._wait_for_work()

    async def forward_due(self) -> int:
        """Attempt every order that is due; return how many the shop accepted."""
        accepted = 0
        for order in self._orders.due_for_forwarding(limit=BATCH):
            if await self.forward(order):
                accepted += 1
        return accepted

    async def forward(self, order: Order) -> bool:
        """One attempt to hand ``order`` to the shop; record the outcome."""
        body = encode(order_created(order))
        headers = sign(self._shop_secret, order.order_id, self._signing_clock.now(), body)
        headers["content-type"] = "application/json"
        try:
            async with self._session.post(
                self._shop_url, data=body, headers=headers, timeout=self._timeout
            ) as response:
                if 200 <= response.status < 300:
                    self._orders.forwarded(order.order_id)
                    return True
                error = f"shop answered HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"shop unreachable: {exc!r}"
        delay = self._backoff.delay(order.forward_attempts + 1, self._rng)
        self._orders.forward_failed(order.order_id, error=error, retry_in=delay)
        logger.warning("forwarding %s failed (%s); retrying in %.0fs", order.order_id, error, delay)
        return False

    async def _wait_for_work(self) -> None:
        """Until a new order arrives or the earliest queued retry falls due."""
        due = self._orders.next_attempt_at()
        if due is None:
            await self._wake.wait()
            return
        await _first(self._wake.wait(), sleep_until(self._clock, due))


async def _first(*waits: Coroutine[Any, Any, Any]) -> None:
    """Wait for whichever of ``waits`` finishes first; cancel the others."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
