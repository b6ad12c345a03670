"""Level estimation from noisy readings."""

from __future__ import annotations

from datetime import timedelta

from edge_agent.estimator import LevelEstimator
from tests.items import MILK, T0


def feed(estimator: LevelEstimator, values: list[float], step: timedelta = timedelta(hours=1)):
    refills = []
    for i, value in enumerate(values):
        refill = estimator.observe(T0 + i * step, value)
        if refill is not None:
            refills.append(refill)
    return refills


def test_single_spike_is_ignored() -> None:
    """A hand on the shelf for one reading changes neither level nor consumption."""
    estimator = LevelEstimator(MILK)
    refills = feed(estimator, [2000, 2000, 3900, 2000, 2000])
    assert refills == []
    assert estimator.estimate is not None
    assert estimator.estimate.level == 2000
    assert estimator.consumed_between(T0, T0 + timedelta(hours=5)) == 0


def test_refill_is_detected_once_with_its_size() -> None:
    """A lasting rise of two packs is one refill of about two packs."""
    estimator = LevelEstimator(MILK)
    refills = feed(estimator, [900, 900, 2900, 2900, 2900])
    assert len(refills) == 1
    assert refills[0].quantity == 2000
    assert estimator.estimate is not None
    assert estimator.estimate.level == 2900


def test_consumption_across_a_dropout_is_the_level_difference() -> None:
    """Hours without readings count no consumption beyond what the next reading shows."""
    estimator = LevelEstimator(MILK)
    estimator.observe(T0, 3000)
    estimator.observe(T0 + timedelta(hours=1), 3000)
    estimator.observe(T0 + timedelta(hours=30), 2500)
    estimator.observe(T0 + timedelta(hours=31), 2500)
    assert estimator.consumed_between(T0, T0 + timedelta(hours=31)) == 500


def test_duplicate_and_late_readings_are_ignored() -> None:
    """A reading not newer than the last one changes nothing."""
    estimator = LevelEstimator(MILK)
    feed(estimator, [3000, 2800, 2600])
    before = estimator.estimate
    estimator.observe(T0 + timedelta(hours=1), 100)
    estimator.observe(T0 + timedelta(hours=2), 100)
    assert estimator.estimate == before
