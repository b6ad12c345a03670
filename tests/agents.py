"""An agent service for tests: household ``home``, milk and coffee, no broker needed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from edge_agent import protocol
from edge_agent.bridge_client import BridgeClient
from edge_agent.budget import BudgetSettings
from edge_agent.clock import Clock, SimulatedClock
from edge_agent.mqtt_link import BrokerUrl
from edge_agent.service import AgentService
from edge_agent.store import AgentStore
from edge_agent.webhooks import new_secret
from tests.items import COFFEE, MILK, T0

MILK_TOPIC = protocol.reading_topic("home", "fridge", "milk")


def make_agent(
    store: AgentStore | None = None,
    *,
    bridge_port: int = 1,
    secret: str | None = None,
    budget: BudgetSettings | None = None,
    broker: BrokerUrl | None = None,
    clock: Clock | None = None,
    network_clock: Clock | None = None,
) -> AgentService:
    """An agent whose bridge is at ``bridge_port`` (nothing listens on port 1), and whose
    broker is ``broker`` (by default, again nobody)."""
    return AgentService(
        household="home",
        device="agent",
        items=[MILK, COFFEE],
        broker=broker or BrokerUrl("127.0.0.1", 1),
        bridge=BridgeClient(
            f"http://127.0.0.1:{bridge_port}",
            household="home",
            device="agent",
            secret=secret or new_secret(),
        ),
        store=store or AgentStore(memory=True),
        clock=clock or SimulatedClock(T0, speed=1.0),
        network_clock=network_clock,
        budget=budget,
    )


def full_fridge(agent: AgentService) -> None:
    """The fridge reports a full milk shelf at ``T0``. At start the agent orders nothing
    until every item has been heard from (or for ``STARTUP_WAIT``); after this, what
    the coffee machine reports due is ordered at once."""
    reading = protocol.Reading(ts=T0, value=MILK.capacity, unit="g", seq=1)
    agent.handle(MILK_TOPIC, protocol.encode(reading))


def fail_first_call(
    monkeypatch: pytest.MonkeyPatch, target: object, name: str, error: Exception
) -> list[tuple[Any, ...]]:
    """Make ``target.name`` raise ``error`` at its first call and work after it (a disk
    full for a moment, a database locked); return the calls made, for the test to count."""
    method = getattr(target, name)
    calls: list[tuple[Any, ...]] = []

    def fails_once(*args: Any) -> Any:
        calls.append(args)
        if len(calls) == 1:
            raise error
        return method(*args)

    monkeypatch.setattr(target, name, fails_once)
    return calls


@contextlib.asynccontextmanager
async def running(agent: AgentService) -> AsyncIterator[None]:
    """The agent running (``run()``, as a task) for the block; cancelled after it."""
    task = asyncio.create_task(agent.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
