"""``restock evaluate`` on households drawn at random: any appliance, sensor, unit, store,
lead time and fault, within what a scenario file may say. Every policy runs them to the
end, and the stock's books balance: nothing appears or vanishes but through a delivery,
a purchase, a use or the bin."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from simulators.evaluate import evaluate
from simulators.policies import POLICIES
from simulators.scenario import Scenario, parse_scenario

#: (appliance, sensor, unit) as a household might have them.
KINDS = [
    ("fridge", "weight", "g"),
    ("fridge", "level", "ml"),
    ("fridge", "count", "egg"),
    ("washer", "level", "ml"),
    ("washer", "weight", "kg"),
    ("washer", "count", "pod"),
    ("dishwasher", "count", "tablet"),
    ("dishwasher", "weight", "g"),
    ("dishwasher", "level", "L"),
    ("coffee_machine", "weight", "g"),
    ("coffee_machine", "count", "capsule"),
    ("water_filter", "level", "L"),
]
PIECES = {"egg", "pod", "tablet", "capsule"}
FAULTS = [
    [],
    ["noise = true"],
    [
        "noise = true",
        "tare_drift = true",
        "spikes = { per_day = 1.0 }",
        "duplicates = true",
        "dropouts = { per_week = 1.0, hours = [1, 12] }",
    ],
    [
        "noise = true",
        "stuck = { per_week = 1.0, hours = [2, 24] }",
        "out_of_order = { probability = 0.05 }",
        "reboots = { per_week = 1.0 }",
    ],
]


def random_household(seed: int) -> Scenario:
    """A household of one to six items drawn with ``seed``: stores from one pack to six,
    lead times from none to a week, some perishable, some without a stated cycle."""
    rng = random.Random(seed)
    lines = [
        "[household]",
        f'id = "random-{seed}"',
        "start = 2026-03-02T00:00:00Z",
        "days = 21",
        f"seed = {rng.randint(1, 10**6)}",
    ]
    devices = set()
    for index in range(rng.randint(1, 6)):
        device, sensor, unit = rng.choice(KINDS)
        if device == "water_filter" and device in devices:
            continue  # one filter a household
        devices.add(device)
        if unit in ("kg", "L"):
            pack: float = rng.choice([0.5, 1, 1.5, 2, 5])
        elif unit in PIECES:
            pack = rng.choice([1, 6, 10, 24, 60, 100])
        else:
            pack = rng.choice([100, 250, 500, 1000, 2000])
        capacity = pack if device == "water_filter" else pack * rng.choice([1, 2, 3, 6])
        initial = rng.randint(0, int(capacity)) if unit in PIECES else rng.uniform(0, capacity)
        low = rng.choice([0, 6, 12, 24, 48, 72])
        high = low + rng.choice([0, 12, 24, 96])
        lines += [
            "[[items]]",
            f'id = "item{index}"',
            f'name = "Item {index}"',
            f'device = "{device}"',
            f'sensor = "{sensor}"',
            f'unit = "{unit}"',
            f"pack_size = {pack}",
            f"capacity = {capacity}",
            f"initial = {round(initial, 1)}",
            f"lead_time_hours = {{ min = {low}, max = {high} }}",
            "price = 2.0",
        ]
        if device == "fridge" and rng.random() < 0.8:
            lines.append(f"shelf_life_days = {rng.choice([1, 2, 4, 7, 21])}")
        if rng.random() < 0.7:
            lines.append(f"cycle_days = {rng.choice([0.5, 1, 3, 10, 30, 90])}")
    faults = rng.choice(FAULTS)
    if faults:
        lines += ["[sensors]", *faults]
    lines += ["[model]", f"people = {rng.randint(1, 6)}"]
    if rng.random() < 0.3:
        lines.append("hand_bought_per_week = 0.5")
    return parse_scenario("\n".join(lines) + "\n", source=f"random-{seed}.toml")


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("policy", POLICIES)
def test_a_random_household_runs_to_the_end_and_its_books_balance(seed: int, policy: str) -> None:
    scenario = random_household(seed)
    run = evaluate(scenario, policy)
    items = {item.id: item for item in scenario.items}
    for summary in run.summaries:
        item = items[summary.item]
        came = item.initial + summary.delivered + summary.bought_by_hand
        went = summary.served + summary.wasted_expired + summary.wasted_overflow
        assert came - went == pytest.approx(summary.level, abs=1e-6 * (1 + came)), item.id
        assert 0 <= summary.served <= summary.demanded + 1e-9
        assert 0 <= summary.level <= item.capacity + 1e-9
    for placed in run.orders:
        assert placed.order.lines, "an order with no lines"
        for item_id, packs in placed.order.lines:
            assert item_id in items
            assert packs >= 1
        # Lines ordered together come together, as late as the slowest line: no sooner
        # than the longest of their shortest lead times, no later than the longest.
        latest = max(items[item_id].lead_time_hours.max for item_id in placed.order.items)
        soonest = max(items[item_id].lead_time_hours.min for item_id in placed.order.items)
        assert timedelta(hours=soonest) <= placed.arrives_at - placed.placed_at
        assert placed.arrives_at - placed.placed_at <= timedelta(hours=latest)
    assert {id(d) for d in run.deliveries} <= {id(o) for o in run.orders}
