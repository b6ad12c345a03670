"""The estimator under each sensor fault: the level and the refills stay right.

One coffee hopper for ten days with one fault switched on at a time, and one delivery of
a pack on day 5, through the simulators' firmware; the readings go to the estimator as
the agent would feed them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
import pytest

from edge_agent import protocol
from edge_agent.estimator import LevelEstimator, Refill
from simulators.home import SimulatedHome
from simulators.household import ConsumptionModel
from simulators.scenario import FAULTS, SensorSettings, parse_scenario

SCENARIO = """
[household]
id = "faults"
start = 2026-03-02T00:00:00Z
days = 10
seed = 5

[[items]]
id = "coffee"
name = "Coffee beans"
device = "coffee_machine"
sensor = "weight"
unit = "g"
pack_size = 1000
capacity = 2000
initial = 900
lead_time_hours = { min = 48, max = 96 }
price = 16.9
cycle_days = 12
"""


def run(fault: str) -> tuple[LevelEstimator, list[Refill], float, datetime]:
    """The estimator after the run, its refills, the true level and the delivery time."""
    base = parse_scenario(SCENARIO, source="t")
    settings = msgspec.convert({fault: {}}, SensorSettings)
    if fault != "noise":
        settings = msgspec.structs.replace(settings, noise=None)
    scenario = msgspec.structs.replace(base, sensors=settings)
    item = scenario.items[0]
    home = SimulatedHome(scenario)
    messages = home.boot()
    delivery = scenario.start + timedelta(days=5, hours=3)
    messages += home.advance(delivery)
    _, more = home.deliver(delivery, "coffee", 1)
    messages += more
    messages += home.advance(scenario.end)
    estimator = LevelEstimator(item)
    refills = []
    for message in messages:
        topic = protocol.parse_topic(message.topic)
        if isinstance(topic, protocol.ReadingTopic):
            reading = protocol.decode_reading(message.payload)
            refill = estimator.observe(reading.ts, item.level_from_reading(reading.value))
            if refill is not None:
                refills.append(refill)
    return estimator, refills, home.stock.level("coffee"), delivery


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_level_stays_right(fault: str) -> None:
    estimator, _, level, _ = run(fault)
    assert estimator.estimate is not None
    assert estimator.estimate.level == pytest.approx(level, abs=60)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_the_delivery_is_the_one_refill_seen_within_the_hour(fault: str) -> None:
    _, refills, _, delivery = run(fault)
    assert len(refills) == 1
    assert abs(refills[0].ts - delivery) <= timedelta(hours=1)
    assert refills[0].quantity == pytest.approx(1000, abs=100)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_consumption_is_the_true_use(fault: str) -> None:
    """What the estimator records as used is what was used: no phantom use from noise,
    spikes or repeats, none lost to gaps; tare drift moves it by no more than its creep."""
    estimator, _, level, _ = run(fault)
    used = 900 + 1000 - level
    assert estimator.started is not None
    recorded = estimator.consumed_between(estimator.started, estimator.started + timedelta(days=10))
    assert recorded == pytest.approx(used, abs=80)


@pytest.mark.parametrize("fault", ["noise", "duplicates", "out_of_order", "reboots", "spikes"])
def test_consumption_events_are_seen(fault: str) -> None:
    """Each use of coffee is a consumption event; faults neither hide nor invent many.

    Uses a few minutes apart may share a reading, so a little under one event per use.
    """
    estimator, _, _, _ = run(fault)
    scenario = parse_scenario(SCENARIO, source="t")
    model = ConsumptionModel(scenario.items, seed=scenario.household.seed, model=scenario.model)
    uses = list(model.events(scenario.start, scenario.household.days))
    assert 0.6 * len(uses) <= len(estimator.uses) <= len(uses)
