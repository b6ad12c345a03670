"""The order lifecycle through the real app: intake verdicts, approval, the cancel window."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from cloud_bridge.app import FORWARDER, SETTINGS, STORE
from cloud_bridge.store import OrderEvent, Store
from edge_agent.clock import Clock, SimulatedClock, SystemClock
from tests.test_bridge_support import (
    SHOP_SECRET,
    BridgeClient,
    Device,
    FakeShop,
    act,
    add_device,
    bridge_settings,
    fake_shop,
    place,
    running_bridge,
    set_limits,
    signed,
    subscribe,
    wait_until,
)

HOUR = 3600.0


@dataclass
class Bridge:
    """A running bridge, its fake shop, and household home1's fridge."""

    client: BridgeClient
    shop: FakeShop
    fridge: Device
    db: Path

    def status(self, order_id: str) -> str:
        """The order's status in the database (also once the bridge has stopped)."""
        with Store(self.db) as store:
            return store.get_order(order_id).status

    def events(self, order_id: str) -> list[OrderEvent]:
        with Store(self.db) as store:
            return store.events(order_id)

    def trail(self, order_id: str) -> list[str]:
        return [event.status for event in self.events(order_id)]

    def causes(self, order_id: str) -> list[str]:
        return [event.cause for event in self.events(order_id)]


@asynccontextmanager
async def bridge(
    tmp_path: Path, *, clock: Clock | None = None, **settings: Any
) -> AsyncIterator[Bridge]:
    async with (
        fake_shop() as (shop, url),
        running_bridge(bridge_settings(tmp_path, url, **settings), clock=clock) as client,
    ):
        fridge = add_device(client, "home1", "fridge")
        yield Bridge(client, shop, fridge, client.app[SETTINGS].db_path)


async def _report(b: Bridge, order_id: str, status: str) -> tuple[int, Any]:
    body = json.dumps({"status": status}).encode()
    response = await b.client.post(
        f"/v1/shop/orders/{order_id}/status", data=body, headers=signed(SHOP_SECRET, body)
    )
    return response.status, await response.json()


# --- intake verdicts --------------------------------------------------------------------


async def test_subscribed_order_is_priced(tmp_path: Path) -> None:
    """A placed order carries the SKU, pack and price of each line, and its total."""
    async with bridge(tmp_path, cancel_window=HOUR) as b:
        subscribe(b.client, "home1", "milk", price_cents=129)
        order = await place(b.client, b.fridge, ("milk", 2))
    assert (order["status"], order["total_cents"]) == ("placed", 258)
    assert order["priced_lines"] == [
        {"item": "milk", "sku": "SKU-MILK", "pack": "1 pack", "packs": 2, "unit_price_cents": 129}
    ]


async def test_order_over_the_monthly_cap_is_rejected(tmp_path: Path) -> None:
    """An order that would take the month's spending over the cap is rejected, with why."""
    async with bridge(tmp_path, cancel_window=HOUR) as b:
        subscribe(b.client, "home1", "milk", price_cents=300)
        set_limits(b.client, "home1", cap=500)
        first = await place(b.client, b.fridge, ("milk", 1))
        second = await place(b.client, b.fridge, ("milk", 1))
        causes = b.causes(second["order_id"])
    assert (first["status"], second["status"]) == ("placed", "rejected")
    assert causes == [
        "rejected: over the monthly cap: 3.00 spent of 5.00, and this order costs 3.00"
    ]


async def test_cancelled_orders_free_the_cap(tmp_path: Path) -> None:
    """Money of a cancelled order no longer counts against the month's cap."""
    async with bridge(tmp_path, cancel_window=HOUR) as b:
        subscribe(b.client, "home1", "milk", price_cents=300)
        set_limits(b.client, "home1", cap=500)
        first = await place(b.client, b.fridge, ("milk", 1))
        await act(b.client, first["order_id"], "cancel", b.fridge)
        second = await place(b.client, b.fridge, ("milk", 1))
    assert second["status"] == "placed"


