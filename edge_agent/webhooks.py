"""Standard Webhooks signing and verification, shared by agent, bridge and shop.

The signature is ``v1,`` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), where
``key`` is the base64-decoded part of a ``whsec_…`` secret. Headers are
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime

from edge_agent.errors import SignatureError

SECRET_PREFIX = "whsec_"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
#: Restock's own headers naming the signing device, so the bridge knows which key to use.
HOUSEHOLD_HEADER = "restock-household"
DEVICE_HEADER = "restock-device"
#: Requests signed further than this from the receiver's clock are refused as stale.
DEFAULT_TOLERANCE_SECONDS = 5 * 60


def new_secret() -> str:
    """A fresh random ``whsec_`` secret with a 32-byte key."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_…`` secret."""
    if not secret.startswith(SECRET_PREFIX):
        raise SignatureError(f"secret must start with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error:
        raise SignatureError("secret is not valid base64 after 'whsec_'") from None
    if len(key) < 16:
        raise SignatureError("secret key must be at least 16 bytes")
    return key


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,…`` signature of one message."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign(secret: str, msg_id: str, now: datetime, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``, signed at ``now``."""
    timestamp = int(now.timestamp())
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret_key(secret), msg_id, timestamp, body),
    }


def _required(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise SignatureError(f"missing {name} header")
    return value


def verify(
    key: bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> str:
    """Check a signed message and return its ``webhook-id``.

    Raises :class:`SignatureError` naming what is missing, malformed, stale or wrong.
    ``headers`` must look up names case-insensitively (aiohttp's and multidict's do).
    """
    msg_id = _required(headers, ID_HEADER)
    raw_timestamp = _required(headers, TIMESTAMP_HEADER)
    raw_signatures = _required(headers, SIGNATURE_HEADER)
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be integer seconds") from None
    age = now.timestamp() - timestamp
    if abs(age) > tolerance:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is {abs(age):.0f}s {'old' if age > 0 else 'in the future'},"
            f" more than the {tolerance:.0f}s allowed"
        )
    expected = signature(key, msg_id, timestamp, body).encode()
    for candidate in raw_signatures.split():
        if candidate.startswith("v1,") and hmac.compare_digest(candidate.encode(), expected):
            return msg_id
    raise SignatureError("no webhook-signature matches the body")
