"""An in-process MQTT broker (amqtt), so the demo runs without installing Mosquitto."""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Any, Self

from amqtt.broker import Broker


class _ClosingBroker(Broker):  # type: ignore[misc]
    """amqtt's broker, but it closes every client socket it accepted when it shuts down.

    amqtt returns from ``shutdown()`` while connection handlers may still hold their
    sockets, and some of its error paths never close the writer; the sockets then leak
    when the event loop closes (a ResourceWarning, which our tests treat as an error).
    """

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._handlers: set[asyncio.Task[Any]] = set()

    async def stream_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener_name: str
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            await super().stream_connected(reader, writer, listener_name)
        finally:
            writer.close()
            if task is not None:
                self._handlers.discard(task)

    async def close_connections(self) -> None:
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        # Let the closed transports run their connection_lost callbacks.
        await asyncio.sleep(0)


class EmbeddedBroker:
    """An amqtt broker listening on ``host:port`` for the life of an ``async with`` block."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._broker: Any = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    async def __aenter__(self) -> Self:
        if self._broker is not None:
            raise RuntimeError("EmbeddedBroker is already running")
        # amqtt logs every connection and packet at INFO; the demo's output is the table.
        logging.getLogger("amqtt").setLevel(logging.WARNING)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        self._broker = _ClosingBroker(config)
        await self._broker.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        broker, self._broker = self._broker, None
        try:
            await broker.shutdown()
        finally:
            await broker.close_connections()
