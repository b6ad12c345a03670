"""``restock simulate``: a scenario's device messages, to a file or live on a broker.

:func:`record` lives a scenario without a broker and writes every message its devices
would publish (no orders are placed, so only hand shopping refills the home).
:func:`run_live` publishes the same messages on a real broker on a
:class:`~edge_agent.clock.SimulatedClock`, for one household or, as a load generator,
for many copies of it at once, each with its own id and seed.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import BinaryIO

import msgspec

from edge_agent.clock import SimulatedClock
from edge_agent.mqtt_link import BrokerUrl
from simulators.devices import SimulatedHousehold
from simulators.errors import SimulatorError
from simulators.home import SimulatedHome
from simulators.household import Consumption
from simulators.recording import write_messages
from simulators.scenario import Scenario

#: Households are connected this many at a time, so a big load does not flood the broker.
CONNECT_BATCH = 50


def with_days(scenario: Scenario, days: int) -> Scenario:
    """``scenario``, lived for ``days`` days instead of its own."""
    if days < 1:
        raise SimulatorError(f"days must be at least 1, got {days}")
    household = msgspec.structs.replace(scenario.household, days=days)
    return msgspec.structs.replace(scenario, household=household)


def record(
    scenario: Scenario, out: BinaryIO, *, demand: Sequence[Consumption] | None = None
) -> int:
    """Write the scenario's messages to ``out`` as JSON Lines; return how many."""
    return write_messages(SimulatedHome(scenario, demand=demand).run(), out)


@dataclass(frozen=True, slots=True)
class LiveReport:
    """What a live run did, and what it cost."""

    households: int
    devices: int
    days: int
    speed: float
    messages: int
    wall_seconds: float
    cpu_seconds: float
    #: The furthest any household fell behind the clock, in simulated seconds.
    max_lag_seconds: float
    #: The process's peak resident memory, in MiB.
    peak_memory_mib: float

    @property
    def cpu_seconds_per_household_day(self) -> float:
        return self.cpu_seconds / (self.households * self.days)

    def households_per_core(self, speed: float = 1.0) -> float:
        """How many households one fully busy core could drive at ``speed``, by CPU alone."""
        busy = self.cpu_seconds_per_household_day * speed / 86_400
        return 1 / busy if busy > 0 else float("inf")


async def run_live(
    scenario: Scenario,
    broker: BrokerUrl,
    *,
    speed: float,
    households: int = 1,
    demand: Sequence[Consumption] | None = None,
    timeout: float = 10.0,
) -> LiveReport:
    """Publish the scenario live; with ``households`` > 1, that many copies at once."""
    if households < 1:
        raise SimulatorError(f"households must be at least 1, got {households}")
    _allow_open_files(households * len({item.device for item in scenario.items}) + 64)
    clock = SimulatedClock(scenario.start, speed=speed)
    homes = [
        SimulatedHousehold(
            broker.host,
            broker.port,
            scenario=scenario,
            clock=clock,
            demand=demand,
            household_id=scenario.household.id if households == 1 else _copy_id(scenario, n),
            seed=scenario.household.seed + n,
            timeout=timeout,
        )
        for n in range(households)
    ]
    started_wall, started_cpu = time.monotonic(), time.process_time()
    async with AsyncExitStack() as stack:
        for batch in range(0, households, CONNECT_BATCH):
            entering = [stack.enter_async_context(home) for home in homes[batch:][:CONNECT_BATCH]]
            await asyncio.gather(*entering)
        clock.restart()  # day 0 starts once every device is online
        async with asyncio.TaskGroup() as group:
            for home in homes:
                group.create_task(home.run())
    return LiveReport(
        households=households,
        devices=sum(len(home.connections) for home in homes),
        days=scenario.household.days,
        speed=speed,
        messages=sum(home.published for home in homes),
        wall_seconds=time.monotonic() - started_wall,
        cpu_seconds=time.process_time() - started_cpu,
        max_lag_seconds=max(home.max_lag for home in homes) / timedelta(seconds=1),
        peak_memory_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


def _copy_id(scenario: Scenario, n: int) -> str:
    return f"{scenario.household.id[:56]}-{n:05d}"


def _allow_open_files(needed: int) -> None:
    """Raise the open-file limit towards ``needed`` (one socket per device connection)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    ceiling = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, ceiling), hard))
    if ceiling < needed:
        raise SimulatorError(
            f"{needed} connections need {needed} open files, but this system allows {hard}"
        )
