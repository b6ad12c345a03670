"""Sensor health and the item outlook: what the household is told of each item."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import msgspec
import pytest

from edge_agent import protocol
from edge_agent.core import Brain
from edge_agent.errors import ProtocolError
from edge_agent.estimator import LevelEstimator
from edge_agent.health import (
    OFFLINE_AFTER,
    STUCK_REPORTED,
    SensorHealth,
    health_note,
    quiet_together_note,
    sensor_health,
)
from tests.items import COFFEE, EGGS, MILK, T0
from tests.test_estimator import creeping_detergent, deliver, feed, use_detergent


def noisy_milk(hours: int = 24, *, step: timedelta = timedelta(hours=1)) -> LevelEstimator:
    """Milk used 10 g an hour on a load cell with a few grams of noise."""
    rng = random.Random(5)
    estimator = LevelEstimator(MILK)
    feed(estimator, [round(3000 - 10 * i + rng.gauss(0, 5)) for i in range(hours)], step)
    return estimator


def test_no_reading_yet_is_waiting() -> None:
    """Before its first reading an item is waiting, and the note says it is not ordered."""
    health = sensor_health(LevelEstimator(MILK), T0)
    assert (health.state, health.since) == ("waiting", None)
    assert health_note(MILK, health) == (
        "No reading from the fridge's milk sensor yet: milk is not ordered until it reports."
    )


def test_a_sound_sensor_is_ok_with_no_note() -> None:
    estimator = noisy_milk()
    health = sensor_health(estimator, T0 + timedelta(hours=23, minutes=30))
    assert (health.state, health.since) == ("ok", None)
    assert health_note(MILK, health) is None


def stuck_milk(hours: int) -> tuple[LevelEstimator, datetime]:
    """A day of sound readings, then ``hours`` more repeating the last value exactly;
    return the estimator and the time of the last reading that moved."""
    estimator = noisy_milk()
    last = estimator.last_reading
    assert last is not None
    value = estimator._last_value
    for hour in range(1, hours + 1):
        estimator.observe(last + timedelta(hours=hour), value)
    return estimator, last


def test_a_stuck_sensor_is_reported_from_its_last_sign_of_life() -> None:
    """A noisy load cell repeating one value for ten hours is stuck since the readings
    last moved."""
    estimator, last = stuck_milk(10)
    now = last + timedelta(hours=10)
    health = sensor_health(estimator, now)
    assert health.state == "stuck"
    assert health.since is not None
    assert last <= health.since <= now - STUCK_REPORTED
    note = health_note(MILK, health)
    assert note is not None
    assert note.startswith("The fridge's milk sensor has repeated one value since")
    assert "check or restart the sensor" in note


def test_a_few_equal_readings_by_chance_are_not_reported() -> None:
    """Three equal readings make the estimator doubt the sensor; the household hears
    of it only if the readings stay still for six hours."""
    estimator, last = stuck_milk(4)
    assert estimator.stuck
    assert sensor_health(estimator, last + timedelta(hours=4)).state == "ok"


def test_an_empty_shelf_repeating_its_zero_is_not_stuck() -> None:
    """A load cell with nothing on it reads exactly 0 hour after hour: no fault."""
    estimator = noisy_milk()
    last = estimator.last_reading
    assert last is not None
    for hour in range(1, 13):
        estimator.observe(last + timedelta(hours=hour), 0)
    assert sensor_health(estimator, last + timedelta(hours=12)).state == "ok"


def test_a_gauge_crept_below_its_scale_is_reported() -> None:
    """A gauge whose zero crept down 60 ml a day reads empty while the tank holds 1.8 L."""
    estimator, level = creeping_detergent(-60, days=10)
    level = deliver(estimator, level, -60, packs=2, confirmed=True)
    use_detergent(estimator, level, -60, days=30)
    assert estimator.last_reading is not None
    health = sensor_health(estimator, estimator.last_reading)
    assert health.state == "below_scale"
    assert health.since is not None
    assert health.since < estimator.last_reading - timedelta(days=5)
    note = health_note(estimator.item, health)
    assert note is not None
    assert "reads empty while stock may be left" in note


def test_a_quiet_sensor_is_silent_after_missed_heartbeats_then_offline() -> None:
    """With an hourly heartbeat, three missed are silence; three days are offline."""
    estimator = noisy_milk(hours=48)
    last = estimator.last_reading
    assert last is not None
    assert sensor_health(estimator, last + timedelta(hours=2, minutes=50)).state == "ok"
    silent = sensor_health(estimator, last + timedelta(hours=3, minutes=10))
    assert (silent.state, silent.since) == ("silent", last)
    offline = sensor_health(estimator, last + OFFLINE_AFTER + timedelta(minutes=1))
    assert (offline.state, offline.since) == ("offline", last)
    note = health_note(MILK, offline)
    assert note is not None
    assert "milk is not ordered until it reports again" in note


def test_a_slow_heartbeat_is_not_taken_for_silence() -> None:
    """A device that reports every six hours is silent only after three of them."""
    estimator = noisy_milk(hours=60, step=timedelta(hours=6))
    last = estimator.last_reading
    assert last is not None
    assert sensor_health(estimator, last + timedelta(hours=12)).state == "ok"
    assert sensor_health(estimator, last + timedelta(hours=19)).state == "silent"


def test_the_outlook_gives_level_run_out_and_what_is_on_the_way() -> None:
    """The brain's outlook of an item: its level, the run-out quantiles in order, the
    stock on its way, and the sensor's state; it survives the wire unchanged."""
    brain = Brain("home", [MILK, COFFEE])
    seq = 0
    for hour in range(48):
        now = T0 + timedelta(hours=hour)
        for item_id, start, per_hour in (("milk", 3000, 16), ("coffee", 400, 5)):
            seq += 1
            reading = protocol.Reading(ts=now, value=start - per_hour * hour, unit="g", seq=seq)
            brain.observe(item_id, reading, now)
    now = T0 + timedelta(hours=47, minutes=30)
    ordered = [line for decision in brain.decide(now) for line in decision.lines]
    assert [line.item for line in ordered] == ["coffee"]
    coffee = brain.outlook("coffee", now)
    assert coffee.sensor == "ok"
    assert coffee.level == pytest.approx(400 - 5 * 47, abs=10)
    assert coffee.on_the_way == ordered[0].packs * COFFEE.pack_size
    assert coffee.run_out is not None
    assert now < coffee.run_out.p10 <= coffee.run_out.p50 <= coffee.run_out.p90
    milk = brain.outlook("milk", now)
    assert (milk.sensor, milk.on_the_way, milk.note) == ("ok", 0.0, None)
    assert milk.rate_per_day == pytest.approx(16 * 24, rel=0.1)
    assert protocol.decode_item_outlook(protocol.encode(milk)) == milk


