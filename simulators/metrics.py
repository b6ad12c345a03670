"""Scores of an evaluation run, under the exact names docs/evaluation.md defines.

Per item and overall:

- ``fill_rate``: quantity served / quantity demanded (1.0 with no demand); overall, the
  mean over items. ``min_item_fill_rate`` (overall only): the lowest item's.
- ``stockout_hours``: hours with zero stock; overall, the sum over items.
- ``deliveries``: distinct deliveries that arrived (lines ordered together arrive
  together and count once); per item, the deliveries that brought it.
- ``order_lines``: order lines placed.
- ``waste_fraction``: quantity thrown away (expired, or not fitting within capacity) /
  quantity delivered; overall, over all items' quantities.
- ``avg_days_of_cover``: time-averaged stock / average daily demand; overall, the mean
  over items with demand.

For the agent, from its run-out forecasts for the stock on hand, sampled hourly: the
**actual run-out** of a prediction made at t is when the demand that followed t would
have used up the true stock on hand at t, had nothing arrived after t.

- ``run_out_mae_hours``: mean |P50 - actual run-out|, over predictions made 24-72 h
  before their actual run-out.
- ``run_out_coverage``: over the same predictions, the share whose actual run-out falls
  within P10-P90.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from simulators.evaluate import Run
from simulators.household import Consumption
from simulators.policies import Prediction
from simulators.stock import EPSILON, LevelChange

#: Predictions are scored when their actual run-out is this far ahead.
HORIZON = (timedelta(hours=24), timedelta(hours=72))
HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ItemMetrics:
    fill_rate: float
    stockout_hours: float
    deliveries: int
    order_lines: int
    waste_fraction: float
    avg_days_of_cover: float | None
    run_out_mae_hours: float | None = None
    run_out_coverage: float | None = None


@dataclass(frozen=True, slots=True)
class Metrics:
    fill_rate: float
    min_item_fill_rate: float
    stockout_hours: float
    deliveries: int
    order_lines: int
    waste_fraction: float
    avg_days_of_cover: float | None
    run_out_mae_hours: float | None = None
    run_out_coverage: float | None = None


@dataclass(frozen=True, slots=True)
class Scores:
    """One run's metrics, overall and per item."""

    scenario: str
    policy: str
    seed: int
    days: int
    metrics: Metrics
    items: dict[str, ItemMetrics]

    def to_json(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "policy": self.policy,
            "seed": self.seed,
            "days": self.days,
            "metrics": asdict(self.metrics),
            "items": {item: asdict(metrics) for item, metrics in self.items.items()},
        }


def score(run: Run, *, name: str | None = None) -> Scores:
    """Score ``run``; ``name`` names the scenario (default: its household id)."""
    scenario = run.scenario
    start, end = scenario.start, scenario.end
    days = (end - start) / timedelta(days=1)
    summaries = {summary.item: summary for summary in run.summaries}
    items: dict[str, ItemMetrics] = {}
    for item in scenario.items:
        summary = summaries[item.id]
        arrived = item.initial + summary.delivered + summary.bought_by_hand
        average_stock = time_average(run.histories[item.id], start, end)
        daily_demand = summary.demanded / days
        mae, coverage = forecast_scores(
            [p for p in run.predictions if p.item == item.id],
            run.histories[item.id],
            [use for use in run.uses if use.item == item.id],
        )
        items[item.id] = ItemMetrics(
            fill_rate=summary.fill_rate,
            stockout_hours=summary.stockout_hours,
            deliveries=sum(item.id in order.order.items for order in run.deliveries),
            order_lines=sum(item.id in order.order.items for order in run.orders),
            waste_fraction=summary.wasted / arrived if arrived > 0 else 0.0,
            avg_days_of_cover=average_stock / daily_demand if daily_demand > 0 else None,
            run_out_mae_hours=mae,
            run_out_coverage=coverage,
        )
    arrived_all = sum(
        item.initial + summaries[item.id].delivered + summaries[item.id].bought_by_hand
        for item in scenario.items
    )
    wasted_all = sum(summary.wasted for summary in run.summaries)
    covers = [m.avg_days_of_cover for m in items.values() if m.avg_days_of_cover is not None]
    mae, coverage = forecast_scores_all(run)
    metrics = Metrics(
        fill_rate=_mean([m.fill_rate for m in items.values()]),
        min_item_fill_rate=min(m.fill_rate for m in items.values()),
        stockout_hours=sum(m.stockout_hours for m in items.values()),
        deliveries=len(run.deliveries),
        order_lines=sum(len(order.order.lines) for order in run.orders),
        waste_fraction=wasted_all / arrived_all if arrived_all > 0 else 0.0,
        avg_days_of_cover=_mean(covers) if covers else None,
        run_out_mae_hours=mae,
        run_out_coverage=coverage,
    )
    return Scores(
        scenario=name or scenario.household.id,
        policy=run.policy,
        seed=run.seed,
        days=scenario.household.days,
        metrics=metrics,
        items=items,
    )


