"""An in-process MQTT broker (amqtt), so the demo runs without installing Mosquitto."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any, Self

from amqtt.broker import Broker


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
        self._broker = Broker(config)
        await self._broker.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        broker, self._broker = self._broker, None
        await broker.shutdown()