def test_an_outlook_with_run_out_quantiles_out_of_order_is_refused() -> None:
    """Validated on receipt like every payload: the error names the field."""
    payload = {
        "item": "milk",
        "ts": "2026-01-05T00:00:00Z",
        "unit": "g",
        "sensor": "ok",
        "run_out": {
            "p10": "2026-01-07T00:00:00Z",
            "p50": "2026-01-06T00:00:00Z",
            "p90": "2026-01-08T00:00:00Z",
        },
    }
    with pytest.raises(ProtocolError, match=r"p10 <= p50 <= p90 - at `\$.run_out`"):
        protocol.decode_item_outlook(msgspec.json.encode(payload))
    with pytest.raises(ProtocolError, match=r"Invalid enum value 'broken' - at `\$.sensor`"):
        protocol.decode_item_outlook(msgspec.json.encode({**payload, "sensor": "broken"}))


def test_outlook_topic_names_household_and_item() -> None:
    topic = protocol.item_outlook_topic("home", "milk")
    assert topic == "restock/v1/home/agent/items/milk"
    assert protocol.parse_topic(topic) == protocol.ItemOutlookTopic("home", "milk")


def test_the_outlook_of_a_silent_sensor_takes_the_use_since_off_its_level() -> None:
    """Six hours after the fridge went quiet, the milk is not where the last reading
    left it: the outlook gives the level less the six hours' expected use."""
    brain = Brain("home", [MILK])
    for hour in range(48):
        now = T0 + timedelta(hours=hour)
        reading = protocol.Reading(ts=now, value=3000 - 16 * hour, unit="g", seq=hour)
        brain.observe("milk", reading, now)
    later = T0 + timedelta(hours=53)
    outlook = brain.outlook("milk", later)
    assert outlook.sensor == "silent"
    assert outlook.level == pytest.approx(3000 - 16 * 53, abs=30)


def test_sensors_gone_quiet_together_are_told_as_one_and_point_at_what_they_share() -> None:
    """Two fridge items gone offline at once: the fridge or its link, from the earlier
    of their last readings; the fridge and the coffee machine: the link they share."""
    fridge = [
        (MILK, SensorHealth("offline", T0 + timedelta(hours=2))),
        (EGGS, SensorHealth("offline", T0 + timedelta(hours=1))),
    ]
    assert quiet_together_note("offline", fridge) == (
        "No reading from 2 sensors at once since Mon 05 Jan 01:00 UTC (milk, eggs): more"
        " likely the fridge or its link than each sensor; they are not ordered until they"
        " report again."
    )
    apart = [(MILK, SensorHealth("silent", T0)), (COFFEE, SensorHealth("silent", T0))]
    assert "the link they share" in quiet_together_note("silent", apart)
    assert "guesses from past use" in quiet_together_note("silent", apart)
