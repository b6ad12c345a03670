"""``restock evaluate``: one scenario, one policy, a closed loop on the simulated clock.

The household (:class:`~simulators.home.SimulatedHome`) uses its stock; its devices
publish what their faulty sensors report; the policy sees those messages and orders;
each order arrives after a lead time drawn for it (:class:`~simulators.policies.LeadTimes`)
and the devices see the refill. Nothing ticks: the loop jumps from one event to the next
(a use, a heartbeat, a fault, an arrival, or a time the policy asked to be woken).
:mod:`simulators.metrics` scores the result.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec

from simulators.errors import SimulatorError
from simulators.firmware import Message
from simulators.home import SimulatedHome
from simulators.household import Consumption, ConsumptionModel, HandPurchase, mean_daily_use
from simulators.policies import (
    POLICIES,
    AgentPolicy,
    FixedCyclePolicy,
    LeadTimes,
    OraclePolicy,
    OrderRequest,
    Policy,
    Prediction,
    ThresholdPolicy,
)
from simulators.scenario import Scenario
from simulators.stock import LevelChange, StockSummary


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """An order a policy placed, when it will arrive, and whether it did by the end."""

    order: OrderRequest
    placed_at: datetime
    arrives_at: datetime


@dataclass(frozen=True, slots=True)
class Run:
    """Everything one policy did to one household, for scoring and charting."""

    scenario: Scenario
    policy: str
    seed: int
    orders: tuple[PlacedOrder, ...]
    #: The orders that arrived before the end, with their arrival instants.
    deliveries: tuple[PlacedOrder, ...]
    summaries: tuple[StockSummary, ...]
    histories: dict[str, tuple[LevelChange, ...]]
    uses: tuple[Consumption, ...]
    predictions: tuple[Prediction, ...]


def with_seed(scenario: Scenario, seed: int | None) -> Scenario:
    """``scenario`` with its household's seed replaced, when ``seed`` is given."""
    if seed is None:
        return scenario
    household = msgspec.structs.replace(scenario.household, seed=seed)
    return msgspec.structs.replace(scenario, household=household)


def evaluate(
    scenario: Scenario, policy_name: str, *, demand: Sequence[Consumption] | None = None
) -> Run:
    """Live ``scenario`` under the policy ``policy_name``; return what happened."""
    if policy_name not in POLICIES:
        raise SimulatorError(f"unknown policy {policy_name!r}; choose from {', '.join(POLICIES)}")
    household = scenario.household
    model = ConsumptionModel(scenario.items, seed=household.seed, model=scenario.model)
    uses = (
        tuple(demand) if demand is not None else tuple(model.events(scenario.start, household.days))
    )
    purchases = model.purchases(scenario.start, household.days)
    home = SimulatedHome(scenario, demand=uses)
    lead_times = LeadTimes(scenario.items, seed=household.seed)
    policy = _make_policy(policy_name, scenario, home, uses, purchases, lead_times)
    arrivals: list[tuple[datetime, int, PlacedOrder]] = []
    numbers = itertools.count()
    placed: list[PlacedOrder] = []
    delivered: list[PlacedOrder] = []

    def feed(messages: Sequence[Message]) -> None:
        for message in messages:
            policy.observe(message)

    def place(now: datetime) -> None:
        for order in policy.decide(now):
            record = PlacedOrder(order, now, now + lead_times.take(order))
            placed.append(record)
            heapq.heappush(arrivals, (record.arrives_at, next(numbers), record))

    feed(home.boot())
    place(scenario.start)
    while True:
        candidates = [home.next_due(), policy.next_wakeup()]
        if arrivals:
            candidates.append(arrivals[0][0])
        due = min((when for when in candidates if when is not None), default=None)
        if due is None or due >= scenario.end:
            break
        feed(home.advance(due))
        while arrivals and arrivals[0][0] <= due:
            _, _, record = heapq.heappop(arrivals)
            for item_id, packs in record.order.lines:
                _, messages = home.deliver(due, item_id, packs)
                feed(messages)
            delivered.append(record)
            policy.delivered(record.order, due)
        place(due)
    home.advance(scenario.end)
    predictions = tuple(policy.predictions) if isinstance(policy, AgentPolicy) else ()
    return Run(
        scenario=scenario,
        policy=policy_name,
        seed=household.seed,
        orders=tuple(placed),
        deliveries=tuple(delivered),
        summaries=home.stock.summary(scenario.end),
        histories={stock.item.id: stock.history for stock in home.stock},
        uses=uses,
        predictions=predictions,
    )


def fixed_cycles(scenario: Scenario, uses: Sequence[Consumption]) -> dict[str, timedelta]:
    """Each item's subscription cycle: ``cycle_days``, else how long a pack truly lasts."""
    days = scenario.household.days
    demanded: dict[str, float] = {}
    for use in uses:
        demanded[use.item] = demanded.get(use.item, 0.0) + use.quantity
    cycles = {}
    for item in scenario.items:
        if item.cycle_days is not None:
            cycle = item.cycle_days
        else:
            daily = demanded.get(item.id, 0.0) / days or mean_daily_use(item, scenario.model)
            cycle = item.pack_size / daily if daily > 0 else float(days)
        cycles[item.id] = timedelta(days=cycle)
    return cycles


def _make_policy(
    name: str,
    scenario: Scenario,
    home: SimulatedHome,
    uses: Sequence[Consumption],
    purchases: Sequence[HandPurchase],
    lead_times: LeadTimes,
) -> Policy:
    household = home.household_id
    match name:
        case "agent":
            return AgentPolicy(household, scenario.items, start=scenario.start)
        case "fixed-cycle":
            return FixedCyclePolicy(fixed_cycles(scenario, uses), start=scenario.start)
        case "threshold":
            return ThresholdPolicy(household, scenario.items)
        case _:
            return OraclePolicy(
                scenario.items,
                stock=home.stock.__getitem__,
                uses=uses,
                purchases=purchases,
                lead_times=lead_times,
                end=scenario.end,
            )
