"""The bridge's order endpoints: authentication, validation and idempotency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse

from cloud_bridge.app import MAX_BODY_BYTES, STORE
from cloud_bridge.payloads import MAX_EXPLANATION
from edge_agent.clock import SimulatedClock, SystemClock
from tests.test_bridge_support import (
    BridgeClient,
    Device,
    add_device,
    bridge_settings,
    order_json,
    running_bridge,
    signed,
)

# Nothing listens here: these tests never wait for the shop.
UNREACHABLE_SHOP = "http://127.0.0.1:9/webhooks"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[BridgeClient]:
    async with running_bridge(bridge_settings(tmp_path, UNREACHABLE_SHOP)) as client:
        yield client


@pytest.fixture
def fridge(client: BridgeClient) -> Device:
    return add_device(client, "home1", "fridge")


async def test_healthz(client: BridgeClient) -> None:
    """The health check answers 200 with a JSON status."""
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_unsigned_order_is_refused(client: BridgeClient, fridge: Device) -> None:
    """An order without Standard Webhooks headers gets 401 signature_missing, as JSON."""
    response = await client.post(
        "/v1/orders",
        data=order_json(("milk", 2)),
        headers={"restock-household": "home1", "restock-device": "fridge"},
    )
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "signature_missing"


async def test_tampered_order_is_refused(client: BridgeClient, fridge: Device) -> None:
    """A body changed after signing gets 401 signature_invalid."""
    headers = fridge.headers(order_json(("milk", 2)))
    response = await client.post("/v1/orders", data=order_json(("milk", 20)), headers=headers)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "signature_invalid"


async def test_stale_order_is_refused(tmp_path: Path) -> None:
    """A signature older than five minutes by the signing clock gets 401 signature_stale."""
    later = SimulatedClock(SystemClock().now() + timedelta(minutes=10), speed=1)
    settings = bridge_settings(tmp_path, UNREACHABLE_SHOP)
    async with running_bridge(settings, signing_clock=later) as client:
        fridge = add_device(client, "home1", "fridge")
        body = order_json(("milk", 2))
        response = await client.post("/v1/orders", data=body, headers=fridge.headers(body))
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "signature_stale"


async def test_unknown_device_is_refused(client: BridgeClient) -> None:
    """A device the bridge never registered gets 401 unknown_device."""
    body = order_json(("milk", 2))
    stranger = Device("home1", "toaster", "whsec_" + "QUFBQUFBQUFBQUFBQUFBQQ==")
    response = await client.post("/v1/orders", data=body, headers=stranger.headers(body))
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unknown_device"


async def test_signed_order_is_created(client: BridgeClient, fridge: Device) -> None:
    """A correctly signed order gets 201 and the order, status placed."""
    body = order_json(("milk", 2), explanation="milk runs out on Tuesday")
    headers = fridge.headers(body, msg_id="msg_first")
    response = await client.post("/v1/orders", data=body, headers=headers)
    assert response.status == 201
    order = await response.json()
    assert order["order_id"].startswith("ord_")
    assert response.headers["Location"] == f"/v1/orders/{order['order_id']}"
    assert {k: order[k] for k in ("request_id", "household", "device", "status")} == {
        "request_id": "msg_first",
        "household": "home1",
        "device": "fridge",
        "status": "placed",
    }
    assert order["lines"] == [{"item": "milk", "packs": 2}]
    assert order["explanation"] == "milk runs out on Tuesday"


async def test_order_times_come_from_the_business_clock(tmp_path: Path) -> None:
    """created_at is the business clock's time, not the wall clock's."""
    clock = SimulatedClock(datetime(2030, 1, 1, tzinfo=UTC), speed=1)
    async with running_bridge(bridge_settings(tmp_path, UNREACHABLE_SHOP), clock=clock) as client:
        fridge = add_device(client, "home1", "fridge")
        body = order_json(("milk", 2))
        response = await client.post("/v1/orders", data=body, headers=fridge.headers(body))
        assert (await response.json())["created_at"].startswith("2030-01-01T00:00")


async def test_device_found_by_secret_without_device_headers(
    client: BridgeClient, fridge: Device
) -> None:
    """Without restock-household/restock-device the signing secret identifies the device."""
    add_device(client, "home2", "washer")
    body = order_json(("milk", 2))
    response = await client.post("/v1/orders", data=body, headers=signed(fridge.secret, body))
    assert response.status == 201
    order = await response.json()
    assert (order["household"], order["device"]) == ("home1", "fridge")


async def test_repeated_webhook_id_returns_the_same_order(
    client: BridgeClient, fridge: Device
) -> None:
    """The same webhook-id from the same device gets 200 and the first order, not a new one."""
    body = order_json(("milk", 2))
    first = await client.post("/v1/orders", data=body, headers=fridge.headers(body, msg_id="m1"))
    again = await client.post("/v1/orders", data=body, headers=fridge.headers(body, msg_id="m1"))
    assert (first.status, again.status) == (201, 200)
    assert (await again.json())["order_id"] == (await first.json())["order_id"]
    assert client.app[STORE].db.table("orders").count == 1


async def test_reused_webhook_id_with_another_body_conflicts(
    client: BridgeClient, fridge: Device
) -> None:
    """The same webhook-id with a different order gets 409 idempotency_conflict."""
    milk, eggs = order_json(("milk", 2)), order_json(("eggs", 1))
    await client.post("/v1/orders", data=milk, headers=fridge.headers(milk, msg_id="m1"))
    response = await client.post("/v1/orders", data=eggs, headers=fridge.headers(eggs, msg_id="m1"))
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "idempotency_conflict"


async def test_invalid_order_names_the_field(client: BridgeClient, fridge: Device) -> None:
    """A body of the wrong shape gets 422 invalid_body naming the bad field."""
    body = b'{"lines": [{"item": "milk", "packs": "two"}]}'
    response = await client.post("/v1/orders", data=body, headers=fridge.headers(body))
    assert response.status == 422
    error = (await response.json())["error"]
    assert (error["code"], error["field"]) == ("invalid_body", "$.lines[0].packs")


async def test_missing_lines_names_the_field(client: BridgeClient, fridge: Device) -> None:
    """A body without lines gets 422 naming $.lines."""
    body = b'{"explanation": "nothing"}'
    response = await client.post("/v1/orders", data=body, headers=fridge.headers(body))
    assert response.status == 422
    assert (await response.json())["error"]["field"] == "$.lines"


async def test_too_long_explanation_is_refused(client: BridgeClient, fridge: Device) -> None:
    """An explanation over the limit gets 422 naming $.explanation."""
    body = order_json(("milk", 2), explanation="x" * (MAX_EXPLANATION + 1))
    response = await client.post("/v1/orders", data=body, headers=fridge.headers(body))
    assert response.status == 422
    assert (await response.json())["error"]["field"] == "$.explanation"


async def test_unknown_fields_are_ignored(client: BridgeClient, fridge: Device) -> None:
    """A newer agent's extra top-level field does not stop the order (forward compatible)."""
    body = b'{"lines": [{"item": "milk", "packs": 1}], "confirm_by": "2030-01-01T00:00:00Z"}'
    response = await client.post("/v1/orders", data=body, headers=fridge.headers(body))
    assert response.status == 201


