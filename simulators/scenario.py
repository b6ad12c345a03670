"""Scenario files: one simulated household and its items, loaded from TOML into frozen values.

A scenario has a ``[household]`` table (``id``, ``start``, ``days``, ``seed``), one
``[[items]]`` table per consumable, decoded straight into the shared
:class:`~edge_agent.catalog.ItemSpec`, and an optional ``[sensors]`` table that is kept raw
until the simulators learn sensor faults. A scenario is either wholly valid or refused
with a :class:`~simulators.errors.ScenarioError` naming the file and the field.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from edge_agent.catalog import ItemSpec, check_identifier
from simulators.errors import ScenarioError

#: The scenarios shipped with the package, such as ``demo.toml``.
SCENARIOS_DIR = Path(__file__).parent / "scenarios"

_ITEM_PATH = re.compile(r"at `\$\.items\[(\d+)\]")
_ROOT_PATH = " - at `$`"


class HouseholdSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Who is simulated, from when, for how long, and the seed that makes it repeatable."""

    id: str
    start: datetime
    days: int
    seed: int

    def __post_init__(self) -> None:
        check_identifier(self.id, "household id")
        if self.start.tzinfo is None:
            raise ValueError("start needs a timezone, e.g. 2026-01-05T00:00:00Z")
        msgspec.structs.force_setattr(self, "start", self.start.astimezone(UTC))
        if self.days < 1:
            raise ValueError(f"days must be at least 1, got {self.days}")

    @property
    def end(self) -> datetime:
        """The instant the scenario ends: ``start`` plus ``days``."""
        return self.start + timedelta(days=self.days)


class Scenario(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A whole, valid scenario: the household, its items, and the raw ``[sensors]`` table."""

    household: HouseholdSpec
    items: tuple[ItemSpec, ...]
    #: Not interpreted yet; a later issue gives sensors faults and drift.
    sensors: dict[str, Any] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.items:
            raise ValueError("a scenario needs at least one [[items]] entry")
        seen: set[str] = set()
        for index, item in enumerate(self.items):
            if item.id in seen:
                raise ValueError(f"item id {item.id!r} appears twice - at `$.items[{index}].id`")
            seen.add(item.id)
            if item.cycle_days is None:
                raise ValueError(
                    f"item {item.id!r} needs cycle_days (how many days one pack lasts"
                    f" this household) - at `$.items[{index}]`"
                )

    @property
    def start(self) -> datetime:
        return self.household.start

    @property
    def end(self) -> datetime:
        return self.household.end

    def item(self, item_id: str) -> ItemSpec:
        """The item with id ``item_id``; ``KeyError`` if the scenario has none."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate the scenario file at ``path``."""
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{source}: cannot read scenario: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{source}: scenario is not UTF-8 text: {exc.reason}") from None
    return parse_scenario(text, source=source)


def parse_scenario(text: str, *, source: str) -> Scenario:
    """Validate scenario TOML ``text``; ``source`` names it in error messages."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: invalid TOML: {exc}") from None
    try:
        return msgspec.convert(raw, Scenario, str_keys=True)
    except msgspec.ValidationError as exc:
        raise ScenarioError(f"{source}: {_describe(str(exc), raw)}") from None


def builtin_scenario(name: str) -> Path:
    """The path of a scenario shipped with the package, e.g. ``builtin_scenario("demo")``."""
    return SCENARIOS_DIR / f"{name}.toml"


def _describe(message: str, raw: dict[str, Any]) -> str:
    """Tidy msgspec's message and name the offending item by id when there is one."""
    if message.endswith(_ROOT_PATH) and "at `$." in message:
        # A check on the whole scenario that already names its own path.
        message = message.removesuffix(_ROOT_PATH)
    match = _ITEM_PATH.search(message)
    if match is None:
        return message
    item_id = _raw_item_id(raw, int(match.group(1)))
    if item_id is None or repr(item_id) in message:
        return message
    return f"{message} (item {item_id!r})"


def _raw_item_id(raw: dict[str, Any], index: int) -> str | None:
    items = raw.get("items")
    if not isinstance(items, list) or index >= len(items):
        return None
    entry = items[index]
    if not isinstance(entry, dict):
        return None
    item_id = entry.get("id")
    return item_id if isinstance(item_id, str) else None
