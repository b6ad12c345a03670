"""``restock demo`` and ``restock simulate``: thin commands over the simulators."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import click

from edge_agent.errors import RestockError
from edge_agent.mqtt_link import BrokerUrl
from simulators.comparison import Job, compare, markdown_table, scenario_files, write_charts
from simulators.demand import load_demand
from simulators.demo import DemoResult, DemoSettings, run_demo
from simulators.errors import SimulatorError
from simulators.policies import POLICIES
from simulators.scenario import builtin_scenario, load_scenario
from simulators.simulate import LiveReport, record, run_live, with_days
from simulators.targets import check_targets, targets_table


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


@click.command()
@click.option(
    "--scenario",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Scenario file (TOML, see docs/scenarios.md). Default with --households: the demo.",
)
@click.option(
    "--demand",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Demand CSV (timestamp,item,quantity) replacing the consumption model.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Write the messages the devices would publish here (JSON Lines; - for stdout).",
)
@click.option("--broker", metavar="mqtt://HOST:PORT", help="Publish live on this MQTT broker.")
@click.option(
    "--speed",
    type=click.FloatRange(min=0.001),
    default=1.0,
    show_default=True,
    help="With --broker: simulated seconds per real second (1: real time; 86400: a day a second).",
)
@click.option(
    "--households",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="With --broker: run this many copies of the household (own ids and seeds) at once.",
)
@click.option("--days", type=click.IntRange(min=1), help="Simulate this many days instead.")
def simulate(
    scenario: Path | None,
    demand: Path | None,
    out: Path | None,
    broker: str | None,
    speed: float,
    households: int,
    days: int | None,
) -> None:
    """Simulate a household's devices: record their messages, or publish them live."""
    if (out is None) == (broker is None):
        raise click.UsageError("give exactly one of --out FILE or --broker mqtt://HOST:PORT")
    if households > 1 and broker is None:
        raise click.UsageError("--households needs --broker: it is a load generator")
    if scenario is None and households == 1:
        raise click.UsageError("--scenario FILE.toml is required")
    try:
        loaded = load_scenario(scenario or builtin_scenario("demo"))
        if days is not None:
            loaded = with_days(loaded, days)
        uses = load_demand(demand, loaded) if demand is not None else None
        if out is not None:
            if str(out) == "-":
                count = record(loaded, sys.stdout.buffer, demand=uses)
            else:
                with out.open("wb") as file:
                    count = record(loaded, file, demand=uses)
            click.echo(f"{count} messages written to {out}", err=True)
            return
        assert broker is not None
        url = BrokerUrl.parse(broker)
        report = asyncio.run(run_live(loaded, url, speed=speed, households=households, demand=uses))
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or out}: {exc.strerror or exc}") from None
    except (RestockError, SimulatorError) as exc:
        raise click.ClickException(str(exc)) from None
    print_live_report(report)


def print_live_report(report: LiveReport) -> None:
    click.echo(
        f"{report.households} household(s), {report.devices} device connections,"
        f" {report.days} simulated days at {report.speed:g}x: {report.messages} messages"
        f" in {report.wall_seconds:.1f} s ({report.cpu_seconds:.1f} s of CPU),"
        f" at most {report.max_lag_seconds:.0f} simulated s behind the clock,"
        f" {report.peak_memory_mib:.0f} MiB peak memory."
    )
    click.echo(
        f"CPU per household-day: {report.cpu_seconds_per_household_day * 1000:.1f} ms."
        f" By CPU, one core drives about {report.households_per_core(report.speed):,.0f}"
        f" households at {report.speed:g}x and {report.households_per_core():,.0f} in real"
        " time (each with one connection per device)."
    )


@click.command()
@click.option(
    "--scenario",
    "scenario_path",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="A scenario file (TOML), or a folder: every *.toml in it.",
)
@click.option(
    "--demand",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Demand CSV replacing the consumption model (with a single scenario file).",
)
@click.option(
    "--policy",
    "policies",
    type=click.Choice(POLICIES),
    multiple=True,
    help="Policy to evaluate; repeat for several. Default: all four.",
)
@click.option("--seed", type=int, help="Use this seed instead of each scenario's own.")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every metric, overall and per item, here (JSON).",
)
@click.option(
    "--markdown",
    "markdown_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the comparison table here (Markdown), with Issue 6's targets when the agent,"
    " fixed-cycle and threshold all ran.",
)
@click.option(
    "--charts",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("restock-evaluation"),
    show_default=True,
    help="Folder for one PNG chart per scenario: each item's stock per policy.",
)
@click.option("--no-charts", is_flag=True, help="Draw no charts.")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    help="Evaluations run at once. Default: one per core.",
)
def evaluate(
    scenario_path: Path,
    demand: Path | None,
    policies: tuple[str, ...],
    seed: int | None,
    json_path: Path | None,
    markdown_path: Path | None,
    charts: Path,
    no_charts: bool,
    jobs: int | None,
) -> None:
    """Score reorder policies on simulated households, in a closed loop."""
    files = scenario_files(scenario_path)
    if not files:
        raise click.UsageError(f"no *.toml scenarios in {scenario_path}")
    if demand is not None and len(files) > 1:
        raise click.UsageError("--demand goes with a single --scenario file, not a folder")
    try:
        for path in files:  # refuse a bad file before anything runs
            loaded = load_scenario(path)
            if demand is not None:
                load_demand(demand, loaded)
        work = [
            Job(path, policy, seed, demand) for path in files for policy in policies or POLICIES
        ]
        with click.progressbar(
            length=len(work), label="Evaluating", file=sys.stderr, show_pos=True
        ) as bar:
            results = compare(work, workers=jobs, progress=lambda _: bar.update(1))
        table = markdown_table(results)
        checked = check_targets(result.scores for result in results)
        if checked:
            table += "\nIssue 6's targets, scenario by scenario:\n\n" + targets_table(checked)
        if json_path is not None:
            document = [result.scores.to_json() for result in results]
            json_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        if markdown_path is not None:
            markdown_path.write_text(table, encoding="utf-8")
        drawn = [] if no_charts else write_charts(results, charts)
    except OSError as exc:
        raise click.ClickException(f"{exc.filename}: {exc.strerror or exc}") from None
    except (RestockError, SimulatorError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(table, nl=False)
    if drawn:
        click.echo(f"\nCharts: {charts.resolve()} ({len(drawn)} PNG)")
