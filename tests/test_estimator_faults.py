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
@pytest.mark.xfail(
    strict=True,
    reason="issue 6: the median-of-3 sees a refill two heartbeats late, and a spike"
    " while its window is short reads as a refill",
)
def test_the_delivery_is_the_one_refill_seen_within_the_hour(fault: str) -> None:
    _, refills, _, delivery = run(fault)
    assert len(refills) == 1
    assert abs(refills[0].ts - delivery) <= timedelta(hours=1)
    assert refills[0].quantity == pytest.approx(1000, abs=100)
