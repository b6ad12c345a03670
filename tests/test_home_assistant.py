"""Home Assistant discovery: the entities announced, and their templates rendered with
Jinja2 (as Home Assistant renders them) against real outlook and status payloads."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from edge_agent import protocol
from edge_agent.config import load_config
from edge_agent.errors import ConfigError
from edge_agent.home_assistant import discovery_messages
from tests.items import COFFEE, MILK, T0
from tests.test_agent_approval import write_config

HOUR = timedelta(hours=1)


def configs() -> dict[str, dict[str, Any]]:
    """Milk's entities, by the last level of their config topic's object id."""
    found = {}
    for message in discovery_messages("homeassistant", "home", [MILK, COFFEE]):
        parts = message.topic.split("/")
        if parts[3].startswith("milk_"):
            found[parts[3].removeprefix("milk_")] = json.loads(message.payload)
    return found


def render(template: str, payload: bytes) -> str:
    env = ImmutableSandboxedEnvironment()
    return env.from_string(template).render(value_json=json.loads(payload))


def outlook(**fields: Any) -> bytes:
    base = protocol.ItemOutlook(item="milk", ts=T0, unit="g", sensor="ok")
    return protocol.encode(msgspec.structs.replace(base, **fields))


def test_each_item_gets_four_entities_on_its_outlook_topic() -> None:
    messages = discovery_messages("homeassistant", "home", [MILK, COFFEE])
    topics = [message.topic for message in messages]
    assert topics[:4] == [
        "homeassistant/sensor/restock_home/milk_level/config",
        "homeassistant/sensor/restock_home/milk_run_out/config",
        "homeassistant/sensor/restock_home/milk_sensor/config",
        "homeassistant/binary_sensor/restock_home/milk_problem/config",
    ]
    payloads = [json.loads(message.payload) for message in messages]
    assert len({payload["unique_id"] for payload in payloads}) == 8
    milk = configs()
    assert {config["state_topic"] for config in milk.values()} == {
        "restock/v1/home/agent/items/milk"
    }
    assert milk["level"]["unit_of_measurement"] == "g"
    assert milk["sensor"]["options"] == [
        "waiting",
        "ok",
        "silent",
        "stuck",
        "below_scale",
        "offline",
    ]


def test_templates_read_the_outlook_as_home_assistant_would() -> None:
    """Level and run-out read off a forecast outlook; a fresh item's run-out is None
    (Home Assistant's unknown); a stuck sensor is a problem, with its note."""
    milk = configs()
    run_out = protocol.RunOutTimes(p10=T0 + 40 * HOUR, p50=T0 + 50 * HOUR, p90=T0 + 58 * HOUR)
    forecast = outlook(level=812.25, on_the_way=1000.0, rate_per_day=390.4, run_out=run_out)
    assert render(milk["level"]["value_template"], forecast) == "812.25"
    attributes = json.loads(render(milk["level"]["json_attributes_template"], forecast))
    assert attributes == {"on_the_way": 1000.0, "rate_per_day": 390.4}
    assert render(milk["run_out"]["value_template"], forecast) == "2026-01-07T02:00:00Z"
    quantiles = json.loads(render(milk["run_out"]["json_attributes_template"], forecast))
    assert quantiles == {"p10": "2026-01-06T16:00:00Z", "p90": "2026-01-07T10:00:00Z"}
    assert render(milk["problem"]["value_template"], forecast) == "OFF"

    waiting = outlook(sensor="waiting")
    assert render(milk["run_out"]["value_template"], waiting) == "None"
    assert json.loads(render(milk["run_out"]["json_attributes_template"], waiting)) == {}
    assert render(milk["problem"]["value_template"], waiting) == "OFF"

    stuck = outlook(sensor="stuck", since=T0 - 9 * HOUR, note="The shelf is stuck.")
    assert render(milk["sensor"]["value_template"], stuck) == "stuck"
    assert render(milk["problem"]["value_template"], stuck) == "ON"
    note = json.loads(render(milk["problem"]["json_attributes_template"], stuck))
    assert note == {"note": "The shelf is stuck."}


def test_entities_are_available_while_the_agent_is_online() -> None:
    """The availability template reads the agent's status, its Last Will included."""
    level = configs()["level"]
    assert level["availability_topic"] == "restock/v1/home/agent/status"
    online = protocol.encode(protocol.AgentStatus(state="online", ts=T0, pending_orders=1))
    offline = protocol.encode(protocol.AgentStatus(state="offline"))
    assert render(level["availability_template"], online) == level["payload_available"]
    assert render(level["availability_template"], offline) == level["payload_not_available"]


@pytest.mark.parametrize("prefix", ["home/+", "#", "/homeassistant", "ha//x", ""])
def test_config_refuses_a_prefix_that_is_no_topic_prefix(tmp_path: Path, prefix: str) -> None:
    path = write_config(tmp_path, f"home_assistant = {prefix!r}\n")
    with pytest.raises(ConfigError, match=r"agent.home_assistant .* must be an MQTT topic prefix"):
        load_config(path)


def test_config_takes_a_discovery_prefix(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'home_assistant = "homeassistant"\n')
    assert load_config(path).agent.home_assistant == "homeassistant"
