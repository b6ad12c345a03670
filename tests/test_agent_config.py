"""Agent configuration files: a bad one is refused at start-up, naming the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_agent.cli import cli
from edge_agent.config import load_config
from edge_agent.errors import ConfigError
from edge_agent.webhooks import new_secret

EXAMPLE = Path(__file__).parent.parent / "deploy" / "pi" / "agent.example.toml"


def config_text(secret: str) -> str:
    text = EXAMPLE.read_text()
    return text.replace("whsec_REPLACE_WITH_THE_SECRET_FROM_restock_bridge_add-device", secret)


def test_example_with_a_real_secret_loads(tmp_path: Path) -> None:
    """The shipped example is valid once its secret is filled in."""
    path = tmp_path / "agent.toml"
    path.write_text(config_text(new_secret()))
    config = load_config(path)
    assert config.agent.household == "home"
    assert [item.id for item in config.items] == ["milk"]


def test_example_as_shipped_is_refused_for_its_placeholder_secret() -> None:
    """The placeholder secret is not a secret: the error says which field to fix."""
    with pytest.raises(ConfigError, match=r"agent\.example\.toml: agent\.secret: "):
        load_config(EXAMPLE)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("pack_size = 1000", 'pack_size = "big"'), r"\$\.items\[0\]\.pack_size"),
        (("cycle_days = 2", "cycle_days = 2\ncolour = 3"), r"unknown field `colour`"),
        (('household = "home"', 'household = "My Home"'), "household 'My Home'"),
        (('broker = "mqtt://127.0.0.1:1883"', 'broker = "http://x"'), "agent.broker"),
        (("capacity = 4000", "capacity = 500"), "pack_size must not exceed capacity"),
        (("[agent]", "[agent\n"), "invalid TOML"),
    ],
)
def test_bad_field_is_named(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    """Each kind of mistake is reported with the file and what is wrong."""
    path = tmp_path / "agent.toml"
    text = config_text(new_secret())
    assert change[0] in text
    path.write_text(text.replace(*change, 1))
    with pytest.raises(ConfigError, match=message) as raised:
        load_config(path)
    assert str(path) in str(raised.value)


def test_agent_run_with_a_bad_config_exits_with_a_clear_error(tmp_path: Path) -> None:
    """`restock agent run` stops before starting anything, with one line and no traceback."""
    path = tmp_path / "agent.toml"
    path.write_text(config_text("whsec_short"))
    result = CliRunner().invoke(cli, ["agent", "run", "--config", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}: agent.secret")
    assert "Traceback" not in result.output


def test_check_config_reports_what_it_configures(tmp_path: Path) -> None:
    """`restock agent check-config` names the household and items of a good file."""
    path = tmp_path / "agent.toml"
    path.write_text(config_text(new_secret()))
    result = CliRunner().invoke(cli, ["agent", "check-config", str(path)])
    assert result.exit_code == 0, result.output
    assert "household home, items: milk" in result.output
