"""The cloud bridge's exceptions: all derive from :class:`CloudBridgeError`.

Each error carries a stable, machine-readable ``code``; the HTTP layer (app.py) maps
error classes to status codes in one table, and the CLI turns them into messages.
"""

from __future__ import annotations


class CloudBridgeError(Exception):
    """Base class of every error raised by the cloud bridge."""

    code = "bridge_error"


class SettingsError(CloudBridgeError):
    """A bridge setting is invalid; the message names the setting."""

    code = "invalid_setting"


class DatabaseError(CloudBridgeError):
    """The bridge database cannot be opened or used."""

    code = "database_error"


class InvalidIdentifier(CloudBridgeError):
    """A household or device name is not a valid identifier (see edge_agent.catalog)."""

    code = "invalid_identifier"


class AuthenticationError(CloudBridgeError):
    """A request's signature is missing, wrong or stale, or its device is unknown."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class UnknownDevice(AuthenticationError):
    """No device is registered under this household and device name."""

    def __init__(self, household: str, device: str) -> None:
        super().__init__("unknown_device", f"device {household}/{device} is not registered")
        self.household = household
        self.device = device


class DeviceExists(CloudBridgeError):
    """A device is already registered under this household and device name."""

    code = "device_exists"


class MalformedRequest(CloudBridgeError):
    """A request is not JSON, or its headers are malformed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class InvalidPayload(CloudBridgeError):
    """A JSON body does not have the expected shape; ``field`` names where, if known."""

    code = "invalid_body"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class OrderNotFound(CloudBridgeError):
    """No order with this id exists, or it belongs to another household."""

    code = "order_not_found"


class IdempotencyConflict(CloudBridgeError):
    """A webhook-id was reused for a request with a different body."""

    code = "idempotency_conflict"


class IllegalTransition(CloudBridgeError):
    """An order cannot move from its current status to the requested one."""

    code = "illegal_transition"


class AdminAuthError(AuthenticationError):
    """An admin route was called without the admin token, or with a wrong one."""


class Forbidden(CloudBridgeError):
    """The caller is authenticated but may not do this (another household's data)."""

    code = "forbidden"


class HouseholdNotFound(CloudBridgeError):
    """No household is registered under this name."""

    code = "household_not_found"


class SubscriptionNotFound(CloudBridgeError):
    """The household has no subscription for this item."""

    code = "subscription_not_found"


class CancelWindowClosed(IllegalTransition):
    """The order has gone, or may have gone, to the shop: it can no longer be cancelled."""

    code = "cancel_window_closed"


class NotRedeliverable(IllegalTransition):
    """The order's webhook cannot be redelivered in its current status."""

    code = "not_redeliverable"