async def test_paused_subscription_rejects_the_order(tmp_path: Path) -> None:
    """An order with a line for a paused subscription is rejected and never forwarded."""
    async with bridge(tmp_path) as b:
        subscribe(b.client, "home1", "milk", enabled=False)
        subscribe(b.client, "home1", "eggs")
        order = await place(b.client, b.fridge, ("milk", 1), ("eggs", 1))
        assert await b.client.app[FORWARDER].forward_due() == 0
    assert order["status"] == "rejected"
    assert b.causes(order["order_id"]) == ["rejected: subscription paused: milk"]
    assert b.shop.deliveries == []


async def test_unknown_item_is_rejected_when_subscriptions_are_required(tmp_path: Path) -> None:
    """With require_subscription, an item the household does not subscribe to is refused."""
    async with bridge(tmp_path, require_subscription=True) as b:
        order = await place(b.client, b.fridge, ("caviar", 1))
    assert order["status"] == "rejected"
    assert b.causes(order["order_id"]) == ["rejected: unknown item: no subscription for caviar"]


async def test_unknown_item_is_ordered_unpriced_in_an_open_catalog(tmp_path: Path) -> None:
    """By default (the library's, and the demo's) an unsubscribed item is ordered at no price."""
    async with bridge(tmp_path, cancel_window=HOUR) as b:
        order = await place(b.client, b.fridge, ("caviar", 1))
    assert (order["status"], order["total_cents"], order["priced_lines"]) == ("placed", 0, [])


async def test_skip_next_drops_the_line_once(tmp_path: Path) -> None:
    """A line whose subscription says skip next is left out once, then ordered again."""
    async with bridge(tmp_path, cancel_window=HOUR) as b:
        subscribe(b.client, "home1", "milk", skip_next=True)
        subscribe(b.client, "home1", "eggs")
        first = await place(b.client, b.fridge, ("milk", 1), ("eggs", 2))
        second = await place(b.client, b.fridge, ("milk", 1))
    assert first["lines"] == [{"item": "eggs", "packs": 2}]
    assert second["lines"] == [{"item": "milk", "packs": 1}]


async def test_order_of_only_skipped_lines_is_rejected(tmp_path: Path) -> None:
    """When every line is skipped nothing is left to order: the order is rejected."""
    async with bridge(tmp_path) as b:
        subscribe(b.client, "home1", "milk", skip_next=True)
        order = await place(b.client, b.fridge, ("milk", 1))
    assert order["status"] == "rejected"


async def test_repeat_of_a_skipped_order_is_the_same_order(tmp_path: Path) -> None:
    """A retried request is compared with what the device asked, not the skipped result."""
    async with bridge(tmp_path, cancel_window=HOUR) as b:
        subscribe(b.client, "home1", "milk", skip_next=True)
        subscribe(b.client, "home1", "eggs")
        first = await place(b.client, b.fridge, ("milk", 1), ("eggs", 2), msg_id="m1")
        again = await place(b.client, b.fridge, ("milk", 1), ("eggs", 2), msg_id="m1")
    assert again == first


# --- approval ---------------------------------------------------------------------------


async def test_order_above_the_auto_approve_limit_waits(tmp_path: Path) -> None:
    """An order costing more than the limit is pending_confirmation and is not forwarded."""
    async with bridge(tmp_path) as b:
        subscribe(b.client, "home1", "coffee", price_cents=1500)
        set_limits(b.client, "home1", auto_approve=1000)
        order = await place(b.client, b.fridge, ("coffee", 1))
        assert await b.client.app[FORWARDER].forward_due() == 0
    assert order["status"] == "pending_confirmation"
    assert b.shop.deliveries == []


