"""Cost of the agent's brain per reading, against decoding the reading, in the same run.

Feeds 60 days of readings of the demo household (every item every 30 minutes, falling
and refilled) through ``Brain.observe`` and ``Brain.decide``, and compares the time with
``protocol.decode_reading`` on the same payloads; and a restart, the last 28 days of them
replayed into a new brain (``Brain.replay``, refitting every 6 hours of them). Run:
``.venv/bin/python bench/brain.py``.
"""

from __future__ import annotations

import platform
import statistics
import time
from datetime import timedelta

from edge_agent import protocol
from edge_agent.core import Brain
from edge_agent.estimator import HISTORY
from simulators.scenario import builtin_scenario, load_scenario

REPEATS = 5


def trace() -> list[tuple[str, bytes]]:
    scenario = load_scenario(builtin_scenario("demo"))
    readings = []
    levels = {item.id: item.initial or item.capacity for item in scenario.items}
    seq = 0
    for step in range(60 * 48):
        now = scenario.start + timedelta(minutes=30 * step)
        for item in scenario.items:
            use = item.pack_size / (item.cycle_days or 7) / 48
            levels[item.id] = levels[item.id] - use
            if levels[item.id] < item.capacity * 0.2:
                levels[item.id] = item.capacity
            seq += 1
            payload = protocol.encode(
                protocol.Reading(ts=now, value=round(levels[item.id], 1), unit=item.unit, seq=seq)
            )
            readings.append((item.id, payload))
    return readings


def run_brain(readings: list[tuple[str, bytes]]) -> float:
    scenario = load_scenario(builtin_scenario("demo"))
    brain = Brain("bench", scenario.items)
    started = time.perf_counter()
    for item_id, payload in readings:
        reading = protocol.decode_reading(payload)
        brain.observe(item_id, reading, reading.ts)
        for decision in brain.decide(reading.ts):
            # Deliver at once, so that the brain keeps deciding as in a running home.
            brain.update_status(decision.request_id, "delivered", reading.ts)
    return time.perf_counter() - started


def run_replay(readings: list[tuple[str, bytes]]) -> float:
    """A restart: the last 28 days of readings replayed into a new brain, with its
    refits every 6 hours of them (``Brain.replay``)."""
    scenario = load_scenario(builtin_scenario("demo"))
    decoded = [(item_id, protocol.decode_reading(payload)) for item_id, payload in readings]
    now = decoded[-1][1].ts
    kept = [(item_id, reading) for item_id, reading in decoded if reading.ts >= now - HISTORY]
    brain = Brain("bench", scenario.items)
    started = time.perf_counter()
    brain.replay(kept, now)
    return time.perf_counter() - started


def run_decode(readings: list[tuple[str, bytes]]) -> float:
    started = time.perf_counter()
    for _, payload in readings:
        protocol.decode_reading(payload)
    return time.perf_counter() - started


def main() -> None:
    readings = trace()
    brain_times, decode_times, replay_times = [], [], []
    for _ in range(REPEATS):
        decode_times.append(run_decode(readings))
        brain_times.append(run_brain(readings))
        replay_times.append(run_replay(readings))
    brain, decode = statistics.median(brain_times), statistics.median(decode_times)
    n = len(readings)
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print(f"readings: {n} (60 days, 8 items, every 30 min); medians of {REPEATS} runs")
    print(f"decode only:            {decode / n * 1e6:8.1f} us/reading")
    ratio = brain / decode
    print(f"decode+observe+decide:  {brain / n * 1e6:8.1f} us/reading ({ratio:.0f}x decode)")
    print(f"60 days of readings:    {brain:8.2f} s of CPU")
    replay = statistics.median(replay_times)
    print(f"restart (28 days replayed): {replay:8.2f} s ({replay / decode:.0f}x decoding 60 days)")


if __name__ == "__main__":
    main()
