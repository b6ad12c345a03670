"""The whole loop through a real broker: sensor → MQTT → agent → bridge → shop → delivery."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from simulators.demo import DemoSettings, run_demo
from simulators.errors import SimulatorError
from simulators.ports import free_port
from simulators.scenario import builtin_scenario
from tests.brokers import BrokerAddress


def short_demo(tmp_path: Path, days: int) -> Path:
    """The shipped demo household, cut to ``days`` days."""
    text = builtin_scenario("demo").read_text()
    assert "days = 60" in text
    path = tmp_path / "short.toml"
    path.write_text(text.replace("days = 60", f"days = {days}"))
    return path


@pytest.mark.broker
async def test_orders_flow_to_deliveries_that_sensors_see(
    broker: BrokerAddress, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """In 20 days, the agent orders, the shop delivers, and later readings show the
    refills; nothing goes wrong on the way, nor as the demo ends."""
    settings = DemoSettings(
        scenario=short_demo(tmp_path, days=20),
        broker=broker.url,
        speed=200_000,
        report=tmp_path / "report.html",
        workdir=tmp_path,
    )
    async with asyncio.timeout(120):
        result = await run_demo(settings)
    assert result.orders > 0
    assert result.deliveries > 0
    assert result.deliveries_seen > 0
    assert result.dropped == 0
    report = (tmp_path / "report.html").read_text()
    assert report.count("<svg") == len(result.scenario.items)
    assert 'class="delivery"' in report
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_unreachable_broker_is_a_clear_error(tmp_path: Path) -> None:
    """A --broker nobody listens on stops the demo with a message naming the broker."""
    port = free_port()
    settings = DemoSettings(
        broker=f"mqtt://127.0.0.1:{port}", report=None, workdir=tmp_path, connect_timeout=0.5
    )
    async with asyncio.timeout(30):
        with pytest.raises(SimulatorError, match=f"MQTT broker at mqtt://127.0.0.1:{port}"):
            await run_demo(settings)
