"""``restock simulate``: recorded output, demand files, live publishing and the load generator."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import aiomqtt
import msgspec
import pytest
from click.testing import CliRunner

from edge_agent import protocol
from edge_agent.cli import cli
from edge_agent.mqtt_link import BrokerUrl
from simulators.home import SimulatedHome
from simulators.ports import free_port
from simulators.recording import read_messages, write_messages
from simulators.scenario import SCENARIOS_DIR, load_scenario, parse_scenario
from simulators.simulate import record, run_live, with_days
from tests.brokers import BrokerAddress

SHIPPED = sorted(SCENARIOS_DIR.glob("*.toml"))

SCENARIO = """
[household]
id = "{household}"
start = 2026-01-05T00:00:00Z
days = {days}
seed = 3

[[items]]
id = "milk"
name = "Milk"
device = "fridge"
sensor = "weight"
unit = "g"
pack_size = 1000
capacity = 4000
initial = 3000
lead_time_hours = {{ min = 24, max = 48 }}
price = 1.19
shelf_life_days = 10
cycle_days = 2

[[items]]
id = "coffee"
name = "Coffee beans"
device = "coffee_machine"
sensor = "weight"
unit = "g"
pack_size = 1000
capacity = 2000
initial = 1500
lead_time_hours = {{ min = 48, max = 96 }}
price = 16.9

