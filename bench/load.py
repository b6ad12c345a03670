"""The load generator's cost: households one core drives, against recording without a broker.

For each household count, runs ``restock simulate --households N`` (in-process, through
:func:`simulators.simulate.run_live`) against a real Mosquitto started on a free port,
and, as the baseline in the same run, records the same households' messages without a
broker (:func:`simulators.simulate.record`). Prints CPU per household-day for both, the
households one core drives by CPU, and peak memory. Needs ``mosquitto`` on PATH.

Run: ``.venv/bin/python bench/load.py [HOUSEHOLDS ...] [--days D] [--speed X] [--runs R]``
"""

from __future__ import annotations

import argparse
import asyncio
import io
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import msgspec

from edge_agent.mqtt_link import BrokerUrl
from simulators.ports import free_port
from simulators.scenario import builtin_scenario, load_scenario
from simulators.simulate import LiveReport, record, run_live, with_days


def baseline_cpu_per_household_day(households: int, days: int) -> float:
    """CPU seconds per household-day to live and encode the households, with no broker."""
    scenario = with_days(load_scenario(builtin_scenario("demo")), days)
    started = time.process_time()
    for n in range(households):
        copy = msgspec.structs.replace(
            scenario, household=msgspec.structs.replace(scenario.household, seed=n)
        )
        record(copy, io.BytesIO())
    return (time.process_time() - started) / (households * days)


def live(port: int, households: int, days: int, speed: float) -> LiveReport:
    scenario = with_days(load_scenario(builtin_scenario("demo")), days)
    return asyncio.run(
        run_live(scenario, BrokerUrl("127.0.0.1", port), speed=speed, households=households)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("households", nargs="*", type=int, default=[10, 100, 500])
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--speed", type=float, default=86_400.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "mosquitto.conf"
        config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
        broker = subprocess.Popen([mosquitto, "-c", str(config)], stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            machine = platform.processor() or platform.machine()
            print(f"# {machine}, Python {platform.python_version()}")
            print(f"# {args.days} simulated days at {args.speed:g}x, median of {args.runs} runs")
            print(
                "| households | connections | messages | wall | live CPU ms/household-day"
                " | baseline (no broker) | live/baseline | households/core at this speed"
                " | households/core in real time | peak RSS |"
            )
            print("|---|---|---|---|---|---|---|---|---|---|")
            for households in args.households:
                reports = [live(port, households, args.days, args.speed) for _ in range(args.runs)]
                base = statistics.median(
                    baseline_cpu_per_household_day(households, args.days) for _ in range(args.runs)
                )
                cpu = statistics.median(r.cpu_seconds_per_household_day for r in reports)
                wall = statistics.median(r.wall_seconds for r in reports)
                report = reports[0]
                print(
                    f"| {households} | {report.devices} | {report.messages:,} | {wall:.1f} s"
                    f" | {cpu * 1000:.1f} | {base * 1000:.1f} | {cpu / base:.1f}x"
                    f" | {86_400 / (cpu * args.speed):,.0f} | {86_400 / cpu:,.0f}"
                    f" | {max(r.peak_memory_mib for r in reports):.0f} MiB |"
                )
        finally:
            broker.terminate()
            broker.wait()


if __name__ == "__main__":
    main()
