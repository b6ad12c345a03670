"""What happens to orders: placing, approving, cancelling and redelivering them, the shop's
reports on them, and their forwarding state.

Every status change is stored with an audit row and bumps the order's version, which
the downlink (downlink.py) publishes to the household's agent. ``household=None`` in
the methods below means the admin, who may act on any household's orders.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from cloud_bridge.downlink import Downlink, NoDownlink
from cloud_bridge.errors import (
    CancelWindowClosed,
    IdempotencyConflict,
    IllegalTransition,
    NotRedeliverable,
    OrderNotFound,
)
from cloud_bridge.intake import Assessment, assess
from cloud_bridge.lifecycle import can_transition, check_transition
from cloud_bridge.payloads import OrderRequest, StatusReport
from cloud_bridge.schema import ts
from cloud_bridge.store import NewOrder, Order, OrderFilter, Store
from edge_agent.clock import Clock

#: Statuses in which an order has been approved (by the household, or automatically).
_APPROVED = frozenset({"placed", "sent", "acknowledged", "shipped", "delivered"})
#: Statuses in which the shop may need the order's webhook again.
_REDELIVERABLE = frozenset({"placed", "sent", "acknowledged", "shipped"})


def new_order_id() -> str:
    return f"ord_{secrets.token_hex(12)}"


class Orders:
    """The bridge's order operations, over a :class:`Store`, a business clock and a downlink.

    ``cancel_window`` is how many business-clock seconds a placed order waits before it
    goes to the shop; ``require_subscription`` rejects items the household does not
    subscribe to (otherwise they are ordered unpriced).
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        downlink: Downlink | None = None,
        cancel_window: float = 0.0,
        require_subscription: bool = False,
    ) -> None:
        self.store = store
        self.clock = clock
        self.downlink = downlink or NoDownlink()
        self.cancel_window = timedelta(seconds=cancel_window)
        self.require_subscription = require_subscription

    # --- placing --------------------------------------------------------------------

    def place(
        self, household: str, device: str, request_id: str, request: OrderRequest
    ) -> tuple[Order, bool]:
        """Create the order a device asked for, once per ``request_id``.

        Returns the order and whether it is new. A repeated request returns the first
        order; a repeated id with a different order raises :class:`IdempotencyConflict`.
        Compared are the decoded lines and explanation as asked for, not raw bytes.
        """
        now = self.clock.now()
        # No look-up first: the UNIQUE index turns a repeat into "not created".
        with self.store.transaction():
            order, created = self._create(household, device, request_id, request, now)
        if created:
            self.downlink.notify()
        elif (order.requested_lines, order.explanation) != (request.lines, request.explanation):
            raise IdempotencyConflict(
                f"webhook-id {request_id} was already used by {household}/{device}"
                f" for a different order ({order.order_id})"
            )
        return order, created

    def _create(
        self, household: str, device: str, request_id: str, request: OrderRequest, now: datetime
    ) -> tuple[Order, bool]:
        verdict = self._assess(household, request, now)
        # A pending order keeps its window's end too, for when it is approved.
        window_end = now + self.cancel_window
        send_at = window_end if verdict.status == "placed" else None
        order, created = self.store.create_order(
            NewOrder(
                order_id=new_order_id(),
                household=household,
                device=device,
                request_id=request_id,
                lines=verdict.lines,
                explanation=request.explanation,
                status=verdict.status,
                created_at=now,
                next_attempt_at=send_at,
                requested_lines=request.lines,
                priced=verdict.priced,
                total_cents=verdict.total_cents,
                cancel_until=window_end if verdict.status != "rejected" else None,
                cause=verdict.cause,
            )
        )
        if created and verdict.skipped and verdict.status != "rejected":
            self.store.accounts.clear_skips(household, verdict.skipped, now=now)
        return order, created

    def _assess(self, household: str, request: OrderRequest, now: datetime) -> Assessment:
        limits, spent = self.store.limits_and_spend(household, now)
        items = (line.item for line in request.lines)
        return assess(
            request.lines,
            household=limits,
            subscriptions=self.store.accounts.subscriptions(household, items),
            month_spent_cents=spent,
            require_subscription=self.require_subscription,
        )

    # --- reading --------------------------------------------------------------------

    def for_household(self, order_id: str, household: str | None) -> Order:
        """The order, if it belongs to ``household`` (any, for the admin).

        Another household's order is reported as missing, so ids cannot be probed.
        """
        order = self.store.get_order(order_id)
        if household is not None and order.household != household:
            raise OrderNotFound(f"order {order_id} does not exist")
        return order

    def list_orders(self, which: OrderFilter) -> list[Order]:
        return self.store.list_orders(which)

    # --- the household's decisions ---------------------------------------------------

    def approve(self, order_id: str, *, household: str | None, by: str) -> Order:
        """Approve an order that waits for approval; it then waits out its cancel window.

        The window counts from when the order was made (its length then is stored
        with the order, so any process can approve it), and a late approval sends at
        once. Approving an approved order changes nothing; a cancelled, rejected or
        failed one cannot be approved.
        """
        now = self.clock.now()
        with self.store.transaction():
            order = self.for_household(order_id, household)
            if order.status in _APPROVED:
                return order
            if order.status != "pending_confirmation":
                raise IllegalTransition(
                    f"order {order_id} is {order.status}; it cannot be approved"
                )
            send_at = ts(max(now, order.cancel_until or now))
            order = self.store.set_status(
                order_id,
                "placed",
                at=now,
                cause=f"approved by {by}",
                updates={"next_attempt_at": send_at, "cancel_until": send_at},
            )
        self.downlink.notify()
        return order

    def cancel(
        self, order_id: str, *, household: str | None, by: str, reason: str | None = None
    ) -> Order:
        """Cancel an order that has not gone to the shop; cancelling twice changes nothing.

        Refused with :class:`CancelWindowClosed` once an attempt to send it has started
        or its window has passed, and with :class:`IllegalTransition` once it is final.
        """
        now = self.clock.now()
        order = self.for_household(order_id, household)
        if order.status == "cancelled":
            return order
        if order.status not in ("pending_confirmation", "placed"):
            if order.status in _REDELIVERABLE:
                raise CancelWindowClosed(
                    f"order {order_id} is {order.status}: the shop has it, so it can no"
                    " longer be cancelled here"
                )
            raise IllegalTransition(f"order {order_id} is {order.status}; it cannot be cancelled")
        cause = f"cancelled by {by}" + (f": {reason}" if reason else "")
        if not self.store.cancel_if_unsent(order_id, at=now, cause=cause):
            raise CancelWindowClosed(
                f"order {order_id} has gone, or is going, to the shop: its cancel window"
                f" closed at {_when(order)}"
            )
        self.downlink.notify()
        return self.store.get_order(order_id)

    def redeliver(self, order_id: str) -> Order:
        """Send an order's webhook again, same ``webhook-id``, with a fresh retry budget.

        For dead-lettered orders, or a shop that lost one it accepted. An order that
        has never been sent, or that is final, is refused with :class:`NotRedeliverable`.
        """
        order = self.store.get_order(order_id)
        if order.status not in _REDELIVERABLE or (
            order.status == "placed" and order.forward_attempts == 0
        ):
            raise NotRedeliverable(
                f"order {order_id} is {order.status}"
                + (" and has not been sent yet" if order.status == "placed" else "")
                + ": there is nothing to redeliver"
            )
        return self.store.requeue(
            order_id, at=self.clock.now(), cause="webhook redelivery requested by the admin"
        )

    # --- the shop's reports ---------------------------------------------------------

    def apply_shop_report(self, order_id: str, report: StatusReport, *, webhook_id: str) -> Order:
        """Apply the shop's status report, once per ``webhook_id``; return the order."""
        now = self.clock.now()
        with self.store.transaction():
            order = self.store.get_order(order_id)
            if not self.store.claim_shop_message(webhook_id, order_id, at=now):
                return order  # the shop retried a report we already applied
            if report.status == order.status and report.eta in (None, order.eta):
                return order
            if report.status != order.status:
                check_transition(order_id, order.status, report.status)
            # A report proves the shop has the order, even if its reply to us was lost.
            self.store.stop_forwarding(order_id, at=now)
            cause = f"shop reported {report.status}"
            if report.reason:
                cause += f": {report.reason}"
            order = self.store.set_status(
                order_id, report.status, at=now, cause=cause, eta=report.eta
            )
        self.downlink.notify()
        return order

    # --- forwarding -----------------------------------------------------------------

    def due_for_forwarding(self, *, limit: int) -> list[Order]:
        return self.store.orders_due(self.clock.now(), limit=limit)

    def next_attempt_at(self) -> datetime | None:
        return self.store.next_attempt_at()

    def claim(self, order_id: str, *, lease: float) -> bool:
        """Start an attempt on a due order; ``False`` if it is no longer due."""
        now = self.clock.now()
        return self.store.claim_attempt(
            order_id, now=now, lease_until=now + timedelta(seconds=lease)
        )

    def forwarded(self, order_id: str) -> Order:
        """The shop accepted the order: it is ``sent``, unless the shop already said more."""
        now = self.clock.now()
        with self.store.transaction():
            self.store.record_forwarded(order_id, at=now)
            order = self.store.get_order(order_id)
            if not can_transition(order.status, "sent"):
                return order
            order = self.store.set_status(order_id, "sent", at=now, cause="accepted by the shop")
        self.downlink.notify()
        return order

    def forward_failed(self, order_id: str, *, error: str, retry_in: float) -> None:
        """An attempt failed; try again ``retry_in`` business-clock seconds from now."""
        retry_at = self.clock.now() + timedelta(seconds=retry_in)
        self.store.record_forward_failure(order_id, error=error, retry_at=retry_at)

    def dead_letter(self, order_id: str, *, error: str) -> None:
        """The order ran out of retries; it waits on the dead-letter list for redelivery."""
        self.store.dead_letter(order_id, at=self.clock.now(), error=error)


def _when(order: Order) -> str:
    return "the first attempt" if order.cancel_until is None else order.cancel_until.isoformat()
