"""``restock demo``: one household, its devices, the agent, the bridge and a shop, on one clock.

Everything runs in this process and talks over real loopback sockets: MQTT through a
broker (embedded amqtt, or one given), HTTP between agent, bridge and shop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from aiohttp import web

from cloud_bridge.app import create_app
from cloud_bridge.settings import BridgeSettings
from cloud_bridge.store import Store as BridgeStore
from edge_agent.bridge_client import BridgeClient
from edge_agent.clock import SimulatedClock
from edge_agent.mqtt_link import BrokerUrl
from edge_agent.service import AgentService
from edge_agent.store import AgentStore
from edge_agent.webhooks import new_secret
from simulators.devices import SimulatedHousehold
from simulators.embedded_broker import EmbeddedBroker
from simulators.errors import SimulatorError
from simulators.pacing import catch_up, pace
from simulators.ports import free_port
from simulators.report import ItemTimeline, SummaryRow, render_report
from simulators.scenario import Scenario, builtin_scenario, load_scenario
from simulators.shop import (
    ShopLedger,
    ShopSettings,
    close_shop,
    create_shop_app,
    shop_ledger,
)

AGENT_DEVICE = "agent"
#: A refill the agent detects this close to a delivery is that delivery, seen.
REFILL_WINDOW = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class DemoSettings:
    scenario: Path = field(default_factory=lambda: builtin_scenario("demo"))
    broker: str | None = None  # mqtt://host:port; None starts the embedded broker
    speed: float = 86_400.0  # simulated seconds per real second: a day a second
    report: Path | None = Path("restock-demo-report.html")
    workdir: Path | None = None  # where the databases go; a temporary folder if None
    #: How long the agent may take to connect and subscribe before the household starts.
    connect_timeout: float = 15.0


@dataclass(frozen=True, slots=True)
class DemoResult:
    scenario: Scenario
    rows: tuple[SummaryRow, ...]
    orders: int
    deliveries: int
    delivered_lines: int
    deliveries_seen: int  # delivered lines the agent saw as refills in later readings
    readings: int
    dropped: int
    report: Path | None


@asynccontextmanager
async def serve(app: web.Application, port: int) -> AsyncIterator[None]:
    """Serve ``app`` on a loopback port for the life of the block."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield
    finally:
        await runner.cleanup()


@asynccontextmanager
async def _broker(url: str | None) -> AsyncIterator[BrokerUrl]:
    if url is not None:
        yield BrokerUrl.parse(url)
        return
    async with EmbeddedBroker("127.0.0.1", free_port()) as broker:
        yield BrokerUrl(broker.host, broker.port)


async def run_demo(settings: DemoSettings) -> DemoResult:
    """Run the scenario to its end and return what happened."""
    scenario = load_scenario(settings.scenario)
    household_id = scenario.household.id
    clock = SimulatedClock(scenario.start, speed=settings.speed)
    async with AsyncExitStack() as stack:
        workdir = settings.workdir or Path(stack.enter_context(TemporaryDirectory()))
        broker = await stack.enter_async_context(_broker(settings.broker))
        bridge_db = workdir / "bridge.db"
        secret = _register_agent(bridge_db, household_id, clock.now())
        shop_secret = new_secret()
        bridge_port, shop_port = free_port(), free_port()
        bridge_url = f"http://127.0.0.1:{bridge_port}"

        household = SimulatedHousehold(broker.host, broker.port, scenario=scenario, clock=clock)

        async def deliver(_household: str, item: str, packs: int) -> float:
            return await household.deliver(item, packs)

        shop_app = create_shop_app(
            ShopSettings(
                secret=shop_secret,
                bridge_url=bridge_url,
                items=scenario.items,
                seed=scenario.household.seed,
            ),
            clock=clock,
            deliver=deliver,
        )
        bridge_app = create_app(
            BridgeSettings(
                db_path=bridge_db,
                shop_url=f"http://127.0.0.1:{shop_port}/webhooks/orders",
                shop_secret=shop_secret,
                port=bridge_port,
                mqtt_url=str(broker),
            ),
            clock=clock,
        )
        await stack.enter_async_context(serve(shop_app, shop_port))
        await stack.enter_async_context(serve(bridge_app, bridge_port))

        agent = AgentService(
            household=household_id,
            device=AGENT_DEVICE,
            items=scenario.items,
            broker=broker,
            bridge=BridgeClient(
                bridge_url, household=household_id, device=AGENT_DEVICE, secret=secret
            ),
            store=AgentStore(workdir / "agent.db"),
            clock=clock,
        )
        agent_task = asyncio.create_task(agent.run(), name="agent")
        stack.push_async_callback(_cancel, agent_task)
        try:
            async with asyncio.timeout(settings.connect_timeout):
                await agent.connected.wait()
        except TimeoutError:
            raise SimulatorError(
                f"the agent could not connect to the MQTT broker at {broker}"
                f" within {settings.connect_timeout:g} s; is it running?"
            ) from None
        clock.restart()  # set-up is done: day 0 starts now, as the devices come online
        await stack.enter_async_context(household)
        # Unwound first: the shop stops delivering before the household goes offline.
        stack.push_async_callback(close_shop, shop_app)

        def behind() -> timedelta:
            return max(household.lag(), household.unheard(agent.readings_received))

        pacer = asyncio.create_task(pace(clock, behind), name="pacer")
        stack.push_async_callback(_cancel, pacer)
        await household.run()
        await catch_up(clock, behind)  # the agent reads the last day before the summary
        return _result(settings, scenario, household, agent, shop_ledger(shop_app))
    raise AssertionError("unreachable: the block above returns")  # for mypy


