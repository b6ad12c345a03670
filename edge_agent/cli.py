"""The ``restock`` command: a thin layer over the library; each command calls one function."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import click

from cloud_bridge.cli import bridge
from edge_agent.clock import SystemClock
from edge_agent.config import load_config
from edge_agent.errors import RestockError
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


@agent.command("run")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Agent configuration file (TOML); see docs/agent.md.",
)
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


cli.add_command(bridge)
cli.add_command(demo)
cli.add_command(simulate)
cli.add_command(evaluate)


def main() -> None:
    cli(prog_name="restock")