def time_average(history: Sequence[LevelChange], start: datetime, end: datetime) -> float:
    """The level averaged over ``[start, end)``; each change holds until the next."""
    total = 0.0
    for change, following in itertools.pairwise([*history, LevelChange(end, 0.0)]):
        since, until = max(change.ts, start), min(following.ts, end)
        if until > since:
            total += change.level * ((until - since) / HOUR)
    return total / ((end - start) / HOUR)


def level_at(history: Sequence[LevelChange], when: datetime) -> float:
    """The true level at ``when`` (after every change stamped at or before it)."""
    index = bisect.bisect_right([change.ts for change in history], when) - 1
    return history[max(index, 0)].level


class DemandTrace:
    """One item's uses, with running totals to find run-outs quickly."""

    def __init__(self, uses: Sequence[Consumption]) -> None:
        self.times = [use.ts for use in uses]
        self.totals = list(itertools.accumulate(use.quantity for use in uses))

    def actual_run_out(self, made_at: datetime, history: Sequence[LevelChange]) -> datetime | None:
        """When the uses after ``made_at`` would have used up the stock on hand then."""
        left = level_at(history, made_at)
        if left <= EPSILON:
            return made_at
        first = bisect.bisect_right(self.times, made_at)
        before = self.totals[first - 1] if first > 0 else 0.0
        index = bisect.bisect_left(self.totals, before + left - EPSILON, lo=first)
        return self.times[index] if index < len(self.times) else None


def forecast_scores(
    predictions: Sequence[Prediction],
    history: Sequence[LevelChange],
    uses: Sequence[Consumption],
) -> tuple[float | None, float | None]:
    """``run_out_mae_hours`` and ``run_out_coverage`` of one item's predictions."""
    errors, covered = _score_predictions(predictions, history, uses)
    if not errors:
        return None, None
    return _mean(errors), _mean(covered)


def forecast_scores_all(run: Run) -> tuple[float | None, float | None]:
    """The forecast scores over every item's predictions together."""
    errors: list[float] = []
    covered: list[float] = []
    for item in run.scenario.items:
        item_errors, item_covered = _score_predictions(
            [p for p in run.predictions if p.item == item.id],
            run.histories[item.id],
            [use for use in run.uses if use.item == item.id],
        )
        errors += item_errors
        covered += item_covered
    if not errors:
        return None, None
    return _mean(errors), _mean(covered)


def _score_predictions(
    predictions: Iterable[Prediction],
    history: Sequence[LevelChange],
    uses: Sequence[Consumption],
) -> tuple[list[float], list[float]]:
    errors: list[float] = []
    covered: list[float] = []
    trace = DemandTrace(uses)
    for prediction in predictions:
        actual = trace.actual_run_out(prediction.made_at, history)
        if actual is None or not HORIZON[0] <= actual - prediction.made_at <= HORIZON[1]:
            continue
        errors.append(abs(prediction.p50 - actual) / HOUR)
        covered.append(1.0 if prediction.p10 <= actual <= prediction.p90 else 0.0)
    return errors, covered


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)
