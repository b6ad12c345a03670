"""Cost of level estimation per reading, against decoding the reading, in the same run.

Each item of the demo household is read every 30 minutes and at each use for 60 days, as
a load cell or gauge reads it: noise (0.1% of capacity), a zero creeping up 0.2% of
capacity a day and swinging 0.2% with the day's temperature, uses twice a day, and a
refill when low. The readings go through ``LevelEstimator.observe`` alone (no forecast,
no policy); the baseline is ``protocol.decode_reading`` on the same payloads.
Run: ``.venv/bin/python bench/estimator.py``.
"""

from __future__ import annotations

import math
import platform
import random
import statistics
import time
from datetime import timedelta

from brain import run_decode  # bench/brain.py: the same baseline

from edge_agent import protocol
from edge_agent.catalog import SensorKind
from edge_agent.estimator import LevelEstimator
from simulators.scenario import builtin_scenario, load_scenario

REPEATS = 5
DAYS = 60


def trace() -> list[tuple[str, bytes]]:
    scenario = load_scenario(builtin_scenario("demo"))
    rng = random.Random(1)
    readings = []
    for item in scenario.items:
        level = float(item.initial or item.capacity)
        use = item.pack_size / (item.cycle_days or 7) / 2
        drifts = item.sensor is not SensorKind.COUNT
        creep = 0.002 * item.capacity if drifts else 0.0
        swing = 0.002 * item.capacity if drifts else 0.0
        noise = 0.001 * item.capacity if drifts else 0.0
        heartbeats = [(step / 2, False) for step in range(DAYS * 48)]
        uses = [
            (day * 24 + hour + rng.uniform(-1, 1), True) for day in range(DAYS) for hour in (7, 19)
        ]
        for seq, (hours, used) in enumerate(sorted(heartbeats + uses), start=1):
            if used:
                level = max(level - use, 0.0)
                if level < 0.2 * item.capacity:
                    level += item.pack_size
            days = hours / 24
            value = level + creep * days + swing * math.sin(2 * math.pi * days)
            value += rng.gauss(0, noise)
            if not drifts:
                value = round(value)
            now = scenario.start + timedelta(hours=hours)
            reading = protocol.Reading(
                ts=now, value=round(max(value, 0.0), 1), unit=item.unit, seq=seq
            )
            readings.append((item.id, protocol.encode(reading)))
    return readings


def run_estimators(readings: list[tuple[str, bytes]]) -> float:
    scenario = load_scenario(builtin_scenario("demo"))
    estimators = {item.id: LevelEstimator(item) for item in scenario.items}
    started = time.perf_counter()
    for item_id, payload in readings:
        reading = protocol.decode_reading(payload)
        estimators[item_id].observe(reading.ts, reading.value)
    return time.perf_counter() - started


def main() -> None:
    readings = trace()
    estimate_times, decode_times = [], []
    for _ in range(REPEATS):
        decode_times.append(run_decode(readings))
        estimate_times.append(run_estimators(readings))
    estimate, decode = statistics.median(estimate_times), statistics.median(decode_times)
    n = len(readings)
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print(f"readings: {n} ({DAYS} days, demo items); medians of {REPEATS} runs")
    print(f"decode only:      {decode / n * 1e6:8.1f} us/reading")
    ratio = estimate / decode
    print(f"decode + observe: {estimate / n * 1e6:8.1f} us/reading ({ratio:.0f}x decode)")


if __name__ == "__main__":
    main()