[sensors]
noise = false
heartbeat_minutes = 600
"""


def write_scenario(tmp_path: Path, *, household: str = "flat", days: int = 2) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(SCENARIO.format(household=household, days=days), encoding="utf-8")
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("path", SHIPPED, ids=[path.stem for path in SHIPPED])
def test_every_shipped_scenario_records_the_same_bytes_twice(path: Path) -> None:
    scenario = load_scenario(path)
    first, second = io.BytesIO(), io.BytesIO()
    count = record(scenario, first)
    record(scenario, second)
    assert count > scenario.household.days  # at least the heartbeats
    assert first.getvalue() == second.getvalue()


def test_cli_writes_identical_files(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    outputs = []
    for name in ("one.jsonl", "two.jsonl"):
        out = tmp_path / name
        code, output = invoke("simulate", "--scenario", str(scenario), "--out", str(out))
        assert code == 0, output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    first = json.loads(outputs[0].splitlines()[0])
    assert first["payload"] == "online"
    assert first["retain"] is True


def test_a_different_seed_gives_different_readings(tmp_path: Path) -> None:
    scenario = load_scenario(write_scenario(tmp_path))
    reseeded = msgspec.structs.replace(
        scenario, household=msgspec.structs.replace(scenario.household, seed=4)
    )
    first, second = io.BytesIO(), io.BytesIO()
    record(scenario, first)
    record(reseeded, second)
    assert first.getvalue() != second.getvalue()


def test_recording_reads_back(tmp_path: Path) -> None:
    scenario = load_scenario(write_scenario(tmp_path))
    messages = list(SimulatedHome(scenario).run())
    path = tmp_path / "out.jsonl"
    with path.open("wb") as out:
        write_messages(messages, out)
    assert list(read_messages(path)) == messages


def test_demand_csv_replaces_the_consumption_model(tmp_path: Path) -> None:
    """With a demand file, the readings fall by exactly the demanded quantities."""
    scenario = write_scenario(tmp_path)
    demand = tmp_path / "demand.csv"
    demand.write_text(
        "timestamp,item,quantity\n"
        "2026-01-05T07:00:00Z,milk,250\n"
        "2026-01-05T08:30:00Z,coffee,20\n"
        "2026-01-06T07:00:00Z,milk,300.5\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    code, output = invoke(
        "simulate", "--scenario", str(scenario), "--demand", str(demand), "--out", str(out)
    )
    assert code == 0, output
    values: dict[str, list[float]] = {"milk": [], "coffee": []}
    for message in read_messages(out):
        topic = protocol.parse_topic(message.topic)
        if isinstance(topic, protocol.ReadingTopic):
            values[topic.item].append(protocol.decode_reading(message.payload).value)
    assert sorted(set(values["milk"]), reverse=True) == [3000, 2750, 2450]
    assert sorted(set(values["coffee"]), reverse=True) == [1500, 1480]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("2026-01-05 07:00,milk,250", "timestamp"),
        ("2026-01-05T07:00:00Z,mlik,250", "unknown item 'mlik'"),
        ("2026-01-05T07:00:00Z,milk,-2", "quantity"),
    ],
)
def test_bad_demand_row_exits_with_its_line(tmp_path: Path, row: str, reason: str) -> None:
    scenario = write_scenario(tmp_path)
    demand = tmp_path / "demand.csv"
    demand.write_text(
        f"timestamp,item,quantity\n2026-01-05T06:00:00Z,milk,100\n{row}\n", encoding="utf-8"
    )
    out = tmp_path / "out.jsonl"
    code, output = invoke(
        "simulate", "--scenario", str(scenario), "--demand", str(demand), "--out", str(out)
    )
    assert code != 0
    assert f"{demand}:3" in output
    assert reason in output
    assert not out.exists()


@pytest.mark.parametrize(
    "args",
    [
        [],  # neither --out nor --broker
        ["--out", "x.jsonl", "--broker", "mqtt://127.0.0.1:1"],
        ["--out", "x.jsonl", "--households", "2"],
    ],
)
def test_usage_errors(tmp_path: Path, args: list[str]) -> None:
    scenario = write_scenario(tmp_path)
    code, output = invoke("simulate", "--scenario", str(scenario), *args)
    assert code == 2
    assert "Error" in output


def test_bad_scenario_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        SCENARIO.format(household="flat", days=2).replace("price = 16.9", 'price = "a lot"'),
        encoding="utf-8",
    )
    code, output = invoke("simulate", "--scenario", str(path), "--out", str(tmp_path / "o"))
    assert code == 1
    assert str(path) in output
    assert "price" in output


def test_unreachable_broker_is_a_clear_error(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    code, output = invoke(
        "simulate", "--scenario", str(scenario), "--broker", f"mqtt://127.0.0.1:{free_port()}"
    )
    assert code == 1
    assert "cannot connect" in output


@pytest.mark.broker
async def test_load_generator_publishes_for_every_household(broker: BrokerAddress) -> None:
    base = f"load-{uuid.uuid4().hex[:8]}"
    scenario = with_days(parse_scenario(SCENARIO.format(household=base, days=1), source="t"), 1)
    seen: set[str] = set()
    async with aiomqtt.Client(broker.host, broker.port) as watcher:
        await watcher.subscribe("restock/v1/+/+/+/reading", qos=1)
        async with asyncio.timeout(20):
            report = await run_live(
                scenario, BrokerUrl(broker.host, broker.port), speed=86400 * 4, households=3
            )
        async with asyncio.timeout(10):
            async for message in watcher.messages:
                household = protocol.parse_topic(message.topic.value).household
                if household.startswith(base):
                    seen.add(household)
                if len(seen) == 3:
                    break
    assert seen == {f"{base}-00000", f"{base}-00001", f"{base}-00002"}
    assert report.households == 3
    assert report.devices == 6
    assert report.messages > 3 * 2 * 2  # online and a reading per item, at least


def test_separate_processes_write_identical_files(tmp_path: Path) -> None:
    """Byte-identical across runs, whatever Python's per-process hash seed."""
    scenario = SCENARIOS_DIR / "faulty_sensors.toml"
    restock = [sys.executable, "-c", "from edge_agent.cli import main; main()"]
    outputs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"{hash_seed}.jsonl"
        subprocess.run(
            [*restock, "simulate", "--scenario", str(scenario), "--days", "5", "--out", str(out)],
            check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            timeout=120,
        )
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