async def test_approved_order_goes_to_the_shop(tmp_path: Path) -> None:
    """Approving a pending order places it; then it is sent, and the trail shows each step."""
    async with bridge(tmp_path) as b:
        subscribe(b.client, "home1", "coffee", price_cents=1500)
        set_limits(b.client, "home1", auto_approve=1000)
        order_id = (await place(b.client, b.fridge, ("coffee", 1)))["order_id"]
        status, approved = await act(b.client, order_id, "approve", b.fridge)
        await wait_until(lambda: b.status(order_id) == "sent")
    assert (status, approved["status"]) == (200, "placed")
    assert b.trail(order_id) == ["pending_confirmation", "placed", "sent"]
    assert b.causes(order_id)[1] == "approved by home1/fridge"
    assert [d.webhook_id for d in b.shop.deliveries] == [order_id]


async def test_approve_after_cancel_is_refused(tmp_path: Path) -> None:
    """A cancelled order cannot be approved: 409 illegal_transition, and it stays cancelled."""
    async with bridge(tmp_path) as b:
        set_limits(b.client, "home1", auto_approve=0)
        subscribe(b.client, "home1", "milk")
        order_id = (await place(b.client, b.fridge, ("milk", 1)))["order_id"]
        cancelled = await act(b.client, order_id, "cancel", b.fridge)
        status, body = await act(b.client, order_id, "approve", b.fridge)
        final = b.status(order_id)
    assert cancelled[1]["status"] == "cancelled"
    assert (status, body["error"]["code"], final) == (409, "illegal_transition", "cancelled")


async def test_approve_a_rejected_order_is_refused(tmp_path: Path) -> None:
    """A rejected order cannot be approved into the shop."""
    async with bridge(tmp_path) as b:
        subscribe(b.client, "home1", "milk", enabled=False)
        order_id = (await place(b.client, b.fridge, ("milk", 1)))["order_id"]
        status, body = await act(b.client, order_id, "approve", None)
    assert (status, body["error"]["code"]) == (409, "illegal_transition")


async def test_approving_twice_changes_nothing(tmp_path: Path) -> None:
    """A second approval (a retry) answers the order as it is."""
    async with bridge(tmp_path, cancel_window=HOUR) as b:
        set_limits(b.client, "home1", auto_approve=0)
        subscribe(b.client, "home1", "milk")
        order_id = (await place(b.client, b.fridge, ("milk", 1)))["order_id"]
        await act(b.client, order_id, "approve", b.fridge)
        status, body = await act(b.client, order_id, "approve", None)
        trail = b.trail(order_id)
    assert (status, body["status"]) == (200, "placed")
    assert trail == ["pending_confirmation", "placed"]


async def test_late_approval_sends_at_once(tmp_path: Path) -> None:
    """The window counts from the order's creation: approved after it ends, it goes at once."""
    clock = SimulatedClock(SystemClock().now(), speed=1)
    async with bridge(tmp_path, clock=clock, cancel_window=HOUR) as b:
        set_limits(b.client, "home1", auto_approve=0)
        subscribe(b.client, "home1", "milk")
        order_id = (await place(b.client, b.fridge, ("milk", 1)))["order_id"]
        clock.start += timedelta(hours=2)  # two hours pass before anyone approves
        await act(b.client, order_id, "approve", None)
        await wait_until(lambda: b.status(order_id) == "sent")
    assert b.trail(order_id) == ["pending_confirmation", "placed", "sent"]


# --- the cancel window ------------------------------------------------------------------


async def test_order_waits_out_the_cancel_window(tmp_path: Path) -> None:
    """A placed order goes to the shop only once its window has passed, by the business clock."""
    clock = SimulatedClock(SystemClock().now(), speed=HOUR * 20)  # an hour in 50 ms
    async with bridge(tmp_path, clock=clock, cancel_window=HOUR) as b:
        order = await place(b.client, b.fridge, ("milk", 1))
        order_id = order["order_id"]
        await wait_until(lambda: b.status(order_id) == "sent")
        events = b.events(order_id)
        created = b.client.app[STORE].get_order(order_id).created_at
    assert order["cancel_until"] is not None
    assert events[-1].status == "sent"
    assert events[-1].ts >= created + timedelta(hours=1)


