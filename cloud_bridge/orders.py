"""What happens to orders: placing them, reporting on them, and their forwarding state.

Every status change is stored with an audit row and announced on the downlink.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from cloud_bridge.downlink import Downlink, NoDownlink
from cloud_bridge.errors import IdempotencyConflict, OrderNotFound
from cloud_bridge.lifecycle import can_transition, check_transition
from cloud_bridge.payloads import OrderRequest, StatusReport
from cloud_bridge.store import NewOrder, Order, Store
from edge_agent.clock import Clock
from edge_agent.protocol import OrderUpdate


def new_order_id() -> str:
    return f"ord_{secrets.token_hex(12)}"


class Orders:
    """The bridge's order operations, over a :class:`Store`, a business clock and a downlink."""

    def __init__(self, store: Store, *, clock: Clock, downlink: Downlink | None = None) -> None:
        self.store = store
        self.clock = clock
        self.downlink = downlink or NoDownlink()

    def place(
        self, household: str, device: str, request_id: str, request: OrderRequest
    ) -> tuple[Order, bool]:
        """Create the order a device asked for, once per ``request_id``.

        Returns the order and whether it is new. A repeated request returns the first
        order; a repeated id with a different order raises :class:`IdempotencyConflict`.
        Compared are the decoded lines and explanation, not raw bytes.
        """
        now = self.clock.now()
        new = NewOrder(
            order_id=new_order_id(),
            household=household,
            device=device,
            request_id=request_id,
            lines=request.lines,
            explanation=request.explanation,
            status="placed",
            created_at=now,
            next_attempt_at=now,
        )
        order, created = self.store.create_order(new)
        if created:
            self._announce(order)
        elif (order.lines, order.explanation) != (request.lines, request.explanation):
            raise IdempotencyConflict(
                f"webhook-id {request_id} was already used by {household}/{device}"
                f" for a different order ({order.order_id})"
            )
        return order, created

    def for_household(self, order_id: str, household: str) -> Order:
        """The order, if it belongs to ``household``; otherwise :class:`OrderNotFound`.

        Another household's order is reported as missing, so ids cannot be probed.
        """
        order = self.store.get_order(order_id)
        if order.household != household:
            raise OrderNotFound(f"order {order_id} does not exist")
        return order

    def apply_shop_report(self, order_id: str, report: StatusReport, *, webhook_id: str) -> Order:
        """Apply the shop's status report, once per ``webhook_id``; return the order."""
        now = self.clock.now()
        with self.store.transaction():
            order = self.store.get_order(order_id)
            if not self.store.claim_shop_message(webhook_id, order_id, at=now):
                return order  # the shop retried a report we already applied
            # A report proves the shop has the order, even if its reply to us was lost.
            self.store.stop_forwarding(order_id, at=now)
            if report.status == order.status and report.eta in (None, order.eta):
                return order
            if report.status != order.status:
                check_transition(order_id, order.status, report.status)
            cause = f"shop reported {report.status}"
            if report.reason:
                cause += f": {report.reason}"
            order = self.store.set_status(
                order_id, report.status, at=now, cause=cause, eta=report.eta
            )
        self._announce(order)
        return order

    # --- forwarding -----------------------------------------------------------------

    def due_for_forwarding(self, *, limit: int) -> list[Order]:
        return self.store.orders_due(self.clock.now(), limit=limit)

    def next_attempt_at(self) -> datetime | None:
        return self.store.next_attempt_at()

    def forwarded(self, order_id: str) -> Order:
        """The shop accepted the order: it is ``sent``, unless the shop already said more."""
        now = self.clock.now()
        with self.store.transaction():
            self.store.record_forwarded(order_id, at=now)
            order = self.store.get_order(order_id)
            if not can_transition(order.status, "sent"):
                return order
            order = self.store.set_status(order_id, "sent", at=now, cause="accepted by the shop")
        self._announce(order)
        return order

    def forward_failed(self, order_id: str, *, error: str, retry_in: float) -> None:
        """An attempt failed; try again ``retry_in`` business-clock seconds from now."""
        retry_at = self.clock.now() + timedelta(seconds=retry_in)
        self.store.record_forward_failure(order_id, error=error, retry_at=retry_at)

    def _announce(self, order: Order) -> None:
        self.downlink.send(
            order.household,
            OrderUpdate(
                order_id=order.order_id,
                status=order.status,
                ts=order.updated_at,
                lines=order.lines,
                eta=order.eta,
                request_id=order.request_id,
            ),
        )
