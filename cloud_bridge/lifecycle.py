"""Which status an order may move to next: the order state machine, free of I/O.

::

    pending_confirmation ─approve─▶ placed ─shop 2xx─▶ sent ─▶ acknowledged ─▶ shipped ─▶ delivered
           │                          │      (the shop's reports may skip steps)
           └───────cancel─────────────┴─▶ cancelled     (placed or later, unfinished) ─▶ failed

An order starts as ``pending_confirmation`` (above the household's auto-approve
limit), ``placed`` or ``rejected`` (over the cap, a paused subscription, an unknown
item, every line skipped). ``placed`` orders wait out the cancel window before they go
to the shop; once an attempt has started they can no longer be cancelled, which the
order service checks (see orders.py). A final status is never left.
"""

from __future__ import annotations

from typing import Final

from cloud_bridge.errors import IllegalTransition
from edge_agent.protocol import OrderStatus

_SHOP_PROGRESS: Final[tuple[OrderStatus, ...]] = ("sent", "acknowledged", "shipped", "delivered")

#: Every allowed move, by the status an order is in.
TRANSITIONS: Final[dict[OrderStatus, frozenset[OrderStatus]]] = {
    "pending_confirmation": frozenset({"placed", "cancelled"}),
    "placed": frozenset({*_SHOP_PROGRESS, "failed", "cancelled"}),
    "sent": frozenset({"acknowledged", "shipped", "delivered", "failed"}),
    "acknowledged": frozenset({"shipped", "delivered", "failed"}),
    "shipped": frozenset({"delivered", "failed"}),
    "delivered": frozenset(),
    "cancelled": frozenset(),
    "rejected": frozenset(),
    "failed": frozenset(),
}

#: The statuses an order can be created in.
INITIAL: Final[frozenset[OrderStatus]] = frozenset({"pending_confirmation", "placed", "rejected"})

#: Orders whose money counts against the monthly cap.
COMMITTED: Final[frozenset[OrderStatus]] = frozenset(
    {"pending_confirmation", "placed", *_SHOP_PROGRESS}
)


def can_transition(current: OrderStatus, new: OrderStatus) -> bool:
    """Whether an order in ``current`` may move to ``new`` (a different status)."""
    return new in TRANSITIONS[current]


def check_transition(order_id: str, current: OrderStatus, new: OrderStatus) -> None:
    """Raise :class:`IllegalTransition` unless ``current → new`` is allowed."""
    if not can_transition(current, new):
        raise IllegalTransition(f"order {order_id} is {current}; it cannot become {new}")
