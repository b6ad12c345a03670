"""Home Assistant MQTT discovery: each item's outlook as ready-made entities.

Home Assistant creates an entity for every retained config message under its discovery
prefix (``homeassistant`` unless changed there). The agent publishes, for each item,
four entities that read the item's outlook topic (``docs/protocol.md``): its level, its
median run-out, its sensor's state, and a problem flag for automations to notify on.
They are available while the agent's status says ``online``. Pure: this module builds
the messages; the service publishes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, get_args

from edge_agent import protocol
from edge_agent.catalog import ItemSpec

#: What a sensor state is, for Home Assistant's ``enum`` device class.
SENSOR_STATES = list(get_args(protocol.SensorState))


@dataclass(frozen=True, slots=True)
class DiscoveryMessage:
    """One retained config message for Home Assistant."""

    topic: str
    payload: bytes


def _software() -> str:
    try:
        return version("restock")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def discovery_messages(
    prefix: str, household: str, items: list[ItemSpec]
) -> list[DiscoveryMessage]:
    """The config messages announcing ``items`` of ``household`` under ``prefix``."""
    device = {
        "identifiers": [f"restock_{household}"],
        "name": f"Restock {household}",
        "manufacturer": "Restock",
        "model": "edge agent",
        "sw_version": _software(),
    }
    availability = {
        "availability_topic": protocol.agent_status_topic(household),
        "availability_template": "{{ value_json.state }}",
        "payload_available": "online",
        "payload_not_available": "offline",
    }
    messages = []
    for item in items:
        state_topic = protocol.item_outlook_topic(household, item.id)
        common = {"state_topic": state_topic, "device": device, **availability}
        for (component, key), config in zip(ENTITIES, _configs(item, state_topic), strict=True):
            unique_id = f"restock_{household}_{item.id}_{key}"
            payload = {"unique_id": unique_id, **common, **config}
            topic = _config_topic(prefix, household, item.id, component, key)
            messages.append(DiscoveryMessage(topic, json.dumps(payload).encode()))
    return messages


def removal_messages(prefix: str, household: str, item_id: str) -> list[DiscoveryMessage]:
    """The messages that take an item gone from the catalog out of Home Assistant: an
    empty retained config removes its entity."""
    return [
        DiscoveryMessage(_config_topic(prefix, household, item_id, component, key), b"")
        for component, key in ENTITIES
    ]


#: (component, key) of the entities each item gets, in the order :func:`_configs` gives
#: their configs.
ENTITIES = (
    ("sensor", "level"),
    ("sensor", "run_out"),
    ("sensor", "sensor"),
    ("binary_sensor", "problem"),
)


def _config_topic(prefix: str, household: str, item_id: str, component: str, key: str) -> str:
    return f"{prefix}/{component}/restock_{household}/{item_id}_{key}/config"


def _configs(item: ItemSpec, state_topic: str) -> list[dict[str, Any]]:
    """The config of each entity an item gets, in the order of :data:`ENTITIES`."""

    def attributes(*fields: str) -> dict[str, str]:
        pairs = ", ".join(f"'{field}': value_json.{field}" for field in fields)
        return {
            "json_attributes_topic": state_topic,
            "json_attributes_template": f"{{{{ {{{pairs}}} | tojson }}}}",
        }

    return [
        {
            "name": f"{item.name} level",
            "value_template": "{{ value_json.level }}",
            "unit_of_measurement": item.unit,
            "state_class": "measurement",
            **attributes("on_the_way", "rate_per_day"),
        },
        {
            "name": f"{item.name} runs out",
            "device_class": "timestamp",
            # "None" is Home Assistant's word for no value: unknown until forecast.
            "value_template": "{{ value_json.run_out.p50 if value_json.run_out else None }}",
            "json_attributes_topic": state_topic,
            "json_attributes_template": (
                "{{ {'p10': value_json.run_out.p10, 'p90': value_json.run_out.p90}"
                " | tojson if value_json.run_out else '{}' }}"
            ),
        },
        {
            "name": f"{item.name} sensor",
            "device_class": "enum",
            "options": SENSOR_STATES,
            "value_template": "{{ value_json.sensor }}",
            "entity_category": "diagnostic",
            **attributes("since", "note"),
        },
        {
            "name": f"{item.name} sensor problem",
            "device_class": "problem",
            "value_template": ("{{ 'OFF' if value_json.sensor in ('ok', 'waiting') else 'ON' }}"),
            **attributes("note"),
        },
    ]
