"""Cost of one forecast refit and one policy decision, against decoding one reading.

A demo household lives 28 days (``simulators.home.SimulatedHome``, its faults on), kept
stocked by deliveries, and its readings are fed through ``Brain.observe``. Then, on that history:

- **refit**: ``forecast.fit`` for each item (the scikit-learn ridge fit and the rest),
- **refit and calibration**: the same through the item's ``Forecaster``, which also
  scores the run-outs of its refits over the 28 days (made every 6 hours as the
  readings came in) to calibrate P10 and P90,
- **decision**: ``Brain.decide`` for the whole household with every model fresh, which
  is what the agent does on each 15-minute tick,
- **decision with refits**: ``Brain.decide`` when every item's model is due a refit,
- **outlooks**: ``Brain.outlook`` of every item (level, P10/P50/P90 run-out, sensor
  health) with every model fresh, which the agent publishes hourly,
- **baseline**: ``protocol.decode_reading`` of one reading, measured in the same run.

Medians over many repeats. Run: ``.venv/bin/python bench/refit.py``.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from datetime import timedelta

import msgspec

from edge_agent import protocol
from edge_agent.core import Brain
from edge_agent.forecast import REFIT_EVERY, Forecaster, fit
from simulators.home import SimulatedHome
from simulators.policies import reading_of
from simulators.scenario import builtin_scenario, load_scenario

DAYS = 28


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    scenario = load_scenario(builtin_scenario("demo"))
    household = msgspec.structs.replace(scenario.household, days=DAYS)
    scenario = msgspec.structs.replace(scenario, household=household)
    home = SimulatedHome(scenario)
    brain = Brain(household.id, scenario.items)
    messages = home.boot()
    for day in range(1, DAYS * 4 + 1):
        # A well-stocked home: refilled every six hours as needed, as the agent would.
        at = scenario.start + timedelta(hours=6 * day)
        messages += home.advance(at)
        for item in scenario.items:
            room = item.capacity - home.stock.level(item.id)
            if room > 0.7 * item.capacity:
                packs = max(int(room // item.pack_size), 1)
                messages += home.deliver(at, item.id, packs)[1]
    payloads = []
    due = scenario.start + REFIT_EVERY
    for message in messages:
        if message.at >= due:
            brain.forecasts(message.at)  # refits as the agent makes them, kept to score
            due += REFIT_EVERY
        sensed = reading_of(message, household.id)
        if sensed is not None:
            topic, reading = sensed
            brain.observe(topic.item, reading, message.at)
            payloads.append(message.payload)
    now = scenario.end
    brain.decide(now)  # fit every model once

    decode = median_seconds(lambda: protocol.decode_reading(payloads[len(payloads) // 2]), 5000)
    refits = {
        item: median_seconds(lambda e=estimator: fit(e, now), 200)  # type: ignore[misc]
        for item, estimator in brain.estimators.items()
    }

    def refit_and_score(forecaster: Forecaster) -> None:
        forecaster.model = None
        forecaster.current_model(now)

    scored = {
        item: median_seconds(lambda f=forecaster: refit_and_score(f), 200)  # type: ignore[misc]
        for item, forecaster in brain.forecasters.items()
    }
    decision = median_seconds(lambda: brain.decide(now + timedelta(minutes=1)), 500)

    def decide_with_refits() -> None:
        for forecaster in brain.forecasters.values():
            forecaster.model = None
        brain.decide(now + timedelta(minutes=2))

    with_refits = median_seconds(decide_with_refits, 100)
    later = now + timedelta(minutes=3)
    outlooks = median_seconds(lambda: [brain.outlook(item, later) for item in brain.items], 500)
    refit = statistics.median(refits.values())
    print(f"machine: {platform.machine()}, python {platform.python_version()}")
    print(f"household: {len(scenario.items)} items, {DAYS} days, {len(payloads)} readings")
    print(f"baseline decode_reading:       {decode * 1e6:8.1f} us")
    for name, seconds in refits.items():
        print(f"refit {name:24} {seconds * 1e3:8.2f} ms")
    print(f"refit, median item:            {refit * 1e3:8.2f} ms  ({refit / decode:,.0f}x decode)")
    calibrated = statistics.median(scored.values())
    print(f"refit and calibration, median: {calibrated * 1e3:8.2f} ms")
    ratio = decision / decode
    print(f"decision, models fresh:        {decision * 1e3:8.2f} ms  ({ratio:,.0f}x decode)")
    print(f"decision, every item refitted: {with_refits * 1e3:8.2f} ms")
    ratio = outlooks / decode
    print(f"outlooks of every item:        {outlooks * 1e3:8.2f} ms  ({ratio:,.0f}x decode)")
    per_day = len(scenario.items) * (timedelta(days=1) / REFIT_EVERY) * refit
    print(f"refits per household-day:      {per_day * 1e3:8.1f} ms of CPU")


if __name__ == "__main__":
    main()
