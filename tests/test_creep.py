"""A sensor's creep from its quiet spells, weighed with its household's sensors."""

from __future__ import annotations

import math
import random
from datetime import timedelta

from edge_agent.creep import Installation, QuietSpells
from edge_agent.estimator import DRIFT_PER_DAY
from tests.items import MILK, T0

#: One sd of the creep rates load cells ordinarily have, per hour.
PRIOR = DRIFT_PER_DAY * MILK.capacity / 24


def quiet_days(spells: QuietSpells, creep_per_day: float, noise: float, seed: int) -> None:
    """Ten days of eight-hour quiet spells, each starting five hours later in the day
    than the last (a creep is told from the day's swing across the hours), read every
    half hour."""
    rng = random.Random(seed)
    for day in range(10):
        start = T0 + timedelta(days=day, hours=5 * day % 24)
        for step in range(17):
            ts = start + timedelta(minutes=30 * step)
            hours = (ts - T0) / timedelta(hours=1)
            spells.add(ts, 2000 + creep_per_day * hours / 24 + rng.gauss(0, noise))
        spells.close()


def test_a_faint_creep_is_taken_whole_only_with_the_household_behind_it() -> None:
    """A cell whose quiet spells show a creep of 1% of its range a day only faintly (45 g
    of noise over ten days) is drawn most of the way to 0 on its own. Beside three
    cells creeping as fast, the household is taken for a faulty one and the faint cell's
    fit is taken nearly whole. What its own spells show (what a creep taken back
    over weeks rests on) is the same either way."""
    fast = 0.01 * MILK.capacity
    alone = QuietSpells(PRIOR)
    quiet_days(alone, fast, noise=45, seed=0)

    household = Installation()
    faint = QuietSpells(PRIOR, household)
    others = [QuietSpells(PRIOR, household) for _ in range(3)]
    for seed, spells in enumerate(others, start=1):
        quiet_days(spells, fast, noise=5, seed=seed)
        assert spells.rate * 24 > 0.75 * fast
    quiet_days(faint, fast, noise=45, seed=0)

    assert alone.rate * 24 < 0.25 * fast
    assert faint.rate * 24 > 0.4 * fast
    assert faint.own == alone.own


def test_still_neighbours_lend_a_faint_creep_no_belief() -> None:
    """The same faint cell beside three cells that stand still: the household is a
    usual one, and the cell's creep is drawn in at least as far as on its own."""
    fast = 0.01 * MILK.capacity
    alone = QuietSpells(PRIOR)
    quiet_days(alone, fast, noise=45, seed=0)

    household = Installation()
    faint = QuietSpells(PRIOR, household)
    for seed in range(1, 4):
        quiet_days(QuietSpells(PRIOR, household), 0.0, noise=5, seed=seed)
    quiet_days(faint, fast, noise=45, seed=0)

    assert faint.rate <= alone.rate


def wandering_rates(seed: int, creep_per_day: float, days: int = 35) -> list[float]:
    """The creep a gauge's quiet spells show (per day), each day from the third week
    on: 30 ml of noise and a 30 ml swing with the day's temperature, spells of one to
    eight hours read every half hour, a use between each two."""
    rng = random.Random(seed)
    spells = QuietSpells(prior=creep_per_day / 24)
    phase = rng.uniform(0, 2 * math.pi)
    ts, rates, next_day = T0, [], T0 + timedelta(days=14)
    while ts < T0 + timedelta(days=days):
        for _ in range(rng.randint(2, 16)):
            day = (ts - T0) / timedelta(days=1)
            swing = 30 * math.sin(2 * math.pi * day + phase)
            spells.add(ts, 1500 + creep_per_day * day + swing + rng.gauss(0, 30))
            ts += timedelta(minutes=30)
        spells.close()
        ts += timedelta(minutes=30)
        if ts >= next_day:
            rates.append(spells.rate * 24)
            next_day += timedelta(days=1)
    return rates


def test_a_creeps_rate_holds_to_the_truth_over_weeks_of_spells() -> None:
    """A sensor's creep keeps to its rate for weeks, and the level is corrected by the
    rate hour after hour, so how far it wanders adds up. A week's spells of a noisy
    gauge (60 ml a day under 30 ml of noise) put it anywhere from two thirds to one and
    a half times the truth; the spells of the history kept (four weeks), which show the
    same creep, hold it closer: over eight gauges, from the third week to the fifth,
    the furthest it strays is under 0.45 of the rate on average (0.6 with a week's
    spells alone)."""
    creep = 60.0
    strays = [max(abs(rate - creep) for rate in wandering_rates(seed, creep)) for seed in range(8)]
    assert sum(strays) / len(strays) < 0.45 * creep
