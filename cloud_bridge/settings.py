"""The bridge's settings, validated once at start-up."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from yarl import URL

from cloud_bridge.errors import SettingsError
from edge_agent.errors import ConfigError, SignatureError
from edge_agent.mqtt_link import BrokerUrl
from edge_agent.webhooks import DEFAULT_TOLERANCE_SECONDS, secret_key

MEMORY = ":memory:"


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    """Everything the bridge needs to run; invalid values raise :class:`SettingsError`.

    Durations are seconds. ``signature_tolerance`` is real time; the forwarding retry
    delays are business-clock time, so retries keep pace with a simulated clock.
    """

    db_path: Path | str
    shop_url: str
    shop_secret: str
    host: str = "127.0.0.1"
    port: int = 8080
    mqtt_url: str | None = None
    signature_tolerance: float = DEFAULT_TOLERANCE_SECONDS
    forward_timeout: float = 10.0
    retry_initial: float = 30.0
    retry_max: float = 3600.0

    def __post_init__(self) -> None:
        _check_db_path(self.db_path)
        _check_http_url(self.shop_url)
        self.shop_key()
        if not self.host:
            raise SettingsError("host must not be empty")
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port must be 0-65535, got {self.port}")
        if self.mqtt_url is not None:
            self.mqtt_address()
        for name in ("signature_tolerance", "forward_timeout", "retry_initial", "retry_max"):
            _check_positive(name, getattr(self, name))
        if self.retry_max < self.retry_initial:
            raise SettingsError(
                f"retry_max ({self.retry_max}s) must be at least retry_initial"
                f" ({self.retry_initial}s)"
            )

    def shop_key(self) -> bytes:
        """The HMAC key inside ``shop_secret``."""
        try:
            return secret_key(self.shop_secret)
        except SignatureError as exc:
            raise SettingsError(
                f"shop secret is invalid: {exc} (expected whsec_ followed by base64)"
            ) from None

    def mqtt_address(self) -> BrokerUrl | None:
        """The broker to publish order updates to, or ``None`` when MQTT is off."""
        if self.mqtt_url is None:
            return None
        try:
            return BrokerUrl.parse(self.mqtt_url)
        except ConfigError as exc:
            raise SettingsError(f"mqtt_url: {exc}") from None


def _parse_url(name: str, value: str) -> URL:
    try:
        return URL(value)
    except ValueError as exc:
        raise SettingsError(f"{name} {value!r} is not a URL: {exc}") from None


def _check_http_url(value: str) -> None:
    url = _parse_url("shop_url", value)
    if url.scheme not in ("http", "https") or not url.host:
        raise SettingsError(f"shop_url must be an absolute http(s) URL, got {value!r}")


def _check_db_path(value: Path | str) -> None:
    if str(value) == MEMORY:
        return
    parent = Path(value).parent
    if not parent.is_dir():
        raise SettingsError(f"database directory {str(parent)!r} does not exist")


def _check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise SettingsError(f"{name} must be a positive number of seconds, got {value!r}")
