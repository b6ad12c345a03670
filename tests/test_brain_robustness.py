"""Random but valid inputs, in random order, never make the brain raise.

The agent's service catches what the brain raises, but a brain that raises on some
sequence of readings, ticks and order news would stop ordering for that household.
Each run mixes plausible readings with wild ones (0, far over capacity, negative,
stale by weeks), ticks, order news of every kind and outlooks asked for earlier
times, and checks what comes out is well formed.
"""

from __future__ import annotations

import contextlib
import random
from datetime import timedelta

import pytest

from edge_agent.core import Brain, ReadingRejected
from edge_agent.protocol import FINAL_STATUSES, Reading
from tests.items import COFFEE, DETERGENT, EGGS, MILK, T0, WATER_FILTER

ITEMS = [MILK, COFFEE, DETERGENT, EGGS, WATER_FILTER]
STEPS_AHEAD = [1, 5, 15, 60, 60, 60, 240, 24 * 60, 5 * 24 * 60]  # minutes
NEWS = ["shipped", "delivered", "delivered", *sorted(FINAL_STATUSES)]


def reading_value(rng: random.Random, level: float, capacity: float) -> float:
    if rng.random() < 0.9:
        return level + rng.gauss(0, 2)
    return rng.choice([0.0, -5.0, 1e9, -1e6, capacity * 10, 0.001, rng.uniform(-1e4, 1e5)])


@pytest.mark.parametrize("seed", range(4))
def test_random_readings_ticks_and_order_news_never_make_the_brain_raise(seed: int) -> None:
    rng = random.Random(seed)
    brain = Brain("home", ITEMS)
    level = {item.id: rng.uniform(0, item.capacity) for item in ITEMS}
    now, decided = T0, 0
    for seq in range(1000):
        now += timedelta(minutes=rng.choice(STEPS_AHEAD))
        item = rng.choice(ITEMS)
        action = rng.random()
        if action < 0.7:
            level[item.id] = max(0.0, level[item.id] - rng.expovariate(20 / item.pack_size))
            if rng.random() < 0.05:
                level[item.id] += item.pack_size * rng.randint(1, 3)
            value = reading_value(rng, level[item.id], item.capacity)
            if item.metered:
                value = abs(value) % (2 * item.pack_size)
            if item.unit == "egg":
                value = round(value)
            stale = timedelta(minutes=rng.choice([0, 0, 0, 3, 30, 600, 60 * 24 * 40]))
            # A refusal is stated, and the service logs it.
            with contextlib.suppress(ReadingRejected):
                brain.on_reading(item.id, Reading(now - stale, value, item.unit, seq), now)
        elif action < 0.85:
            for decision in brain.decide(now):
                decided += 1
                assert decision.lines
                assert all(line.packs >= 1 for line in decision.lines)
                assert decision.explanation
        elif action < 0.95:
            for order in brain.open_orders:
                brain.update_status(order.request_id, rng.choice(NEWS), now)
        else:
            # Built as the wire's struct: its own checks (p10 <= p50 <= p90, a level
            # of 0 or more) run on every outlook.
            asked = now - timedelta(hours=rng.choice([0, 0, 1, 7]))
            outlooks = [brain.outlook(item.id, asked) for item in ITEMS]
            assert [outlook.item for outlook in outlooks] == [item.id for item in ITEMS]
    assert decided > 0
