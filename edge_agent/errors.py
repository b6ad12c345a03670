"""The edge agent's exceptions: all derive from :class:`RestockError`."""

from __future__ import annotations


class RestockError(Exception):
    """Base class of every error raised by the edge agent and its shared modules."""


class ProtocolError(RestockError):
    """An MQTT topic or payload does not follow docs/protocol.md."""


class SignatureError(RestockError):
    """A Standard Webhooks signature is missing, malformed, wrong or stale."""


class ConfigError(RestockError):
    """A configuration file or setting is invalid; the message names the file and field."""


class BridgeError(RestockError):
    """The cloud bridge could not be reached or refused a request."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ApprovalError(RestockError):
    """An order cannot be approved or declined: unknown, or not awaiting approval."""
