"""The bridge's OpenAPI 3.1 description, built from the same msgspec structs that decode
and encode its bodies, so the spec and the service cannot drift apart.

``GET /openapi.json`` serves it; ``restock bridge openapi`` prints it, and
docs/openapi.json keeps a copy (a test checks the copy is current).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

import msgspec

from cloud_bridge.payloads import (
    ActionRequest,
    AdminOrderBody,
    AdminOrderList,
    EndpointBody,
    ErrorBody,
    HouseholdBody,
    HouseholdLimits,
    OrderBody,
    OrderList,
    OrderRequest,
    StatusReport,
    SubscriptionBody,
    SubscriptionPatch,
    SubscriptionRequest,
)
from edge_agent.catalog import IDENTIFIER
from edge_agent.protocol import OrderStatus

Auth = Literal["public", "device", "device_or_admin", "admin", "shop"]

_STRUCTS: Final = (
    ActionRequest,
    AdminOrderBody,
    AdminOrderList,
    EndpointBody,
    ErrorBody,
    HouseholdBody,
    HouseholdLimits,
    OrderBody,
    OrderList,
    OrderRequest,
    StatusReport,
    SubscriptionBody,
    SubscriptionPatch,
    SubscriptionRequest,
)
_SECURITY: Final[dict[Auth, list[dict[str, list[str]]]]] = {
    "public": [],
    "device": [{"deviceSignature": []}],
    "device_or_admin": [{"deviceSignature": []}, {"adminToken": []}],
    "admin": [{"adminToken": []}],
    "shop": [{"shopSignature": []}],
}
_AUTH_ERRORS: Final[dict[Auth, tuple[int, ...]]] = {
    "public": (),
    "device": (400, 401),
    "device_or_admin": (400, 401),
    "admin": (401,),
    "shop": (400, 401),
}


@dataclass(frozen=True, slots=True)
class Operation:
    """One endpoint: what it takes and answers, and who may call it."""

    method: str
    path: str
    summary: str
    auth: Auth
    response: str | None
    status: int = 200
    request: str | None = None
    errors: tuple[int, ...] = ()
    query: tuple[str, ...] = ()
    request_optional: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


OPERATIONS: Final = (
    Operation("get", "/healthz", "Liveness check", "public", None),
    Operation("get", "/openapi.json", "This OpenAPI description", "public", None),
    Operation(
        "post",
        "/v1/orders",
        "Place an order (idempotent per device and webhook-id)",
        "device",
        "OrderBody",
        status=201,
        request="OrderRequest",
        errors=(409, 413, 422),
    ),
    Operation(
        "get",
        "/v1/orders",
        "The device's household's orders, newest first",
        "device",
        "OrderList",
        errors=(422,),
        query=("status", "limit"),
    ),
    Operation(
        "get",
        "/v1/orders/{order_id}",
        "One order of the caller's household",
        "device_or_admin",
        "OrderBody",
        errors=(404,),
    ),
    Operation(
        "post",
        "/v1/orders/{order_id}/cancel",
        "Cancel an order before it goes to the shop",
        "device_or_admin",
        "OrderBody",
        request="ActionRequest",
        request_optional=True,
        errors=(404, 409, 413, 422),
    ),
    Operation(
        "post",
        "/v1/orders/{order_id}/approve",
        "Approve an order that waits for approval",
        "device_or_admin",
        "OrderBody",
        request="ActionRequest",
        request_optional=True,
        errors=(404, 409, 413, 422),
    ),
    Operation(
        "get",
        "/v1/household",
        "The device's household: limits, this month's spending, subscriptions",
        "device",
        "HouseholdBody",
    ),
    Operation(
        "patch",
        "/v1/household/subscriptions/{item}",
        "Pause or resume a subscription, or skip its next order",
        "device",
        "SubscriptionBody",
        request="SubscriptionPatch",
        errors=(404, 413, 422),
    ),
    Operation(
        "post",
        "/v1/shop/orders/{order_id}/status",
        "The shop reports an order's status",
        "shop",
        "OrderBody",
        request="StatusReport",
        errors=(404, 409, 413, 422),
    ),
    Operation(
        "get",
        "/v1/admin/orders",
        "Every household's orders with their webhook state; dead_letter=true lists dead letters",
        "admin",
        "AdminOrderList",
        errors=(422,),
        query=("household", "status", "dead_letter", "limit"),
    ),
    Operation(
        "post",
        "/v1/admin/orders/{order_id}/redeliver",
        "Send an order's webhook again, with the same webhook-id",
        "admin",
        "AdminOrderBody",
        errors=(404, 409),
    ),
    Operation(
        "get",
        "/v1/admin/households/{household}",
        "A household's limits, spending and subscriptions",
        "admin",
        "HouseholdBody",
        errors=(404, 422),
    ),
    Operation(
        "put",
        "/v1/admin/households/{household}",
        "Create a household or set its monthly cap and auto-approve limit",
        "admin",
        "HouseholdBody",
        request="HouseholdLimits",
        errors=(400, 413, 422),
    ),
    Operation(
        "put",
        "/v1/admin/households/{household}/subscriptions/{item}",
        "Create or replace a subscription",
        "admin",
        "SubscriptionBody",
        request="SubscriptionRequest",
        errors=(400, 413, 422),
    ),
    Operation("get", "/v1/admin/endpoint", "The shop endpoint's state", "admin", "EndpointBody"),
    Operation(
        "post",
        "/v1/admin/endpoint/enable",
        "Forward to the shop again after a 410 disabled its endpoint",
        "admin",
        "EndpointBody",
    ),
    Operation("get", "/metrics", "Prometheus metrics", "admin", None),
)

_PATH_PARAMETERS: Final[dict[str, dict[str, Any]]] = {
    "order_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
    "household": {"type": "string", "pattern": IDENTIFIER.pattern},
    "item": {"type": "string", "pattern": IDENTIFIER.pattern},
}
_QUERY_PARAMETERS: Final[dict[str, dict[str, Any]]] = {
    "status": {"type": "string", "enum": list(get_args(OrderStatus))},
    "limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
    "household": {"type": "string", "pattern": IDENTIFIER.pattern},
    "dead_letter": {"type": "string", "enum": ["true", "false"]},
}
_ERROR_MEANING: Final = {
    400: "Malformed request: not JSON, or bad headers",
    401: "Not authenticated: signature or token missing, wrong or stale",
    404: "No such resource in the caller's household",
    409: "Conflict: illegal transition, closed cancel window, reused webhook-id",
    413: "Body too large",
    422: "Invalid body or parameter; `field` names it",
}

_DESCRIPTION: Final = """\
The Restock cloud bridge: edge agents place signed orders; the bridge holds them for a
cancel window, forwards them to the shop as Standard Webhooks, and relays the shop's
signed status reports back to the agents over MQTT. See docs/bridge.md.

