"""The ``restock`` command: a thin layer over the library; each command calls one function."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import click

from cloud_bridge.cli import bridge
from edge_agent.budget import BudgetSettings, order_cents
from edge_agent.clock import SystemClock, isoformat_z
from edge_agent.config import AgentConfig, load_config
from edge_agent.errors import RestockError
from edge_agent.protocol import ItemOutlook
from edge_agent.store import AgentStore, StoredOrder
from simulators.cli import demo, evaluate, simulate


@click.group()
@click.version_option(package_name="restock")
@click.option("-v", "--verbose", count=True, help="Log more: -v for info, -vv for debug.")
def cli(verbose: int) -> None:
    """Restock: senseless shopping for the home."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@cli.group()
def agent() -> None:
    """The edge agent that runs on the household's box."""


_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Agent configuration file (TOML); see docs/agent.md.",
)


@agent.command("run")
@_config_option
def agent_run(config_path: Path) -> None:
    """Run the agent until interrupted: read sensors, forecast, and reorder."""
    from edge_agent.service import AgentService

    try:
        config = load_config(config_path)
        service = AgentService.from_config(config, clock=SystemClock())
    except RestockError as exc:
        raise click.ClickException(str(exc)) from None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(service.run())


@agent.command("check-config")
@click.argument("config_path", type=click.Path(dir_okay=False, path_type=Path))
def agent_check_config(config_path: Path) -> None:
    """Validate an agent configuration file and say what it configures."""
    try:
        config = load_config(config_path)
    except RestockError as exc:
        raise click.ClickException(str(exc)) from None
    items = ", ".join(item.id for item in config.items)
    click.echo(f"{config_path}: household {config.agent.household}, items: {items}")


@contextlib.contextmanager
def _agent_store(config_path: Path) -> Iterator[tuple[AgentConfig, AgentStore]]:
    """The configuration and the agent's database, library errors made click errors."""
    try:
        config = load_config(config_path)
    except RestockError as exc:
        raise click.ClickException(str(exc)) from None
    database = Path(config.agent.database)
    if not database.is_file():
        raise click.ClickException(f"{database}: no agent database (has the agent run yet?)")
    store = AgentStore(database)
    try:
        yield config, store
    except RestockError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()


@agent.command("orders")
@_config_option
@click.option("--awaiting", is_flag=True, help="Only the orders awaiting approval.")
def agent_orders(config_path: Path, awaiting: bool) -> None:
    """List the agent's orders, oldest first, with their status, cost and explanation."""
    with _agent_store(config_path) as (config, store):
        prices = {item.id: item.price for item in config.items}
        money = (config.agent.budget or BudgetSettings()).money
        for order in store.orders(awaiting_only=awaiting):
            click.echo(_describe(order, money(order_cents(order.decision.lines, prices))))


def _describe(order: StoredOrder, cost: str) -> str:
    decision = order.decision
    lines = ", ".join(f"{line.packs} x {line.item}" for line in decision.lines)
    return (
        f"{decision.request_id}  {order.status}  {isoformat_z(decision.created_at)}"
        f"  {cost}  {lines}\n  {order.explanation}"
    )


@agent.command("items")
@_config_option
def agent_items(config_path: Path) -> None:
    """Show each item's level, rate, run-out and sensor state, as the agent last saw them."""
    with _agent_store(config_path) as (_, store):
        for outlook in store.outlooks():
            click.echo(_describe_outlook(outlook))


def _describe_outlook(outlook: ItemOutlook) -> str:
    unit, when = outlook.unit, "%a %d %b %H:%M"
    if outlook.level is None or outlook.run_out is None or outlook.rate_per_day is None:
        stock = "no forecast yet"
    else:
        run_out = outlook.run_out
        coming = f", {outlook.on_the_way:g} {unit} on the way" if outlook.on_the_way else ""
        stock = (
            f"{round(outlook.level, 1):g} {unit}{coming}, {outlook.rate_per_day:.3g} {unit}/day,"
            f" runs out ~{run_out.p50:{when}} UTC"
            f" (P10 {run_out.p10:{when}}, P90 {run_out.p90:{when}})"
        )
    line = f"{outlook.item}  {stock}  sensor {outlook.sensor}  as of {isoformat_z(outlook.ts)}"
    return line if outlook.note is None else f"{line}\n  {outlook.note}"


@agent.command("approve")
@_config_option
@click.argument("order")
def agent_approve(config_path: Path, order: str) -> None:
    """Approve ORDER, held by the spending cap or approval limit: the agent sends it."""
    with _agent_store(config_path) as (_, store):
        store.approve(order, SystemClock().now())
    click.echo(f"approved {order}: the running agent sends it within a minute")


@agent.command("decline")
@_config_option
@click.argument("order")
def agent_decline(config_path: Path, order: str) -> None:
    """Decline ORDER, held by the spending cap or approval limit: it is never sent."""
    with _agent_store(config_path) as (_, store):
        store.decline(order, SystemClock().now())
    click.echo(f"declined {order}: its items wait a day before being ordered again")


cli.add_command(bridge)
cli.add_command(demo)
cli.add_command(simulate)
cli.add_command(evaluate)


def main() -> None:
    cli(prog_name="restock")
