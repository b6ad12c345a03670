"""The brain stays sans-I/O: its modules import no asyncio, MQTT, HTTP or SQLite."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = ["core", "estimator", "forecast", "policy", "budget", "catalog", "protocol", "errors"]
FORBIDDEN = {"asyncio", "aiomqtt", "paho", "aiohttp", "sqlite3", "sqlite_utils", "socket"}
PACKAGE = Path(__file__).parent.parent / "edge_agent"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def imported_closure(module: str, seen: set[str] | None = None) -> set[str]:
    """Everything ``edge_agent.<module>`` imports, following imports within edge_agent."""
    seen = set() if seen is None else seen
    found: set[str] = set()
    for name in imported_modules(PACKAGE / f"{module}.py"):
        found.add(name)
        if name.startswith("edge_agent."):
            inner = name.removeprefix("edge_agent.")
            if inner not in seen:
                seen.add(inner)
                found |= imported_closure(inner, seen)
    return found


@pytest.mark.parametrize("module", CORE)
def test_core_module_does_no_io(module: str) -> None:
    """Neither the module nor anything it imports from edge_agent pulls in an I/O library."""
    roots = {name.split(".")[0] for name in imported_closure(module)}
    assert roots & FORBIDDEN == set()
