"""Real MQTT brokers for tests: a Mosquitto 2 process, or amqtt in the test's event loop."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from simulators.embedded_broker import EmbeddedBroker
from simulators.ports import free_port

__all__ = ["BrokerAddress", "free_port", "run_amqtt", "run_mosquitto"]


@dataclass(frozen=True)
class BrokerAddress:
    kind: str
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


async def _wait_listening(port: int) -> None:
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        writer.close()
        await writer.wait_closed()
        return


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )


@asynccontextmanager
async def run_mosquitto() -> AsyncIterator[BrokerAddress]:
    """Start a private Mosquitto on a free loopback port; stop it afterwards."""
    binary = mosquitto_binary()
    if binary is None:
        raise RuntimeError("mosquitto is not installed (apt-get install -y mosquitto)")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "max_queued_messages 100000\n"
        )
        proc = await asyncio.create_subprocess_exec(
            binary, "-c", str(conf), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            async with asyncio.timeout(10):
                await _wait_listening(port)
            yield BrokerAddress("mosquitto", "127.0.0.1", port)
        finally:
            proc.terminate()
            try:
                async with asyncio.timeout(5):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()


@asynccontextmanager
async def run_amqtt() -> AsyncIterator[BrokerAddress]:
    """Start the embedded amqtt broker, the demo's default, on a free loopback port."""
    port = free_port()
    async with EmbeddedBroker("127.0.0.1", port):
        yield BrokerAddress("amqtt", "127.0.0.1", port)


def in_ci() -> bool:
    return bool(os.environ.get("CI"))