Device requests are Standard Webhooks: `webhook-id`, `webhook-timestamp` (Unix seconds)
and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` with the
device's secret), plus `restock-household` and `restock-device`. Shop requests are
signed the same way with the shop secret. Admin requests carry
`Authorization: Bearer <admin token>`. Every error is JSON:
`{"error": {"code": ..., "message": ..., "field": ...}}`. Money is integer cents."""


def build_spec() -> dict[str, Any]:
    """The OpenAPI document, as a JSON-ready dict."""
    _, components = msgspec.json.schema_components(
        _STRUCTS, ref_template="#/components/schemas/{name}"
    )
    # OrderLine (edge_agent.protocol) checks these in __post_init__, which msgspec's
    # schema cannot see; say them here so the spec tells clients the whole rule.
    line = components["OrderLine"]["properties"]
    line["item"] |= {"pattern": IDENTIFIER.pattern}
    line["packs"] |= {"minimum": 1}
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Restock cloud bridge", "version": "1.0.0", "description": _DESCRIPTION},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": _security_schemes()},
    }


def _operation(operation: Operation) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _PATH_PARAMETERS[name]}
        for name in _path_names(operation.path)
    ] + [
        {"name": name, "in": "query", "required": False, "schema": _QUERY_PARAMETERS[name]}
        for name in operation.query
    ]
    spec: dict[str, Any] = {
        "operationId": _operation_id(operation),
        "summary": operation.summary,
        "security": _SECURITY[operation.auth],
        "responses": _responses(operation),
    }
    if parameters:
        spec["parameters"] = parameters
    if operation.request is not None:
        spec["requestBody"] = {
            "required": not operation.request_optional,
            "content": {"application/json": {"schema": _ref(operation.request)}},
        }
    return spec


def _responses(operation: Operation) -> dict[str, Any]:
    if operation.path == "/metrics":
        success: dict[str, Any] = {"content": {"text/plain": {"schema": {"type": "string"}}}}
    elif operation.response is None:
        success = {"content": {"application/json": {"schema": {"type": "object"}}}}
    else:
        success = {"content": {"application/json": {"schema": _ref(operation.response)}}}
    responses: dict[str, Any] = {
        str(operation.status): {"description": "Success", **success},
    }
    if operation.path == "/v1/orders" and operation.method == "post":
        responses["200"] = {
            "description": "The same order again: this webhook-id was already used",
            **success,
        }
    codes = sorted(set(_AUTH_ERRORS[operation.auth]) | set(operation.errors))
    for code in codes:
        responses[str(code)] = {
            "description": _ERROR_MEANING[code],
            "content": {"application/json": {"schema": _ref("ErrorBody")}},
        }
    return responses


def _security_schemes() -> dict[str, Any]:
    return {
        "deviceSignature": {
            "type": "apiKey",
            "in": "header",
            "name": "webhook-signature",
            "description": "Standard Webhooks signature with the device's secret; also send"
            " webhook-id, webhook-timestamp, restock-household and restock-device.",
        },
        "shopSignature": {
            "type": "apiKey",
            "in": "header",
            "name": "webhook-signature",
            "description": "Standard Webhooks signature with the shop secret; also send"
            " webhook-id (applied once) and webhook-timestamp.",
        },
        "adminToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "The bridge's admin token (restock bridge serve --admin-token).",
        },
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _operation_id(operation: Operation) -> str:
    words = [p.strip("{}") for p in operation.path.split("/") if p and p != "v1"]
    return "_".join([operation.method, *words]).replace(".", "_").replace("-", "_")


@functools.cache
def spec_bytes() -> bytes:
    """The spec as the file docs/openapi.json holds it: indented JSON and a newline."""
    return (json.dumps(build_spec(), indent=2) + "\n").encode()
