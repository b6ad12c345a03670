"""The downlink: order updates published to the household's MQTT broker for its agent.

Updates are retained, QoS 1, on ``order_update_topic(household, order_id)``, so an
agent that was offline finds each order's latest state when it subscribes.

The queue is the orders table: every change bumps an order's ``version``, and an order
whose ``announced_version`` is behind still waits to be published (store.py). So
updates survive a broker outage and a bridge restart, and a change made by another
process (``restock bridge cancel``) is published by the running bridge. While an order
waits, only its latest state is published.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Final, Protocol, Self

import aiomqtt

from cloud_bridge.errors import CloudBridgeError
from cloud_bridge.store import Order, Store
from cloud_bridge.waiting import wake_or_sleep
from edge_agent.clock import Clock, SystemClock
from edge_agent.mqtt_link import publish
from edge_agent.protocol import OrderUpdate, encode, order_update_topic

logger = logging.getLogger(__name__)
#: How long the downlink's task has to stop after a cancel before it is cancelled again.
CANCEL_AGAIN_AFTER = 1.0

#: Updates read from the database per pass.
BATCH: Final = 100


class Downlink(Protocol):
    """Where the bridge says that orders changed; ``notify`` never blocks."""

    def notify(self) -> None: ...


class NoDownlink:
    """The downlink when no broker is configured: changes wait in the database, unpublished."""

    def notify(self) -> None:
        pass


def order_update(order: Order) -> OrderUpdate:
    """The protocol's order update for the order's current state."""
    return OrderUpdate(
        order_id=order.order_id,
        status=order.status,
        ts=order.updated_at,
        lines=order.lines,
        eta=order.eta,
        request_id=order.request_id,
    )


class MqttDownlink:
    """One aiomqtt connection, kept open (and reopened) for the life of ``async with``.

    ``notify`` wakes the publisher; it also looks at the database every ``poll``
    seconds, for changes made by other processes.
    """

    def __init__(
        self,
        host: str,
        port: int = 1883,
        *,
        store: Store,
        identifier: str | None = None,
        timeout: float = 10.0,
        reconnect_delay: float = 1.0,
        max_reconnect_delay: float = 30.0,
        poll: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._store = store
        self._identifier = identifier
        self._timeout = timeout
        self._reconnect_delay = reconnect_delay
        self._max_reconnect_delay = max_reconnect_delay
        self._poll = poll
        # Reconnecting and polling wait in real time: the broker's outage is real.
        self._clock = clock or SystemClock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        if self._task is not None:
            raise CloudBridgeError("MqttDownlink is already running")
        self._task = asyncio.create_task(self._run(), name=f"downlink {self.host}:{self.port}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        # On Python 3.11, asyncio.wait_for inside aiomqtt can swallow a cancellation that
        # meets a PUBACK (CPython gh-86296); cancel again until the task has stopped.
        while not (await asyncio.wait({task}, timeout=CANCEL_AGAIN_AFTER))[0]:
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            # Re-raise only if *we* are being cancelled, not just our task.
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise

    def notify(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        delay = self._reconnect_delay
        while True:
            try:
                async with aiomqtt.Client(
                    self.host, self.port, identifier=self._identifier, timeout=self._timeout
                ) as client:
                    delay = self._reconnect_delay
                    await self._publish_forever(client)
            except aiomqtt.MqttError as exc:
                logger.warning(
                    "MQTT downlink %s:%s unavailable (%s); retrying in %.1fs",
                    self.host,
                    self.port,
                    exc,
                    delay,
                )
            await self._clock.sleep(delay)
            delay = min(delay * 2, self._max_reconnect_delay)

    async def _publish_forever(self, client: aiomqtt.Client) -> None:
        while True:
            self._wake.clear()
            batch = self._store.unannounced(limit=BATCH)
            for order in batch:
                topic = order_update_topic(order.household, order.order_id)
                await publish(
                    client, topic, encode(order_update(order)), retain=True, timeout=self._timeout
                )
                self._store.mark_announced(order.order_id, order.version)
            if len(batch) < BATCH:
                await wake_or_sleep(self._wake, self._clock, self._poll)