async def test_cancel_within_the_window(tmp_path: Path) -> None:
    """Inside its window a placed order is cancelled, audited, and never reaches the shop."""
    async with bridge(tmp_path, cancel_window=HOUR) as b:
        order_id = (await place(b.client, b.fridge, ("milk", 1)))["order_id"]
        body = b'{"reason": "bought some at the corner shop"}'
        status, cancelled = await act(b.client, order_id, "cancel", b.fridge, body)
        assert await b.client.app[FORWARDER].forward_due() == 0
    assert (status, cancelled["status"], cancelled["cancel_until"]) == (200, "cancelled", None)
    assert b.causes(order_id)[-1] == "cancelled by home1/fridge: bought some at the corner shop"
    assert b.shop.deliveries == []


async def test_cancel_a_pending_order(tmp_path: Path) -> None:
    """An order waiting for approval can be cancelled (declined) by the admin."""
    async with bridge(tmp_path) as b:
        set_limits(b.client, "home1", auto_approve=0)
        subscribe(b.client, "home1", "milk")
        order_id = (await place(b.client, b.fridge, ("milk", 1)))["order_id"]
        status, body = await act(b.client, order_id, "cancel", None)
    assert (status, body["status"]) == (200, "cancelled")
    assert b.trail(order_id) == ["pending_confirmation", "cancelled"]


async def test_cancelling_twice_changes_nothing(tmp_path: Path) -> None:
    """A repeated cancel (a retry after a lost answer) answers the cancelled order."""
    async with bridge(tmp_path, cancel_window=HOUR) as b:
        order_id = (await place(b.client, b.fridge, ("milk", 1)))["order_id"]
        await act(b.client, order_id, "cancel", b.fridge)
        status, body = await act(b.client, order_id, "cancel", b.fridge)
        trail = b.trail(order_id)
    assert (status, body["status"], trail) == (200, "cancelled", ["placed", "cancelled"])


async def test_cancel_after_sending_is_refused(tmp_path: Path) -> None:
    """Once the shop has the order, cancel gets 409 cancel_window_closed; it stays sent."""
    async with bridge(tmp_path) as b:
        order_id = (await place(b.client, b.fridge, ("milk", 1)))["order_id"]
        await wait_until(lambda: b.status(order_id) == "sent")
        status, body = await act(b.client, order_id, "cancel", b.fridge)
        final = b.status(order_id)
    assert (status, body["error"]["code"], final) == (409, "cancel_window_closed", "sent")


async def test_cancel_after_a_failed_attempt_is_refused(tmp_path: Path) -> None:
    """After any attempt the shop may have the order, so it can no longer be cancelled."""
    down = bridge_settings(
        tmp_path, "http://127.0.0.1:9/webhooks", retry_initial=HOUR, retry_max=HOUR
    )
    async with running_bridge(down) as client:
        fridge = add_device(client, "home1", "fridge")
        order_id = (await place(client, fridge, ("milk", 1)))["order_id"]
        await wait_until(lambda: client.app[STORE].get_order(order_id).forward_attempts == 1)
        status, body = await act(client, order_id, "cancel", fridge)
    assert (status, body["error"]["code"]) == (409, "cancel_window_closed")


async def test_cancel_after_the_window_is_refused(tmp_path: Path) -> None:
    """When the window has passed, cancel is refused even before the first attempt."""
    clock = SimulatedClock(SystemClock().now(), speed=1)
    async with bridge(tmp_path, clock=clock, cancel_window=HOUR) as b:
        store = b.client.app[STORE]
        store.disable_endpoint(b.client.app[SETTINGS].shop_url, at=clock.now(), reason="test")
        order_id = (await place(b.client, b.fridge, ("milk", 1)))["order_id"]
        clock.start += timedelta(hours=2)
        status, body = await act(b.client, order_id, "cancel", b.fridge)
        attempts = store.get_order(order_id).forward_attempts
    assert (status, body["error"]["code"], attempts) == (409, "cancel_window_closed", 0)


