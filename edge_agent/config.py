"""The agent's configuration file (TOML), validated once at start-up."""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

import msgspec

from edge_agent.budget import BudgetSettings
from edge_agent.catalog import ItemSpec, check_identifier, index_items
from edge_agent.errors import ConfigError, SignatureError
from edge_agent.mqtt_link import BrokerUrl
from edge_agent.webhooks import secret_key


class AgentSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The ``[agent]`` table."""

    household: str
    bridge_url: str
    secret: str
    broker: str = "mqtt://127.0.0.1:1883"
    device: str = "agent"
    database: str = "restock-agent.db"
    #: The most the household's orders may cost per calendar month, in item-price units.
    monthly_cap: float | None = None
    #: Orders costing more than this wait for `restock agent approve`.
    approve_above: float | None = None
    #: Home Assistant's MQTT discovery prefix: each item then shows there as entities.
    home_assistant: str | None = None

    def __post_init__(self) -> None:
        check_identifier(self.household, "household")
        check_identifier(self.device, "device")
        if not self.bridge_url.startswith(("http://", "https://")):
            raise ValueError(f"bridge_url {self.bridge_url!r} must start with http:// or https://")
        prefix = self.home_assistant
        if prefix is not None and not re.fullmatch(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*", prefix):
            raise ValueError(
                f"agent.home_assistant {prefix!r} must be an MQTT topic prefix such as"
                " 'homeassistant': letters, digits, _ and -, levels split by /"
            )
        for name in ("monthly_cap", "approve_above"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"agent.{name} must be a number greater than 0, got {value!r}")

    @property
    def budget(self) -> BudgetSettings | None:
        """The household's spending rules, or ``None`` when it has neither."""
        if self.monthly_cap is None and self.approve_above is None:
            return None
        return BudgetSettings(monthly_cap=self.monthly_cap, approve_above=self.approve_above)


class AgentConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A whole agent configuration file."""

    agent: AgentSection
    items: tuple[ItemSpec, ...]


def load_config(path: str | Path) -> AgentConfig:
    """Read and validate an agent configuration; errors name the file and the field."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    try:
        config = msgspec.convert(raw, AgentConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not config.items:
        raise ConfigError(f"{path}: [[items]] lists no items to look after")
    index_items(config.items, source=str(path))
    try:
        secret_key(config.agent.secret)
    except SignatureError as exc:
        raise ConfigError(f"{path}: agent.secret: {exc}") from None
    try:
        BrokerUrl.parse(config.agent.broker)
    except ConfigError as exc:
        raise ConfigError(f"{path}: agent.broker: {exc}") from None
    return config
