"""Who may do what: a device only in its own household, the admin only with the token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cloud_bridge.app import STORE
from tests.test_bridge_support import (
    ADMIN,
    BridgeClient,
    act,
    add_device,
    bridge_settings,
    place,
    running_bridge,
    subscribe,
)

UNREACHABLE_SHOP = "http://127.0.0.1:9/webhooks"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[BridgeClient]:
    settings = bridge_settings(tmp_path, UNREACHABLE_SHOP, cancel_window=3600)
    async with running_bridge(settings) as client:
        yield client


async def test_device_cannot_read_or_act_on_another_households_order(
    client: BridgeClient,
) -> None:
    """home2's device gets 404 reading, cancelling or approving home1's order; it is intact."""
    home1 = add_device(client, "home1", "agent")
    home2 = add_device(client, "home2", "agent")
    order_id = (await place(client, home1, ("milk", 1)))["order_id"]
    read = await client.get(f"/v1/orders/{order_id}", headers=home2.headers())
    cancel = await act(client, order_id, "cancel", home2)
    approve = await act(client, order_id, "approve", home2)
    assert read.status == 404
    assert (await read.json())["error"]["code"] == "order_not_found"
    assert [status for status, _ in (cancel, approve)] == [404, 404]
    assert client.app[STORE].get_order(order_id).status == "placed"


async def test_device_lists_only_its_own_household(client: BridgeClient) -> None:
    """GET /v1/orders shows a device its household's orders and no one else's."""
    home1 = add_device(client, "home1", "agent")
    home2 = add_device(client, "home2", "agent")
    mine = (await place(client, home1, ("milk", 1)))["order_id"]
    await place(client, home2, ("eggs", 1))
    response = await client.get("/v1/orders", headers=home1.headers())
    assert [o["order_id"] for o in (await response.json())["orders"]] == [mine]


async def test_device_cannot_change_another_households_subscription(
    client: BridgeClient,
) -> None:
    """A device's PATCH names an item of its own household only: home1's stays as it was."""
    subscribe(client, "home1", "milk")
    home2 = add_device(client, "home2", "agent")
    body = b'{"enabled": false}'
    response = await client.patch(
        "/v1/household/subscriptions/milk", data=body, headers=home2.headers(body)
    )
    assert response.status == 404
    assert client.app[STORE].accounts.subscription("home1", "milk").enabled


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "admin_token_missing"),
        ({"Authorization": "Bearer wrong-token-wrong-token"}, "admin_token_invalid"),
        ({"Authorization": "Basic abc"}, "admin_token_invalid"),
    ],
)
async def test_admin_routes_need_the_token(
    client: BridgeClient, headers: dict[str, str], code: str
) -> None:
    """Admin routes and /metrics refuse a missing or wrong token with 401 and a code."""
    for path in ("/v1/admin/orders", "/metrics", "/v1/admin/endpoint"):
        response = await client.get(path, headers=headers)
        assert response.status == 401
        assert (await response.json())["error"]["code"] == code


async def test_device_signature_does_not_open_admin_routes(client: BridgeClient) -> None:
    """A device's valid signature is no admin token."""
    home1 = add_device(client, "home1", "agent")
    response = await client.get("/v1/admin/orders", headers=home1.headers())
    assert response.status == 401


async def test_admin_routes_are_off_without_a_token(tmp_path: Path) -> None:
    """A bridge started without an admin token answers admin routes admin_disabled."""
    settings = bridge_settings(tmp_path, UNREACHABLE_SHOP, admin_token=None)
    async with running_bridge(settings) as client:
        response = await client.get("/v1/admin/orders", headers=ADMIN)
        code = (await response.json())["error"]["code"]
    assert (response.status, code) == (401, "admin_disabled")


async def test_admin_sets_limits_and_subscriptions(client: BridgeClient) -> None:
    """PUT household and subscription, then GET the household back."""
    limits = await client.put(
        "/v1/admin/households/home9",
        json={"monthly_cap_cents": 5000, "auto_approve_cents": 1000},
        headers=ADMIN,
    )
    sub = await client.put(
        "/v1/admin/households/home9/subscriptions/coffee",
        json={"sku": "BEANS-1KG", "pack": "1 kg bag", "price_cents": 1899, "cadence_days": 21},
        headers=ADMIN,
    )
    household = await (await client.get("/v1/admin/households/home9", headers=ADMIN)).json()
    assert (limits.status, sub.status) == (200, 200)
    assert household["monthly_cap_cents"] == 5000
    assert household["subscriptions"][0]["sku"] == "BEANS-1KG"
    assert household["subscriptions"][0]["cadence_days"] == 21


async def test_admin_input_is_validated(client: BridgeClient) -> None:
    """A negative price is a 422 naming the field."""
    response = await client.put(
        "/v1/admin/households/home9/subscriptions/coffee",
        json={"sku": "B", "pack": "bag", "price_cents": -1},
        headers=ADMIN,
    )
    error = (await response.json())["error"]
    assert (response.status, error["code"], error["field"]) == (
        422,
        "invalid_body",
        "$.price_cents",
    )


async def test_unknown_household_is_not_found(client: BridgeClient) -> None:
    """GET of a household never registered is 404 household_not_found."""
    response = await client.get("/v1/admin/households/nobody", headers=ADMIN)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "household_not_found"


async def test_bad_query_is_a_clear_422(client: BridgeClient) -> None:
    """A limit out of range or an unknown status is refused naming the parameter."""
    home1 = add_device(client, "home1", "agent")
    for query, field in (("limit=0", "limit"), ("status=lost", "status")):
        response = await client.get(f"/v1/orders?{query}", headers=home1.headers())
        assert response.status == 422
        assert (await response.json())["error"]["field"] == field


async def test_rotated_secret_replaces_the_old_one(client: BridgeClient) -> None:
    """After rotate_secret the old secret is refused and the new one accepted."""
    old = add_device(client, "home1", "agent")
    new_secret = client.app[STORE].rotate_secret("home1", "agent")
    refused = await client.get("/v1/orders", headers=old.headers())
    accepted = await client.get(
        "/v1/orders", headers=type(old)("home1", "agent", new_secret).headers()
    )
    assert (refused.status, accepted.status) == (401, 200)
