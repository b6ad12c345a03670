"""Forwarding orders to the shop as signed ``order.created`` Standard Webhooks, until accepted.

The queue is the orders table (see store.py), so queued orders survive a restart. Each
pass sends the due orders, a few at a time. An attempt first claims its order, so a
cancel cannot slip in while it is in flight. The ``webhook-id`` is the order id on every
attempt, so the shop can deduplicate, and the body is the same bytes every time.

* 2xx: accepted; the order becomes ``sent``.
* 410 Gone: the shop has retired the endpoint. Forwarding to it stops, for every order,
  until an operator enables it again (``restock bridge enable-endpoint``).
* anything else, a timeout or a refused connection: retried after an exponential
  backoff with jitter, or after the answer's ``Retry-After`` when it gives one. Delays
  run on the business clock, so retries keep pace with a simulated clock.
* after ``max_attempts`` failures the order is dead-lettered, and waits for
  ``restock bridge redeliver``.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, Protocol

import aiohttp

from cloud_bridge.orders import Orders
from cloud_bridge.payloads import encode, order_created
from cloud_bridge.store import Order
from cloud_bridge.waiting import first, wake_or_sleep
from edge_agent.clock import Clock, sleep_until
from edge_agent.webhooks import sign

logger = logging.getLogger(__name__)

#: Orders read from the queue per pass.
BATCH: Final = 100
#: A shop's Retry-After is honoured up to this many seconds.
MAX_RETRY_AFTER: Final = 24 * 3600.0

Outcome = Literal["accepted", "failed", "gone", "dead_lettered"]


class AttemptObserver(Protocol):
    """Told the outcome of every attempt (metrics.py counts them)."""

    def attempt(self, outcome: Outcome) -> None: ...


class _NoObserver:
    def attempt(self, outcome: Outcome) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Retry delays: ``initial`` doubling up to ``maximum`` seconds, with equal jitter."""

    initial: float
    maximum: float

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The wait after failed attempt number ``attempt`` (1 for the first)."""
        ceiling = min(self.maximum, self.initial * 2.0 ** min(attempt - 1, 60))
        return ceiling / 2 + rng.random() * ceiling / 2


def retry_after(headers: Mapping[str, str], *, now: datetime) -> float | None:
    """The seconds a ``Retry-After`` header asks to wait (delta or HTTP-date), if valid."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


@dataclass(frozen=True, slots=True)
class _Failure:
    error: str
    retry_after: float | None = None
    gone: bool = False


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
        max_attempts: int = 40,
        concurrency: int = 8,
        poll: float = 1.0,
        rng: random.Random | None = None,
        observer: AttemptObserver | None = None,
    ) -> None:
        self._orders = orders
        self._store = orders.store
        self._session = session
        self._shop_url = shop_url
        self._shop_secret = shop_secret
        self._clock = clock
        self._signing_clock = signing_clock
        self._backoff = backoff
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_attempts = max_attempts
        self._slots = asyncio.Semaphore(concurrency)
        self._poll = poll
        self._rng = rng or random.Random()
        self._observer = observer or _NoObserver()
        self._wake = asyncio.Event()
        self._in_flight: set[str] = set()
        #: When the loop plans to look at the queue next, while it waits.
        self._planned: datetime | None = None

    def wake(self) -> None:
        """Look at the queue now: an order was approved or requeued, or the endpoint enabled."""
        self._wake.set()

    def due_at(self, when: datetime | None) -> None:
        """An order falls due at ``when``: wake up only if that is sooner than planned.

        New orders usually wait out a cancel window, and re-planning for each of
        thousands a second would cost more than the orders themselves.
        """
        if when is not None and (self._planned is None or when < self._planned):
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

    def disabled(self) -> str | None:
        """Why forwarding to the shop endpoint is off, or ``None`` while it is on."""
        return self._store.endpoint_disabled(self._shop_url)

    async def forward_due(self) -> int:
        """Attempt every order that is due; return how many the shop accepted."""
        if self.disabled() is not None:
            return 0
        due = [
            order
            for order in self._orders.due_for_forwarding(limit=BATCH)
            if order.order_id not in self._in_flight
        ]
        results = await asyncio.gather(*(self._forward_in_slot(order) for order in due))
        return sum(results)

    async def _forward_in_slot(self, order: Order) -> bool:
        async with self._slots:
            if self.disabled() is not None:
                return False
            return await self.forward(order)

    async def forward(self, order: Order) -> bool:
        """One attempt to hand ``order`` to the shop; record the outcome."""
        if not self._orders.claim(order.order_id, lease=self._backoff.maximum):
            return False  # cancelled, accepted or claimed since it was read
        self._in_flight.add(order.order_id)
        try:
            body = order.webhook_body or self._store.freeze_webhook_body(
                order.order_id, encode(order_created(order))
            )
            failure = await self._post(order.order_id, body)
        finally:
            self._in_flight.discard(order.order_id)
        if failure is None:
            self._orders.forwarded(order.order_id)
            self._observer.attempt("accepted")
            return True
        self._failed(order, failure)
        return False

    async def _post(self, webhook_id: str, body: bytes) -> _Failure | None:
        headers = sign(self._shop_secret, webhook_id, self._signing_clock.now(), body)
        headers["content-type"] = "application/json"
        try:
            async with self._session.post(
                self._shop_url, data=body, headers=headers, timeout=self._timeout
            ) as response:
                if 200 <= response.status < 300:
                    return None
                return _Failure(
                    f"shop answered HTTP {response.status}",
                    retry_after=retry_after(response.headers, now=self._signing_clock.now()),
                    gone=response.status == 410,
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            return _Failure(f"shop unreachable: {exc!r}")

    def _failed(self, order: Order, failure: _Failure) -> None:
        order_id = order.order_id
        attempts = order.forward_attempts + 1  # the claim counted this attempt
        if failure.gone:
            reason = f"{failure.error} (Gone) for order {order_id}"
            self._store.disable_endpoint(self._shop_url, at=self._clock.now(), reason=reason)
            # Due again as soon as the endpoint is enabled.
            self._orders.forward_failed(order_id, error=failure.error, retry_in=0)
            self._observer.attempt("gone")
            logger.error("shop endpoint %s is gone; forwarding disabled", self._shop_url)
            return
        if attempts >= self._max_attempts:
            self._orders.dead_letter(order_id, error=failure.error)
            self._observer.attempt("dead_lettered")
            logger.error("order %s dead-lettered after %d attempts", order_id, attempts)
            return
        delay = failure.retry_after
        if delay is None:
            delay = self._backoff.delay(attempts, self._rng)
        self._orders.forward_failed(order_id, error=failure.error, retry_in=delay)
        self._observer.attempt("failed")
        logger.warning(
            "forwarding %s failed (%s); retrying in %.0fs", order_id, failure.error, delay
        )

    async def _wait_for_work(self) -> None:
        """Until woken, an order falls due, or the poll interval (for other processes) ends."""
        due = None if self.disabled() is not None else self._orders.next_attempt_at()
        poll = wake_or_sleep(self._wake, self._signing_clock, self._poll)
        self._planned = due
        try:
            if due is None:
                await poll
            else:
                await first(poll, sleep_until(self._clock, due))
        finally:
            self._planned = None
