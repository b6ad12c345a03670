"""The simulated shop: it takes the bridge's signed order webhooks and delivers, late as shops do.

``POST /webhooks/orders`` receives ``order.created`` webhooks, verified with the shop's
``whsec_`` secret and deduplicated by ``webhook-id``. The shop answers at once, reports
``acknowledged``, ships half way through a seeded lead time, and at its end calls
``deliver(household, item, packs)`` for every line (lines ordered together arrive
together) and reports ``delivered``. Status reports go to
``POST {bridge_url}/v1/shop/orders/{order_id}/status``, signed, in order per order, and
retried with backoff; a bridge that is down never crashes the shop.

The lead time runs on the business ``clock`` (simulated in demos). Signature freshness
and retry backoff run on ``signing_clock``, real time by default, because the replay
window and the network are real even when the business clock is not.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

import aiohttp
import msgspec
from aiohttp import web
from yarl import URL

from edge_agent.catalog import ItemSpec, LeadTime, check_identifier
from edge_agent.clock import Clock, SystemClock, isoformat_z, sleep_until
from edge_agent.errors import SignatureError
from edge_agent.protocol import OrderLine
from edge_agent.webhooks import secret_key, sign, verify
from simulators.errors import SimulatorError

logger = logging.getLogger(__name__)

ORDER_CREATED = "order.created"
#: Bridge answers that mean "try again later"; any other 4xx is final.
_RETRYABLE_CLIENT_ERRORS = frozenset({408, 425, 429})

#: ``deliver(household, item, packs)``: a delivery reaches a household.
Deliver = Callable[[str, str, int], Awaitable[object]]
ReportedStatus = Literal["acknowledged", "shipped", "delivered"]


@dataclass(frozen=True, slots=True)
class ShopSettings:
    """What the shop needs: its webhook secret, where the bridge is, what it sells."""

    secret: str
    bridge_url: str
    items: tuple[ItemSpec, ...]
    seed: int = 0
    #: Attempts per status report, and the backoff between them (seconds, doubling).
    status_attempts: int = 8
    retry_delay: float = 0.5
    retry_max_delay: float = 30.0
    request_timeout: float = 10.0

    def __post_init__(self) -> None:
        try:
            secret_key(self.secret)
        except SignatureError as exc:
            raise SimulatorError(f"shop settings: secret: {exc}") from None
        url = URL(self.bridge_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise SimulatorError(
                f"shop settings: bridge_url must be an http(s) URL, got {self.bridge_url!r}"
            )
        ids = [item.id for item in self.items]
        if len(set(ids)) != len(ids):
            raise SimulatorError(f"shop settings: items: duplicate item ids in {ids}")
        if self.status_attempts < 1 or self.retry_delay < 0 or self.request_timeout <= 0:
            raise SimulatorError(
                "shop settings: status_attempts must be at least 1, retry_delay not"
                " negative and request_timeout positive"
            )

    @property
    def lead_times(self) -> Mapping[str, LeadTime]:
        return {item.id: item.lead_time_hours for item in self.items}


@dataclass(frozen=True, slots=True)
class ShopOrder:
    """An order as the shop saw it: when it came, when it is due, when it arrived."""

    order_id: str
    household: str
    lines: tuple[OrderLine, ...]
    received_at: datetime
    eta: datetime
    delivered_at: datetime | None = None


class ShopLedger:
    """Every order the shop accepted, in the order it received them."""

    def __init__(self) -> None:
        self._orders: dict[str, ShopOrder] = {}

    @property
    def orders(self) -> tuple[ShopOrder, ...]:
        return tuple(self._orders.values())

    @property
    def deliveries(self) -> tuple[ShopOrder, ...]:
        """The orders delivered so far; each is one delivery, however many lines it has."""
        return tuple(order for order in self._orders.values() if order.delivered_at is not None)

    def get(self, order_id: str) -> ShopOrder | None:
        return self._orders.get(order_id)

    def add(self, order: ShopOrder) -> None:
        self._orders[order.order_id] = order

    def mark_delivered(self, order_id: str, when: datetime) -> ShopOrder:
        order = replace(self._orders[order_id], delivered_at=when)
        self._orders[order_id] = order
        return order


# --- wire formats ---------------------------------------------------------------------


class _Envelope(msgspec.Struct, frozen=True):
    type: str
    data: msgspec.Raw
    timestamp: str | None = None


class _OrderCreated(msgspec.Struct, frozen=True):
    order_id: str
    household: str
    lines: tuple[OrderLine, ...]

    def __post_init__(self) -> None:
        if not self.order_id:
            raise ValueError("order_id must not be empty")
        check_identifier(self.household, "household")
        if not self.lines:
            raise ValueError("an order needs at least one line")


class StatusReport(msgspec.Struct, frozen=True, omit_defaults=True):
    """The body of a status report to the bridge."""

    status: ReportedStatus
    eta: str | None = None


_envelope_decoder = msgspec.json.Decoder(_Envelope)
_order_decoder = msgspec.json.Decoder(_OrderCreated)
_encoder = msgspec.json.Encoder()


# --- the shop -------------------------------------------------------------------------


class Shop:
    """The shop's state and behaviour; :func:`create_shop_app` puts it on the web."""

    def __init__(
        self,
        settings: ShopSettings,
        *,
        clock: Clock,
        deliver: Deliver,
        signing_clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.ledger = ShopLedger()
        self._clock = clock
        self._signing_clock = signing_clock if signing_clock is not None else SystemClock()
        self._deliver = deliver
        self._key = secret_key(settings.secret)
        self._lead_times = settings.lead_times
        self._rng = random.Random(f"{settings.seed}/shop")
        self._seen: set[str] = set()
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_report: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    async def handle_order(self, request: web.Request) -> web.Response:
        """``POST /webhooks/orders``: verify, deduplicate, accept and schedule delivery."""
        body = await request.read()
        try:
            msg_id = verify(self._key, request.headers, body, now=self._signing_clock.now())
        except SignatureError as exc:
            return _error(401, str(exc))
        if msg_id in self._seen:
            return web.json_response({"status": "duplicate"})
        if self._closed:
            return _error(503, "the shop is closed: it takes no new orders")
        try:
            envelope = _envelope_decoder.decode(body)
            if envelope.type != ORDER_CREATED:
                self._seen.add(msg_id)
                return web.json_response({"status": "ignored"})
            data = _order_decoder.decode(envelope.data)
        except msgspec.DecodeError as exc:
            return _error(400, f"invalid order webhook: {exc}")
        unknown = sorted({line.item for line in data.lines} - self._lead_times.keys())
        if unknown:
            return _error(422, f"the shop does not sell {', '.join(unknown)}")
        self._seen.add(msg_id)
        if self.ledger.get(data.order_id) is not None:
            return web.json_response({"status": "duplicate"})
        order = self._accept(data)
        return web.json_response(
            {"status": "accepted", "order_id": order.order_id, "eta": isoformat_z(order.eta)}
        )

    def _accept(self, data: _OrderCreated) -> ShopOrder:
        now = self._clock.now()
        order = ShopOrder(
            order_id=data.order_id,
            household=data.household,
            lines=data.lines,
            received_at=now,
            eta=now + self._lead_time(data.lines),
        )
        self.ledger.add(order)
        self._spawn(self._fulfil(order), name=f"fulfil-{order.order_id}")
        return order

    def _lead_time(self, lines: tuple[OrderLine, ...]) -> timedelta:
        """One delivery for the whole order, as slow as its slowest line can be."""
        ranges = [self._lead_times[line.item] for line in lines]
        low = max(r.min for r in ranges)
        high = max(r.max for r in ranges)
        return timedelta(hours=self._rng.uniform(low, high))

    async def _fulfil(self, order: ShopOrder) -> None:
        self._report(order.order_id, "acknowledged", order.eta)
        await sleep_until(self._clock, order.received_at + (order.eta - order.received_at) / 2)
        self._report(order.order_id, "shipped", order.eta)
        await sleep_until(self._clock, order.eta)
        for line in order.lines:
            try:
                await self._deliver(order.household, line.item, line.packs)
            except Exception:
                logger.exception(
                    "delivering %s x%d of order %s to %s failed",
                    line.item,
                    line.packs,
                    order.order_id,
                    order.household,
                )
        self.ledger.mark_delivered(order.order_id, self._clock.now())
        self._report(order.order_id, "delivered")

    def _report(self, order_id: str, status: ReportedStatus, eta: datetime | None = None) -> None:
        """Queue a status report; reports of one order reach the bridge in order."""
        report = StatusReport(status, None if eta is None else isoformat_z(eta))
        previous = self._last_report.get(order_id)
        task = self._spawn(
            self._send_after(previous, order_id, report), name=f"{status}-{order_id}"
        )
        self._last_report[order_id] = task

    async def _send_after(
        self, previous: asyncio.Task[None] | None, order_id: str, report: StatusReport
    ) -> None:
        if previous is not None:
            await asyncio.wait({previous})
        await self._post_status(order_id, report)
        if report.status == "delivered":
            self._last_report.pop(order_id, None)

    async def _post_status(self, order_id: str, report: StatusReport) -> None:
        """Post one signed report, retrying with backoff; log and give up after the last try."""
        settings = self.settings
        url = URL(
            f"{settings.bridge_url.rstrip('/')}/v1/shop/orders/{quote(order_id, safe='')}/status",
            encoded=True,
        )
        body = _encoder.encode(report)
        msg_id = f"msg_{uuid.uuid4().hex}"
        delay = settings.retry_delay
        for attempt in range(1, settings.status_attempts + 1):
            problem = await self._post_once(url, msg_id, body)
            if problem is None:
                return
            if problem.final or attempt == settings.status_attempts:
                logger.error(
                    "gave up reporting %s for order %s: %s", report.status, order_id, problem
                )
                return
            logger.warning(
                "reporting %s for order %s failed (%s); retrying in %.1fs",
                report.status,
                order_id,
                problem,
                delay,
            )
            await self._signing_clock.sleep(delay)
            delay = min(delay * 2, settings.retry_max_delay)

    async def _post_once(self, url: URL, msg_id: str, body: bytes) -> _PostProblem | None:
        if self._session is None:
            return _PostProblem("the shop is not running", final=True)
        headers = sign(self.settings.secret, msg_id, self._signing_clock.now(), body)
        headers["Content-Type"] = "application/json"
        try:
            async with self._session.post(url, data=body, headers=headers) as response:
                if response.status < 300:
                    return None
                final = 400 <= response.status < 500 and (
                    response.status not in _RETRYABLE_CLIENT_ERRORS
                )
                text = (await response.text())[:200]
                return _PostProblem(f"HTTP {response.status} {text}", final=final)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return _PostProblem(str(exc) or type(exc).__name__, final=False)

    def _spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def session_ctx(self, app: web.Application) -> AsyncIterator[None]:
        """``cleanup_ctx``: the HTTP client for status reports."""
        timeout = aiohttp.ClientTimeout(total=self.settings.request_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            self._session = session
            yield
            self._session = None

    async def close(self) -> None:
        """Stop trading: deliveries and reports still under way are cancelled, and new
        orders are refused (503). A simulation ends with this before its household goes
        offline, so that no delivery comes to a home that is no longer there."""
        self._closed = True
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._last_report.clear()

    async def tasks_ctx(self, app: web.Application) -> AsyncIterator[None]:
        """``cleanup_ctx``: the shop closes on exit."""
        yield
        await self.close()


@dataclass(frozen=True, slots=True)
class _PostProblem:
    reason: str
    final: bool

    def __str__(self) -> str:
        return self.reason


SHOP: web.AppKey[Shop] = web.AppKey("shop", Shop)


def create_shop_app(
    settings: ShopSettings,
    *,
    clock: Clock,
    deliver: Deliver,
    signing_clock: Clock | None = None,
) -> web.Application:
    """The shop as an aiohttp app; ``app[SHOP].ledger`` records its orders and deliveries."""
    shop = Shop(settings, clock=clock, deliver=deliver, signing_clock=signing_clock)
    app = web.Application()
    app[SHOP] = shop
    app.router.add_routes([web.post("/webhooks/orders", shop.handle_order)])
    # Registered in this order so that tasks are cancelled before the session closes.
    app.cleanup_ctx.append(shop.session_ctx)
    app.cleanup_ctx.append(shop.tasks_ctx)
    return app


def shop_ledger(app: web.Application) -> ShopLedger:
    """The orders and deliveries of the shop ``app``."""
    return app[SHOP].ledger


async def close_shop(app: web.Application) -> None:
    """Close the shop ``app`` (:meth:`Shop.close`) while its server still runs."""
    await app[SHOP].close()


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