def _register_agent(path: Path, household: str, now: datetime) -> str:
    with BridgeStore(path) as store:
        return store.add_device(household, AGENT_DEVICE, now=now)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _result(
    settings: DemoSettings,
    scenario: Scenario,
    household: SimulatedHousehold,
    agent: AgentService,
    ledger: ShopLedger,
) -> DemoResult:
    orders = agent.store.orders()
    order_lines: dict[str, list[tuple[datetime, str]]] = {}
    for order in orders:
        for line in order.decision.lines:
            order_lines.setdefault(line.item, []).append(
                (order.decision.created_at, line.explanation)
            )
    delivered: dict[str, list[datetime]] = {}
    for shipment in ledger.deliveries:
        for shipped in shipment.lines:
            if shipment.delivered_at is not None:
                delivered.setdefault(shipped.item, []).append(shipment.delivered_at)
    summaries = {summary.item: summary for summary in household.stock.summary(scenario.end)}
    rows = tuple(
        SummaryRow(
            item=item.id,
            orders=len(order_lines.get(item.id, [])),
            deliveries=len(delivered.get(item.id, [])),
            stockout_hours=summaries[item.id].stockout_hours,
            lowest=summaries[item.id].lowest,
            unit=item.unit,
        )
        for item in scenario.items
    )
    report = None
    if settings.report is not None:
        timelines = [
            ItemTimeline(
                item=item,
                levels=household.stock[item.id].history,
                orders=tuple(order_lines.get(item.id, [])),
                deliveries=tuple(delivered.get(item.id, [])),
            )
            for item in scenario.items
        ]
        settings.report.write_text(
            render_report(
                title=f"Restock demo: household {scenario.household.id}",
                start=scenario.start,
                end=scenario.end,
                summary=rows,
                timelines=timelines,
            )
        )
        report = settings.report
    return DemoResult(
        scenario=scenario,
        rows=rows,
        orders=len(orders),
        deliveries=len(ledger.deliveries),
        delivered_lines=sum(len(times) for times in delivered.values()),
        deliveries_seen=_refills_seen(agent, delivered),
        readings=agent.store.count_readings(),
        dropped=sum(agent.dropped.values()),
        report=report,
    )


def _refills_seen(agent: AgentService, delivered: dict[str, list[datetime]]) -> int:
    """Delivered lines that the agent's estimator saw as a refill, from later readings."""
    seen = 0
    for item, times in delivered.items():
        refills = [refill.ts for refill in agent.brain.estimators[item].refills]
        for when in times:
            seen += any(when - REFILL_WINDOW <= ts <= when + REFILL_WINDOW for ts in refills)
    return seen
