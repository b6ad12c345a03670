"""Which status an order may move to next: the order state machine, free of I/O.

Orders move forward along ``pending_confirmation → placed → sent → acknowledged →
shipped → delivered`` and may skip steps (a shop may report ``shipped`` without an
``acknowledged`` first). Any unfinished order may end as ``failed``, ``cancelled`` or
``rejected``. A final status is never left.
"""

from __future__ import annotations

from typing import Final

from cloud_bridge.errors import IllegalTransition
from edge_agent.protocol import FINAL_STATUSES, OrderStatus

#: The happy path, in order.
_PROGRESS: Final[tuple[OrderStatus, ...]] = (
    "pending_confirmation",
    "placed",
    "sent",
    "acknowledged",
    "shipped",
    "delivered",
)
_RANK: Final[dict[str, int]] = {status: rank for rank, status in enumerate(_PROGRESS)}


def can_transition(current: OrderStatus, new: OrderStatus) -> bool:
    """Whether an order in ``current`` may move to ``new`` (a different status)."""
    if current in FINAL_STATUSES or current == new:
        return False
    if new not in _RANK:
        return True  # failed, cancelled, rejected: any unfinished order may end so
    return _RANK[new] > _RANK[current]


def check_transition(order_id: str, current: OrderStatus, new: OrderStatus) -> None:
    """Raise :class:`IllegalTransition` unless ``current → new`` is allowed."""
    if not can_transition(current, new):
        raise IllegalTransition(f"order {order_id} is {current}; it cannot become {new}")
