"""Who sent a request: Standard Webhooks signatures for devices and for the shop.

A device names itself with the ``restock-household`` and ``restock-device`` headers and
signs with its own secret. Without those headers the bridge tries each registered
secret in turn (the slow path): fine for a handful of devices, so it is refused
beyond :data:`SCAN_LIMIT` devices. Signatures are checked against a real-time clock:
the replay window is real time even when the business clock runs fast.

Each failure raises :class:`AuthenticationError` with a stable code:
``signature_missing``, ``signature_invalid``, ``signature_stale``, ``unknown_device``
or ``device_headers_required``.

Admin routes take ``Authorization: Bearer <admin token>`` instead; their failures are
``admin_disabled``, ``admin_token_missing`` and ``admin_token_invalid``.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from cloud_bridge.errors import (
    AdminAuthError,
    AuthenticationError,
    MalformedRequest,
    UnknownDevice,
)
from cloud_bridge.store import Store
from edge_agent.catalog import IDENTIFIER
from edge_agent.errors import SignatureError
from edge_agent.webhooks import (
    DEVICE_HEADER,
    HOUSEHOLD_HEADER,
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    secret_key,
    verify,
)

#: The slow path tries at most this many device secrets per request.
SCAN_LIMIT: Final = 256
#: A webhook-id is stored as an idempotency key, so its length is capped.
MAX_WEBHOOK_ID: Final = 128


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """The registered device whose secret signed a request."""

    household: str
    device: str


def authenticate_device(
    store: Store,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    tolerance: float,
) -> tuple[DeviceIdentity, str]:
    """The device that signed ``body``, and the request's ``webhook-id``."""
    check_freshness(headers, now=now, tolerance=tolerance)
    household = headers.get(HOUSEHOLD_HEADER)
    device = headers.get(DEVICE_HEADER)
    if household is None and device is None:
        return _scan(store, headers, body, now=now, tolerance=tolerance)
    if not household or not device:
        raise MalformedRequest(
            "invalid_headers",
            f"send both {HOUSEHOLD_HEADER} and {DEVICE_HEADER} headers, or neither",
        )
    if not (IDENTIFIER.match(household) and IDENTIFIER.match(device)):
        raise UnknownDevice(household, device)
    secret = store.device_secret(household, device)
    return DeviceIdentity(household, device), _verify(secret, headers, body, now, tolerance)


def authenticate_shop(
    shop_secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    tolerance: float,
) -> str:
    """Check the shop signed ``body``; return the message's ``webhook-id``."""
    check_freshness(headers, now=now, tolerance=tolerance)
    return _verify(shop_secret, headers, body, now, tolerance)


def check_freshness(headers: Mapping[str, str], *, now: datetime, tolerance: float) -> None:
    """Refuse unsigned, malformed or stale requests before any secret is looked up."""
    for name in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER):
        if not headers.get(name):
            raise AuthenticationError(
                "signature_missing", f"missing {name} header: sign requests as Standard Webhooks"
            )
    if len(headers[ID_HEADER]) > MAX_WEBHOOK_ID:
        raise MalformedRequest(
            "invalid_headers", f"{ID_HEADER} must be at most {MAX_WEBHOOK_ID} characters"
        )
    raw = headers[TIMESTAMP_HEADER].strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 12):
        raise AuthenticationError(
            "signature_invalid", f"{TIMESTAMP_HEADER} must be integer Unix seconds"
        )
    timestamp = int(raw)
    age = now.timestamp() - timestamp
    if abs(age) > tolerance:
        raise AuthenticationError(
            "signature_stale",
            f"{TIMESTAMP_HEADER} is {abs(age):.0f}s {'old' if age > 0 else 'in the future'};"
            f" at most {tolerance:.0f}s is allowed (is the sender's clock right?)",
        )


def _verify(
    secret: str, headers: Mapping[str, str], body: bytes, now: datetime, tolerance: float
) -> str:
    try:
        return verify(secret_key(secret), headers, body, now=now, tolerance=tolerance)
    except SignatureError as exc:
        raise AuthenticationError("signature_invalid", str(exc)) from None


def _scan(
    store: Store, headers: Mapping[str, str], body: bytes, *, now: datetime, tolerance: float
) -> tuple[DeviceIdentity, str]:
    devices = store.devices(limit=SCAN_LIMIT + 1)
    if len(devices) > SCAN_LIMIT:
        raise AuthenticationError(
            "device_headers_required",
            f"more than {SCAN_LIMIT} devices are registered:"
            f" send {HOUSEHOLD_HEADER} and {DEVICE_HEADER} headers",
        )
    for candidate in devices:
        try:
            webhook_id = _verify(candidate.secret, headers, body, now, tolerance)
        except AuthenticationError:
            continue
        return DeviceIdentity(candidate.household, candidate.device), webhook_id
    raise AuthenticationError(
        "signature_invalid", "no registered device's secret verifies this signature"
    )


#: The header admin routes read their token from, as ``Bearer <token>``.
AUTHORIZATION: Final = "Authorization"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: a household's device, or the admin (``household is None``)."""

    household: str | None
    device: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.household is None

    def describe(self) -> str:
        return "the admin" if self.household is None else f"{self.household}/{self.device}"


ADMIN: Final = Caller(None)


def authenticate_admin(admin_token: str | None, headers: Mapping[str, str]) -> Caller:
    """Check the ``Authorization: Bearer`` token of an admin request."""
    if admin_token is None:
        raise AdminAuthError(
            "admin_disabled", "admin routes are off: start the bridge with an admin token"
        )
    value = headers.get(AUTHORIZATION)
    if not value:
        raise AdminAuthError("admin_token_missing", "send Authorization: Bearer <admin token>")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), admin_token.encode()
    ):
        raise AdminAuthError("admin_token_invalid", "the admin token is wrong")
    return ADMIN
