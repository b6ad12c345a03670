"""The agent's run-out forecasts against statsforecast's CrostonSBA, TSB and AutoETS.

Each scenario is lived once under the agent policy, as ``restock evaluate`` does. Every
``--every`` hours the agent's hourly prediction is kept with what the agent knew then:
the level its forecast started from and the hourly consumption its estimator recorded
over the history it keeps (up to 28 days). Each statsforecast model is fitted on that
series and its point forecast turned into a run-out: the moment its cumulative forecast
consumption reaches the level. All methods are scored like ``run_out_mae_hours``, on
exactly the snapshots whose actual run-out (``simulators.metrics.DemandTrace``) is
24-72 h ahead.

statsforecast is a development-only dependency (``pip install -e '.[compare]'``).

Run: ``.venv/bin/python bench/forecast_compare.py [--scenario DIR_OR_FILE] [--every HOURS]
[--markdown OUT.md] [--jobs N]``. docs/evaluation.md explains the method and the table.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
from statsforecast.models import TSB, AutoETS, CrostonSBA

import simulators.evaluate
from edge_agent.catalog import ItemSpec
from simulators.comparison import scenario_files
from simulators.evaluate import Run, evaluate
from simulators.firmware import Message
from simulators.metrics import HORIZON, DemandTrace
from simulators.policies import AgentPolicy, OrderRequest, Prediction
from simulators.scenario import load_scenario

ZERO = timedelta(0)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
#: How much consumption history a snapshot keeps: what the agent's estimator keeps.
HISTORY = timedelta(days=28)
#: Snapshots with less history are left out for every method: AutoETS needs a week.
MIN_HISTORY = timedelta(days=7)
#: How far each model forecasts; a forecast that never reaches the level in this time
#: counts as a run-out at its end.
FORECAST_HORIZON = timedelta(days=60)
#: AutoETS's prediction interval, read as P10-P90 of the run-out.
INTERVAL = 80
#: TSB's smoothing, on daily data: SBA's fixed 0.1 for the size of a day's use, and the
#: same for the chance that a day has any, so that TSB differs from SBA only in method.
TSB_ALPHA_D = 0.1
TSB_ALPHA_P = 0.1
DEFAULT_EVERY = 6
#: Snapshots per task sent to a worker.
CHUNK = 25
SCENARIOS = Path(__file__).resolve().parent.parent / "simulators" / "scenarios"


# --- run-out from a forecast --------------------------------------------------------


def steps_to_run_out(level: float, amounts: Sequence[float] | np.ndarray) -> float | None:
    """Steps until the cumulative forecast use reaches ``level``, linear within a step.

    Negative forecasts count as no use. ``None`` when the forecast never reaches it.
    """
    if level <= 0:
        return 0.0
    used = np.maximum(np.asarray(amounts, dtype=float), 0.0)
    totals = np.cumsum(used)
    step = int(np.searchsorted(totals, level, side="left"))
    if step >= len(totals):
        return None
    before = totals[step - 1] if step > 0 else 0.0
    return step + (level - before) / used[step]


# --- what the agent knew -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One of the agent's predictions, with the level and series it rested on."""

    prediction: Prediction
    level: float
    #: Consumption the estimator recorded in each hour, oldest first, ending at made_at.
    hourly: tuple[float, ...]


