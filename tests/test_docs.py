"""The documentation keeps up with the code: every command is described somewhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from edge_agent.cli import cli

ROOT = Path(__file__).parent.parent
DOCS = "\n".join(
    path.read_text() for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
)


def commands(group: click.Group, prefix: str) -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from commands(command, path)


ALL = list(commands(cli, "restock"))


@pytest.mark.parametrize(("path", "command"), ALL, ids=[path for path, _ in ALL])
def test_command_has_help_and_is_documented(path: str, command: click.Command) -> None:
    """Each command has help text, each option too, and the docs name the command."""
    assert command.help, f"{path} has no help text"
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{path} {param.opts[0]} has no help text"
    assert path in DOCS, f"{path} is not in README.md or docs/"
