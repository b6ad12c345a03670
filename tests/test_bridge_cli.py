"""``restock bridge``: a thin CLI whose failures are clear messages, not tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import click
from click.testing import CliRunner

from cloud_bridge.cli import bridge
from edge_agent.webhooks import new_secret, secret_key


def _add_device(db: Path, device: str = "fridge") -> click.testing.Result:
    args = ["add-device", "--db", str(db), "--household", "home1", "--device", device]
    return CliRunner().invoke(bridge, args)


def test_add_device_prints_json_with_a_secret(tmp_path: Path) -> None:
    """add-device prints the device and a fresh whsec_ secret as JSON."""
    result = _add_device(tmp_path / "bridge.db")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert (printed["household"], printed["device"]) == ("home1", "fridge")
    assert len(secret_key(printed["secret"])) == 32


def test_add_device_refuses_a_duplicate(tmp_path: Path) -> None:
    """Registering the same device twice fails with a message, not a traceback."""
    _add_device(tmp_path / "bridge.db")
    result = _add_device(tmp_path / "bridge.db")
    assert result.exit_code == 1
    assert "device home1/fridge is already registered" in result.output


def test_add_device_refuses_a_bad_name(tmp_path: Path) -> None:
    """A device name that cannot be a topic level is refused with the rule."""
    result = _add_device(tmp_path / "bridge.db", device="Fridge/1")
    assert result.exit_code == 1
    assert "must be 1-64 characters" in result.output


def test_serve_refuses_a_bad_shop_secret(tmp_path: Path) -> None:
    """serve with a shop secret that is not whsec_ base64 exits non-zero, saying so."""
    args = ["serve", "--db", str(tmp_path / "b.db"), "--shop-url", "http://127.0.0.1:9/"]
    result = CliRunner().invoke(bridge, [*args, "--shop-secret", "hunter2"])
    assert result.exit_code == 1
    assert "shop secret is invalid" in result.output
    assert "whsec_" in result.output


def test_serve_refuses_a_bad_shop_url(tmp_path: Path) -> None:
    """serve with a shop URL that is not http(s) exits non-zero, saying so."""
    args = ["serve", "--db", str(tmp_path / "b.db"), "--shop-secret", new_secret()]
    result = CliRunner().invoke(bridge, [*args, "--shop-url", "ftp://shop"])
    assert result.exit_code == 1
    assert "shop_url must be an absolute http(s) URL" in result.output


def test_every_command_and_option_has_help() -> None:
    """Each command and each of its options documents itself."""
    for name, command in bridge.commands.items():
        assert command.help, name
        for param in command.params:
            assert isinstance(param, click.Option)
            assert param.help, f"{name} {param.name}"