async def test_non_json_body_is_refused(client: BridgeClient, fridge: Device) -> None:
    """A signed body that is not JSON gets 400 invalid_json."""
    body = b"milk please"
    response = await client.post("/v1/orders", data=body, headers=fridge.headers(body))
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_json"


async def placed_then_read(
    client: BridgeClient, placer: Device, reader: Device
) -> tuple[dict[str, Any], ClientResponse]:
    """An order of two milk placed by ``placer``, as created, and ``reader``'s GET of it."""
    body = order_json(("milk", 2))
    created = await (
        await client.post("/v1/orders", data=body, headers=placer.headers(body))
    ).json()
    response = await client.get(f"/v1/orders/{created['order_id']}", headers=reader.headers())
    return created, response


async def test_device_reads_its_households_order(tmp_path: Path) -> None:
    """Another device of the same household can read an order by id, as it was made.

    The order waits out a cancel window: with none, the forwarder's first attempt (the
    shop is unreachable) could change it between the two requests, and did once in CI.
    """
    settings = bridge_settings(tmp_path, UNREACHABLE_SHOP, cancel_window=3600)
    async with running_bridge(settings) as client:
        fridge, washer = (
            add_device(client, "home1", "fridge"),
            add_device(client, "home1", "washer"),
        )
        created, response = await placed_then_read(client, fridge, washer)
        assert response.status == 200
        assert await response.json() == created


async def test_other_household_cannot_read_an_order(client: BridgeClient, fridge: Device) -> None:
    """A device of another household gets 404 for an order that exists."""
    neighbour = add_device(client, "home2", "fridge")
    _, response = await placed_then_read(client, fridge, neighbour)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "order_not_found"


async def test_unknown_route_answers_json(client: BridgeClient) -> None:
    """Routing errors use the same JSON error shape."""
    response = await client.get("/v2/nothing")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_slow_path_is_bounded(
    client: BridgeClient, fridge: Device, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond SCAN_LIMIT devices, a request without device headers gets 401 asking for them."""
    monkeypatch.setattr("cloud_bridge.auth.SCAN_LIMIT", 1)
    add_device(client, "home2", "washer")
    body = order_json(("milk", 2))
    response = await client.post("/v1/orders", data=body, headers=signed(fridge.secret, body))
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "device_headers_required"


async def test_oversized_body_is_refused_as_json(client: BridgeClient, fridge: Device) -> None:
    """A body over the size limit gets 413 in the usual JSON error shape."""
    body = b" " * (MAX_BODY_BYTES + 1)
    response = await client.post("/v1/orders", data=body, headers=fridge.headers(body))
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "request_entity_too_large"
