"""Many evaluations at once: scenarios under policies, in parallel, scored, tabled, charted.

``restock evaluate`` is a thin command over :func:`compare`. Each (scenario, policy) job
runs in a worker process (the loop is CPU-bound Python), returns its :class:`Scores` and
what the chart needs, and the parent writes one PNG per scenario.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from simulators.charts import PolicyRun, write_chart
from simulators.demand import load_demand
from simulators.evaluate import evaluate, with_seed
from simulators.metrics import Scores, score
from simulators.scenario import Scenario, load_scenario

#: The metrics of the comparison table, in order, with their column headings.
COLUMNS = (
    ("fill_rate", "fill rate"),
    ("min_item_fill_rate", "min item fill"),
    ("stockout_hours", "stock-out h"),
    ("deliveries", "deliveries"),
    ("order_lines", "order lines"),
    ("waste_fraction", "waste"),
    ("avg_days_of_cover", "days of cover"),
    ("run_out_mae_hours", "run-out MAE h"),
    ("run_out_coverage", "P10-P90 coverage"),
)


@dataclass(frozen=True, slots=True)
class Job:
    scenario: Path
    policy: str
    seed: int | None = None
    demand: Path | None = None


@dataclass(frozen=True, slots=True)
class JobResult:
    job: Job
    scores: Scores
    chart: PolicyRun


def scenario_files(path: Path) -> list[Path]:
    """``path`` itself, or every ``*.toml`` in it when it is a folder, sorted."""
    return sorted(path.glob("*.toml")) if path.is_dir() else [path]


def run_job(job: Job) -> JobResult:
    """Evaluate one scenario under one policy (in a worker process)."""
    scenario = with_seed(load_scenario(job.scenario), job.seed)
    demand = load_demand(job.demand, scenario) if job.demand is not None else None
    run = evaluate(scenario, job.policy, demand=demand)
    levels = {item: [(c.ts, c.level) for c in history] for item, history in run.histories.items()}
    orders: dict[str, list[datetime]] = {}
    deliveries: dict[str, list[datetime]] = {}
    for placed in run.orders:
        for item in placed.order.items:
            orders.setdefault(item, []).append(placed.placed_at)
    for arrived in run.deliveries:
        for item in arrived.order.items:
            deliveries.setdefault(item, []).append(arrived.arrives_at)
    chart = PolicyRun(job.policy, levels, orders, deliveries)
    return JobResult(job, score(run, name=job.scenario.stem), chart)


def compare(
    jobs: Sequence[Job],
    *,
    workers: int | None = None,
    progress: Callable[[JobResult], None] | None = None,
) -> list[JobResult]:
    """Run every job, ``workers`` at a time (default: one per core), in the jobs' order."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(jobs) == 1:
        results = []
        for job in jobs:
            results.append(run_job(job))
            if progress is not None:
                progress(results[-1])
        return results
    done: dict[Job, JobResult] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_job, job) for job in jobs]
        for future in as_completed(futures):
            result = future.result()
            done[result.job] = result
            if progress is not None:
                progress(result)
    return [done[job] for job in jobs]


def write_charts(results: Sequence[JobResult], folder: Path) -> list[Path]:
    """One PNG per scenario, every policy's stock on it; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    by_scenario: dict[Path, list[JobResult]] = {}
    for result in results:
        by_scenario.setdefault(result.job.scenario, []).append(result)
    paths = []
    for path, group in by_scenario.items():
        scenario: Scenario = with_seed(load_scenario(path), group[0].job.seed)
        paths.append(
            write_chart(
                folder / f"{path.stem}.png",
                title=f"{path.stem}: stock per policy, {scenario.household.days} days",
                items=scenario.items,
                start=scenario.start,
                end=scenario.end,
                runs=[result.chart for result in group],
            )
        )
    return paths


def markdown_table(results: Sequence[JobResult]) -> str:
    """The comparison table: a row per scenario and policy, a column per metric."""
    header = "| scenario | policy | " + " | ".join(title for _, title in COLUMNS) + " |"
    lines = [header, "|---|---|" + "---:|" * len(COLUMNS)]
    for result in results:
        metrics = result.scores.metrics
        cells = [_cell(name, getattr(metrics, name)) for name, _ in COLUMNS]
        lines.append(f"| {result.scores.scenario} | {result.scores.policy} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def _cell(name: str, value: float | int | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    if name in ("fill_rate", "min_item_fill_rate", "run_out_coverage"):
        return f"{value:.4f}" if name != "run_out_coverage" else f"{value:.2f}"
    if name == "waste_fraction":
        return f"{value:.3f}"
    return f"{value:.1f}"