class SnapshottingAgent(AgentPolicy):
    """The agent policy, unchanged, also keeping a snapshot at every ``every``-th hour."""

    every = timedelta(hours=DEFAULT_EVERY)

    def __init__(self, household: str, items: Sequence[ItemSpec], *, start: datetime) -> None:
        super().__init__(household, items, start=start)
        self.start = start
        self.snapshots: list[Snapshot] = []
        self._since: dict[str, datetime] = {}

    def observe(self, message: Message) -> None:
        super().observe(message)
        for item_id, estimator in self.brain.estimators.items():
            if item_id not in self._since and estimator.estimate is not None:
                self._since[item_id] = estimator.estimate.ts

    def decide(self, now: datetime) -> list[OrderRequest]:
        known = len(self.predictions)
        decided = super().decide(now)
        # The loop wakes at each prediction instant, so the estimators hold exactly what
        # the prediction rested on.
        by_instant: dict[datetime, list[Prediction]] = {}
        for p in self.predictions[known:]:
            if (p.made_at - self.start) % self.every == ZERO:
                by_instant.setdefault(p.made_at, []).append(p)
        for made_at, predictions in by_instant.items():
            self._snapshot(made_at, predictions)
        return decided

    def _snapshot(self, made_at: datetime, predictions: Sequence[Prediction]) -> None:
        run_outs = self.brain.forecasts(made_at)
        for prediction in predictions:
            since = self._since.get(prediction.item)
            if since is None or prediction.item not in run_outs:
                continue
            hours = min(made_at - since, HISTORY) // HOUR
            if hours * HOUR < MIN_HISTORY:
                continue
            estimator = self.brain.estimators[prediction.item]
            hourly = tuple(
                estimator.consumed_between(made_at - (k + 1) * HOUR, made_at - k * HOUR)
                for k in reversed(range(hours))
            )
            level = run_outs[prediction.item].level
            self.snapshots.append(Snapshot(prediction, level, hourly))


def live_agent(path: Path, every: timedelta) -> tuple[Run, list[Snapshot]]:
    """Evaluate the scenario under the agent policy, keeping snapshots as it goes."""
    agents: list[SnapshottingAgent] = []

    class Recorded(SnapshottingAgent):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.every = every
            agents.append(self)

    # evaluate() builds its agent from this module-level name; nothing else changes.
    with mock.patch.object(simulators.evaluate, "AgentPolicy", Recorded):
        run = evaluate(load_scenario(path), "agent")
    if len(agents) != 1:
        raise RuntimeError("simulators.evaluate no longer builds the agent from AgentPolicy")
    return run, agents[0].snapshots


def scored(run: Run, snapshots: Sequence[Snapshot]) -> list[tuple[Snapshot, datetime]]:
    """The snapshots whose actual run-out is 24-72 h ahead, each with that run-out."""
    traces = {
        item.id: DemandTrace([use for use in run.uses if use.item == item.id])
        for item in run.scenario.items
    }
    kept = []
    for snapshot in snapshots:
        made_at, item = snapshot.prediction.made_at, snapshot.prediction.item
        actual = traces[item].actual_run_out(made_at, run.histories[item])
        if actual is not None and HORIZON[0] <= actual - made_at <= HORIZON[1]:
            kept.append((snapshot, actual))
    return kept


# --- the statsforecast methods --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunOutForecast:
    """A run-out P50 and, for methods with intervals, P10-P90; ``None`` is beyond the horizon."""

    p50: datetime | None
    interval: tuple[datetime | None, datetime | None] | None = None


@dataclass(frozen=True, slots=True)
class Method:
    """A statsforecast model, the resolution it is fitted at, and whether it has intervals."""

    name: str
    resolution: timedelta
    make: Callable[[], Any]
    intervals: bool = False

    def run_out(self, snapshot: Snapshot) -> RunOutForecast:
        made_at = snapshot.prediction.made_at
        series = resample(snapshot.hourly, self.resolution)
        steps = FORECAST_HORIZON // self.resolution
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            out = self.make().forecast(
                y=series, h=steps, level=[INTERVAL] if self.intervals else None
            )

        def when(amounts: np.ndarray) -> datetime | None:
            step = steps_to_run_out(snapshot.level, amounts)
            return None if step is None else made_at + step * self.resolution

        if not self.intervals:
            return RunOutForecast(when(out["mean"]))
        # High use runs out early: the upper bound of use gives P10, the lower P90.
        interval = (when(out[f"hi-{INTERVAL}"]), when(out[f"lo-{INTERVAL}"]))
        return RunOutForecast(when(out["mean"]), interval)