async def test_cancel_a_final_order_is_refused(tmp_path: Path) -> None:
    """Delivered and rejected orders cannot be cancelled: 409 illegal_transition."""
    async with bridge(tmp_path) as b:
        subscribe(b.client, "home1", "eggs", enabled=False)
        rejected = (await place(b.client, b.fridge, ("eggs", 1)))["order_id"]
        delivered = (await place(b.client, b.fridge, ("milk", 1)))["order_id"]
        await wait_until(lambda: b.status(delivered) == "sent")
        await _report(b, delivered, "delivered")
        answers = [await act(b.client, oid, "cancel", b.fridge) for oid in (rejected, delivered)]
    assert [(s, body["error"]["code"]) for s, body in answers] == [
        (409, "illegal_transition"),
        (409, "illegal_transition"),
    ]


# --- the shop's reports -----------------------------------------------------------------


async def test_whole_happy_path_is_audited(tmp_path: Path) -> None:
    """placed → sent → acknowledged → shipped → delivered, each with its time and cause."""
    async with bridge(tmp_path) as b:
        order_id = (await place(b.client, b.fridge, ("milk", 1)))["order_id"]
        await wait_until(lambda: b.status(order_id) == "sent")
        for status in ("acknowledged", "shipped", "delivered"):
            assert (await _report(b, order_id, status))[0] == 200
        events = b.client.app[STORE].events(order_id)
    assert [(e.status, e.cause) for e in events] == [
        ("placed", "created"),
        ("sent", "accepted by the shop"),
        ("acknowledged", "shop reported acknowledged"),
        ("shipped", "shop reported shipped"),
        ("delivered", "shop reported delivered"),
    ]
    assert [e.ts for e in events] == sorted(e.ts for e in events)


async def test_shop_cannot_report_on_an_unapproved_order(tmp_path: Path) -> None:
    """The shop never had a pending order: a report on it is 409, and it stays pending."""
    async with bridge(tmp_path) as b:
        set_limits(b.client, "home1", auto_approve=0)
        subscribe(b.client, "home1", "milk")
        order_id = (await place(b.client, b.fridge, ("milk", 1)))["order_id"]
        status, body = await _report(b, order_id, "shipped")
    assert (status, body["error"]["code"]) == (409, "illegal_transition")
    assert b.status(order_id) == "pending_confirmation"


async def test_shop_cannot_revive_a_cancelled_order(tmp_path: Path) -> None:
    """A report on a cancelled order is refused."""
    async with bridge(tmp_path, cancel_window=HOUR) as b:
        order_id = (await place(b.client, b.fridge, ("milk", 1)))["order_id"]
        await act(b.client, order_id, "cancel", b.fridge)
        status, body = await _report(b, order_id, "delivered")
    assert (status, body["error"]["code"]) == (409, "illegal_transition")


async def test_household_shows_spending_and_subscriptions(tmp_path: Path) -> None:
    """GET /v1/household gives the device its limits, month's spend and subscriptions."""
    async with bridge(tmp_path, cancel_window=HOUR) as b:
        subscribe(b.client, "home1", "milk", price_cents=150)
        set_limits(b.client, "home1", cap=10_000, auto_approve=5_000)
        await place(b.client, b.fridge, ("milk", 2))
        response = await b.client.get("/v1/household", headers=b.fridge.headers())
        household = await response.json()
    assert (household["monthly_cap_cents"], household["month_spent_cents"]) == (10_000, 300)
    assert [s["item"] for s in household["subscriptions"]] == ["milk"]


async def test_device_pauses_and_skips_its_subscription(tmp_path: Path) -> None:
    """PATCH /v1/household/subscriptions/{item} sets enabled and skip_next."""
    async with bridge(tmp_path, cancel_window=HOUR) as b:
        subscribe(b.client, "home1", "milk")
        body = b'{"enabled": false}'
        response = await b.client.patch(
            "/v1/household/subscriptions/milk", data=body, headers=b.fridge.headers(body)
        )
        paused = await response.json()
        order = await place(b.client, b.fridge, ("milk", 1))
    assert (response.status, paused["enabled"]) == (200, False)
    assert order["status"] == "rejected"
