"""Bridge settings are validated once, with errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud_bridge.errors import CloudBridgeError, SettingsError
from cloud_bridge.settings import BridgeSettings
from edge_agent.mqtt_link import BrokerUrl
from edge_agent.webhooks import new_secret


def _settings(tmp_path: Path, **overrides: object) -> BridgeSettings:
    values: dict[str, object] = {
        "db_path": tmp_path / "bridge.db",
        "shop_url": "http://127.0.0.1:9000/webhooks",
        "shop_secret": new_secret(),
    }
    values.update(overrides)
    return BridgeSettings(**values)  # type: ignore[arg-type]


def test_valid_settings_keep_their_defaults(tmp_path: Path) -> None:
    """Host, port and tolerance default to loopback, 8080 and five minutes."""
    settings = _settings(tmp_path)
    assert (settings.host, settings.port, settings.signature_tolerance) == ("127.0.0.1", 8080, 300)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"shop_secret": "not-a-secret"}, "shop secret is invalid"),
        ({"shop_secret": "whsec_***"}, "not valid base64"),
        ({"shop_url": "shop.example"}, "shop_url must be an absolute http(s) URL"),
        ({"mqtt_url": "http://broker"}, "mqtt_url: broker URL .http://broker. must look like"),
        ({"port": 70000}, "port must be 0-65535"),
        ({"retry_initial": 0}, "retry_initial must be a positive number"),
    ],
)
def test_invalid_setting_is_named(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    """Each bad setting raises SettingsError, a CloudBridgeError, naming what is wrong."""
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _settings(tmp_path, **overrides)
    assert issubclass(SettingsError, CloudBridgeError)


def test_missing_database_directory_is_refused(tmp_path: Path) -> None:
    """A database in a directory that does not exist is refused up front."""
    with pytest.raises(SettingsError, match="does not exist"):
        _settings(tmp_path, db_path=tmp_path / "nowhere" / "bridge.db")


def test_mqtt_url_gives_host_and_default_port(tmp_path: Path) -> None:
    """mqtt://host without a port means port 1883."""
    assert _settings(tmp_path, mqtt_url="mqtt://broker").mqtt_address() == BrokerUrl("broker", 1883)
