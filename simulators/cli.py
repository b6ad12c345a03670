"""``restock demo`` (and, later, ``restock simulate``): thin commands over the simulators."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import click

from edge_agent.errors import RestockError
from simulators.demo import DemoResult, DemoSettings, run_demo
from simulators.errors import SimulatorError
from simulators.scenario import builtin_scenario


@click.command()
@click.option(
    "--scenario",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=builtin_scenario("demo"),
    show_default="the shipped demo household",
    help="Scenario file (TOML, see docs/scenarios.md).",
)
@click.option(
    "--broker",
    metavar="mqtt://HOST:PORT",
    help="Use this MQTT broker instead of starting the embedded one.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=1.0),
    default=86_400.0,
    show_default=True,
    help="Simulated seconds per real second (86400: a day a second).",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("restock-demo-report.html"),
    show_default=True,
    help="Where to write the HTML report.",
)
def demo(scenario: Path, broker: str | None, speed: float, report: Path) -> None:
    """Run one household for its scenario's days: devices, agent, bridge and shop."""
    settings = DemoSettings(scenario=scenario, broker=broker, speed=speed, report=report)
    started = time.monotonic()
    try:
        result = asyncio.run(run_demo(settings))
    except (RestockError, SimulatorError) as exc:
        raise click.ClickException(str(exc)) from None
    print_summary(result, time.monotonic() - started)


def print_summary(result: DemoResult, seconds: float) -> None:
    household = result.scenario.household
    click.echo(
        f"Household {household.id}: {household.days} simulated days in {seconds:.0f} s,"
        f" {result.readings} readings, {result.orders} orders,"
        f" {result.deliveries} deliveries ({result.delivered_lines} lines, of which the agent"
        f" saw {result.deliveries_seen} arrive as refills), {result.dropped} messages dropped."
    )
    click.echo()
    header = f"{'item':<14}{'orders':>8}{'deliveries':>12}{'stock-out h':>13}{'lowest level':>16}"
    click.echo(header)
    click.echo("-" * len(header))
    for row in result.rows:
        click.echo(
            f"{row.item:<14}{row.orders:>8}{row.deliveries:>12}"
            f"{row.stockout_hours:>13.1f}{row.lowest_text:>16}"
        )
    if result.report is not None:
        click.echo(f"\nReport: {result.report.resolve()}")
