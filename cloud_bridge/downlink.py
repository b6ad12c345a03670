"""The downlink: order updates published to the household's MQTT broker for its agent.

Updates are retained, QoS 1, on ``order_update_topic(household, order_id)``, so an
agent that was offline finds each order's latest state when it subscribes.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Protocol, Self

import aiomqtt

from cloud_bridge.errors import CloudBridgeError
from edge_agent.clock import Clock, SystemClock
from edge_agent.mqtt_link import publish
from edge_agent.protocol import OrderUpdate, encode, order_update_topic

logger = logging.getLogger(__name__)


class Downlink(Protocol):
    """Where the bridge sends order updates; ``send`` never blocks."""

    def send(self, household: str, update: OrderUpdate) -> None: ...


class NoDownlink:
    """The downlink when no broker is configured: updates are dropped."""

    def send(self, household: str, update: OrderUpdate) -> None:
        del household, update


class MqttDownlink:
    """One aiomqtt connection, kept open (and reopened) for the life of ``async with``.

    ``send`` queues an update and returns. Queued updates are keyed by topic, so while
    the broker is away only each order's latest update waits; the queue is bounded by
    the number of orders that changed. Updates still queued at exit are lost: the
    order table holds the truth, and the agent can ask ``GET /v1/orders/{id}``.
    """

    def __init__(
        self,
        host: str,
        port: int = 1883,
        *,
        identifier: str | None = None,
        timeout: float = 10.0,
        reconnect_delay: float = 1.0,
        max_reconnect_delay: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._identifier = identifier
        self._timeout = timeout
        self._reconnect_delay = reconnect_delay
        self._max_reconnect_delay = max_reconnect_delay
        # Reconnecting waits in real time: the broker's outage is real.
        self._clock = clock or SystemClock()
        self._pending: dict[str, bytes] = {}
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
        try:
            await task
        except asyncio.CancelledError:
            # Re-raise only if *we* are being cancelled, not just our task.
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise

    def send(self, household: str, update: OrderUpdate) -> None:
        self._pending[order_update_topic(household, update.order_id)] = encode(update)
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
            await self._wake.wait()
            self._wake.clear()
            for topic, payload in list(self._pending.items()):
                await publish(client, topic, payload, retain=True, timeout=self._timeout)
                # A newer update may have replaced this one while it was in flight.
                if self._pending.get(topic) is payload:
                    del self._pending[topic]
