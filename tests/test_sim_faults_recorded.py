"""Each message-level sensor fault shows in a recorded ``--out`` file when on, and not when off.

The unit tests in test_sim_firmware.py and test_sim_sensors.py pin every fault on one
device; this checks the same signatures in what ``restock simulate`` actually writes for
a shipped scenario with every fault on, and for the same scenario with every fault off.
"""

from __future__ import annotations

import io
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from edge_agent import protocol
from simulators.recording import read_messages
from simulators.scenario import SCENARIOS_DIR, SensorSettings, load_scenario
from simulators.simulate import record

FAULTY = SCENARIOS_DIR / "faulty_sensors.toml"


def recorded(tmp_path: Path, *, faults_off: bool) -> Counter[str]:
    """Count the signature of each fault in the scenario's recorded messages."""
    scenario = load_scenario(FAULTY)
    if faults_off:
        scenario = msgspec.structs.replace(scenario, sensors=SensorSettings(noise=None))
    buffer = io.BytesIO()
    record(scenario, buffer)
    path = tmp_path / "out.jsonl"
    path.write_bytes(buffer.getvalue())
    return signatures(path, {item.id: item.capacity for item in scenario.items})


def signatures(path: Path, capacity: dict[str, float]) -> Counter[str]:
    seen: Counter[str] = Counter()
    last_seq: dict[str, int] = {}
    last_payload: dict[str, bytes] = {}
    #: Per item: the last reading, and how far it moved from the one before.
    last_value: dict[str, tuple[protocol.Reading, float]] = {}
    offline_since: dict[str, datetime] = {}
    for message in read_messages(path):
        topic = protocol.parse_topic(message.topic)
        if isinstance(topic, protocol.AvailabilityTopic):
            if message.payload == protocol.OFFLINE:
                offline_since[topic.device] = message.at
            elif topic.device in offline_since:
                gap = message.at - offline_since.pop(topic.device)
                seen["dropout" if gap >= timedelta(hours=1) else "reboot_gap"] += 1
                last_seq.pop(topic.device, None)
            continue
        assert isinstance(topic, protocol.ReadingTopic)
        reading = protocol.decode_reading(message.payload)
        if last_payload.get(topic.item) == message.payload:
            seen["duplicate"] += 1
        last_payload[topic.item] = message.payload
        previous_seq = last_seq.get(topic.device)
        if previous_seq is not None and reading.seq < previous_seq:
            seen["out_of_order"] += 1
        if reading.seq == 0:
            seen["seq_restart"] += 1
        last_seq[topic.device] = max(reading.seq, previous_seq or 0)
        jump = 0.0
        if (before := last_value.get(topic.item)) is not None:
            previous, rise = before
            jump = reading.value - previous.value
            quick = reading.ts - previous.ts <= timedelta(minutes=2)
            # Up, then straight back down by a good share of capacity: a spike.
            if quick and rise > 0 and -jump > 0.15 * capacity[topic.item]:
                seen["spike"] += 1
        last_value[topic.item] = (reading, jump)
    return seen


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Counter[str]:
    return recorded(tmp_path_factory.mktemp("on"), faults_off=False)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Counter[str]:
    return recorded(tmp_path_factory.mktemp("off"), faults_off=True)


@pytest.mark.parametrize("fault", ["duplicate", "out_of_order", "dropout", "spike"])
def test_fault_occurs_when_on(faulty: Counter[str], fault: str) -> None:
    assert faulty[fault] > 0


DEVICES = len({item.device for item in load_scenario(FAULTY).items})


def test_reboots_restart_seq_when_on(faulty: Counter[str]) -> None:
    assert faulty["seq_restart"] > DEVICES  # more than each device's first reading
    assert faulty["reboot_gap"] > 0


@pytest.mark.parametrize("fault", ["duplicate", "out_of_order", "dropout", "spike", "reboot_gap"])
def test_fault_absent_when_off(clean: Counter[str], fault: str) -> None:
    assert clean[fault] == 0


def test_seq_starts_once_per_device_when_off(clean: Counter[str]) -> None:
    assert clean["seq_restart"] == DEVICES  # each device's boot reading, only
