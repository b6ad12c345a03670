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
#: The cancel window ``restock bridge serve`` uses unless told otherwise: two hours.
#: (Amazon's Dash Replenishment and Brother's Refresh give a day: 86400.)
SERVE_CANCEL_WINDOW = 2 * 3600.0
#: An admin token shorter than this is refused: it must not be guessable.
MIN_ADMIN_TOKEN = 16


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    """Everything the bridge needs to run; invalid values raise :class:`SettingsError`.

    Durations are seconds. ``signature_tolerance``, ``forward_timeout`` and ``poll`` are
    real time; the cancel window and the retry delays are business-clock time, so they
    keep pace with a simulated clock.

    Library defaults keep the bridge as simple as its first release, which the demo
    relies on: orders go out at once (``cancel_window=0``) and items without a
    subscription are ordered unpriced (``require_subscription=False``). ``restock bridge
    serve`` defaults to a production setting instead: a two-hour window and required
    subscriptions. ``admin_token=None`` turns the admin routes off.
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
    #: Attempts before an order's webhook is dead-lettered: about a day at the defaults.
    max_attempts: int = 40
    #: Webhooks in flight to the shop at once.
    forward_concurrency: int = 8
    cancel_window: float = 0.0
    require_subscription: bool = False
    admin_token: str | None = None
    #: How often the queues are re-read for changes made by other processes (the CLI).
    poll: float = 1.0

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
        for name in (
            "signature_tolerance",
            "forward_timeout",
            "retry_initial",
            "retry_max",
            "poll",
        ):
            _check_positive(name, getattr(self, name))
        if not (math.isfinite(self.cancel_window) and self.cancel_window >= 0):
            raise SettingsError(
                f"cancel_window must be 0 or more seconds, got {self.cancel_window!r}"
            )
        for name in ("max_attempts", "forward_concurrency"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.admin_token is not None and len(self.admin_token) < MIN_ADMIN_TOKEN:
            raise SettingsError(
                f"admin token must be at least {MIN_ADMIN_TOKEN} characters; generate one"
                " with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
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
