"""A sensor's creep from its quiet spells, weighed with its household's sensors."""

from __future__ import annotations

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
    """A cell whose quiet spells show a creep of 1% of its range a day only faintly (20 g
    of noise: fitted at half that) is drawn most of the way to 0 on its own. Beside
    three cells creeping as fast, the household is taken for a faulty one and the faint
    cell's fit is taken nearly whole. What its own spells show (what a creep taken back
    over weeks rests on) is the same either way."""
    fast = 0.01 * MILK.capacity
    alone = QuietSpells(PRIOR)
    quiet_days(alone, fast, noise=20, seed=0)

    household = Installation()
    faint = QuietSpells(PRIOR, household)
    others = [QuietSpells(PRIOR, household) for _ in range(3)]
    for seed, spells in enumerate(others, start=1):
        quiet_days(spells, fast, noise=5, seed=seed)
        assert spells.rate * 24 > 0.75 * fast
    quiet_days(faint, fast, noise=20, seed=0)

    assert alone.rate * 24 < 0.25 * fast
    assert faint.rate * 24 > 0.4 * fast
    assert faint.own == alone.own


def test_still_neighbours_lend_a_faint_creep_no_belief() -> None:
    """The same faint cell beside three cells that stand still: the household is a
    usual one, and the cell's creep is drawn in at least as far as on its own."""
    fast = 0.01 * MILK.capacity
    alone = QuietSpells(PRIOR)
    quiet_days(alone, fast, noise=20, seed=0)

    household = Installation()
    faint = QuietSpells(PRIOR, household)
    for seed in range(1, 4):
        quiet_days(QuietSpells(PRIOR, household), 0.0, noise=5, seed=seed)
    quiet_days(faint, fast, noise=20, seed=0)

    assert faint.rate <= alone.rate