def resample(hourly: Sequence[float], resolution: timedelta) -> np.ndarray:
    """The hourly series summed into whole periods ending at the snapshot (oldest dropped)."""
    per = resolution // HOUR
    values = np.asarray(hourly, dtype=float)
    whole = len(values) // per * per
    return values[len(values) - whole :].reshape(-1, per).sum(axis=1)


#: Daily series: a run-out is one to three days ahead, and days carry no night of empty
#: hours. AutoETS also runs on the hourly series with a daily season, for its point
#: forecast (docs/evaluation.md says why its intervals there are not usable).
METHODS = (
    Method("CrostonSBA", DAY, CrostonSBA),
    Method("TSB", DAY, lambda: TSB(alpha_d=TSB_ALPHA_D, alpha_p=TSB_ALPHA_P)),
    Method("AutoETS", DAY, lambda: AutoETS(season_length=7), intervals=True),
    Method("AutoETS hourly", HOUR, lambda: AutoETS(season_length=24), intervals=True),
)
AGENT = "agent"


# --- scoring --------------------------------------------------------------------------


@dataclass(slots=True)
class Scores:
    """One method's errors (hours) and coverage hits over the scored snapshots."""

    errors: list[float] = field(default_factory=list)
    #: P50 - actual run-out, in hours: positive when the forecast is late.
    signed: list[float] = field(default_factory=list)
    covered: list[float] = field(default_factory=list)
    #: Forecasts that never reached the level within FORECAST_HORIZON.
    never: int = 0

    def add(self, forecast: RunOutForecast, made_at: datetime, actual: datetime) -> None:
        end = made_at + FORECAST_HORIZON
        if forecast.p50 is None:
            self.never += 1
        p50 = forecast.p50 or end
        self.signed.append((p50 - actual) / HOUR)
        self.errors.append(abs(p50 - actual) / HOUR)
        if forecast.interval is not None:
            low, high = (when or end for when in forecast.interval)
            self.covered.append(1.0 if low <= actual <= high else 0.0)

    def extend(self, other: Scores) -> None:
        self.errors += other.errors
        self.signed += other.signed
        self.covered += other.covered
        self.never += other.never

    @property
    def mae(self) -> float | None:
        return sum(self.errors) / len(self.errors) if self.errors else None

    @property
    def bias(self) -> float | None:
        return sum(self.signed) / len(self.signed) if self.signed else None

    @property
    def coverage(self) -> float | None:
        return sum(self.covered) / len(self.covered) if self.covered else None


@dataclass(frozen=True, slots=True)
class Lived:
    """One scenario lived under the agent: its scored snapshots, each with its actual run-out."""

    name: str
    scored: tuple[tuple[Snapshot, datetime], ...]
    seconds: float


def live_scenario(path: Path, every_hours: int) -> Lived:
    """Live one scenario under the agent (in a worker process)."""
    started = time.process_time()
    run, snapshots = live_agent(path, timedelta(hours=every_hours))
    return Lived(path.stem, tuple(scored(run, snapshots)), time.process_time() - started)


def forecast_chunk(
    method_name: str, snapshots: Sequence[Snapshot]
) -> tuple[list[RunOutForecast], float]:
    """One method's run-outs for ``snapshots`` (in a worker process), and the CPU seconds."""
    method = next(method for method in METHODS if method.name == method_name)
    started = time.process_time()
    forecasts = [method.run_out(snapshot) for snapshot in snapshots]
    return forecasts, time.process_time() - started


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    name: str
    scores: dict[str, Scores]


@dataclass(slots=True)
class Timing:
    wall: float = 0.0
    #: CPU seconds living the households, and fitting each method.
    parts: dict[str, float] = field(default_factory=dict)

    def add(self, part: str, seconds: float) -> None:
        self.parts[part] = self.parts.get(part, 0.0) + seconds


def compare(
    paths: Sequence[Path], *, every_hours: int, jobs: int
) -> tuple[list[ScenarioResult], Timing]:
    """Live every scenario and fit every method, ``jobs`` processes at a time.

    A scenario's fits are queued as soon as it has been lived, in chunks, so that the
    workers stay busy to the end.
    """
    timing = Timing()
    lived: dict[str, Lived] = {}
    fits: dict[tuple[str, str], list[Future[tuple[list[RunOutForecast], float]]]] = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        living = [pool.submit(live_scenario, path, every_hours) for path in paths]
        for future in as_completed(living):
            done = future.result()
            lived[done.name] = done
            timing.add("closed loop", done.seconds)
            snapshots = [snapshot for snapshot, _ in done.scored]
            for method in METHODS:
                fits[done.name, method.name] = [
                    pool.submit(forecast_chunk, method.name, snapshots[i : i + CHUNK])
                    for i in range(0, len(snapshots), CHUNK)
                ]
        results = []
        for path in paths:
            scenario = lived[path.stem]
            scores = {AGENT: Scores()}
            for snapshot, actual in scenario.scored:
                p = snapshot.prediction
                scores[AGENT].add(RunOutForecast(p.p50, (p.p10, p.p90)), p.made_at, actual)
            for method in METHODS:
                forecasts: list[RunOutForecast] = []
                for chunk in fits[scenario.name, method.name]:
                    chunk_forecasts, seconds = chunk.result()
                    forecasts += chunk_forecasts
                    timing.add(method.name, seconds)
                scores[method.name] = Scores()
                for forecast, (snapshot, actual) in zip(forecasts, scenario.scored, strict=True):
                    scores[method.name].add(forecast, snapshot.prediction.made_at, actual)
            results.append(ScenarioResult(scenario.name, scores))
    return results, timing


# --- the table -------------------------------------------------------------------------


def markdown_table(results: Sequence[ScenarioResult]) -> str:
    names = [AGENT, *(method.name for method in METHODS)]
    lines = [
        "| scenario | method | predictions scored | run_out_mae_hours | mean P50 - actual h"
        " | run_out_coverage | no run-out in 60 d |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    overall = {name: Scores() for name in names}
    for result in results:
        for name in names:
            lines.append(_row(result.name, name, result.scores[name]))
            overall[name].extend(result.scores[name])
    for name in names:
        lines.append(_row("**all**", name, overall[name]))
    return "\n".join(lines) + "\n"


def _row(scenario: str, method: str, scores: Scores) -> str:
    mae = "-" if scores.mae is None else f"{scores.mae:.1f}"
    bias = "-" if scores.bias is None else f"{scores.bias:+.1f}"
    coverage = "-" if scores.coverage is None else f"{scores.coverage:.2f}"
    return (
        f"| {scenario} | {method} | {len(scores.errors)} | {mae} | {bias} | {coverage}"
        f" | {scores.never} |"
    )


def timing_line(results: Sequence[ScenarioResult], timing: Timing, cpu: float, jobs: int) -> str:
    snapshots = sum(len(result.scores[AGENT].errors) for result in results)
    split = ", ".join(f"{part} {seconds:.1f} s" for part, seconds in timing.parts.items())
    return (
        f"{len(results)} scenarios, {snapshots} scored snapshots, {jobs} worker(s):"
        f" wall {timing.wall:.1f} s, CPU {cpu:.1f} s ({split})"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=SCENARIOS, help="TOML file or folder")
    parser.add_argument("--every", type=int, default=DEFAULT_EVERY, help="hours between snapshots")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    args = parser.parse_args(argv)
    if args.every < 1:
        parser.error("--every must be at least 1 hour")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if not args.scenario.exists():
        parser.error(f"{args.scenario}: no such file or folder")
    paths = scenario_files(args.scenario)
    if not paths:
        parser.error(f"no scenario in {args.scenario}")
    started = time.perf_counter()
    results, timing = compare(paths, every_hours=args.every, jobs=args.jobs)
    timing.wall = time.perf_counter() - started
    cpu = _cpu(resource.RUSAGE_CHILDREN) + _cpu(resource.RUSAGE_SELF)
    table = markdown_table(results)
    print(table)
    print(timing_line(results, timing, cpu, args.jobs))
    if args.markdown is not None:
        args.markdown.write_text(table)


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
