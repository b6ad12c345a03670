"""The order state machine: every move it allows, and every move it refuses."""

from __future__ import annotations

from itertools import product
from typing import get_args

import pytest

from cloud_bridge.errors import IllegalTransition
from cloud_bridge.lifecycle import INITIAL, can_transition, check_transition
from edge_agent.protocol import OrderStatus

STATUSES: tuple[OrderStatus, ...] = get_args(OrderStatus)

#: The issue's state machine, written out move by move, independently of lifecycle.py.
ALLOWED: set[tuple[str, str]] = {
    ("pending_confirmation", "placed"),  # approved
    ("pending_confirmation", "cancelled"),  # declined
    ("placed", "sent"),  # the shop accepted the webhook
    ("placed", "cancelled"),  # within the cancel window
    # the shop may report before the bridge records its 2xx, and may skip steps
    ("placed", "acknowledged"),
    ("placed", "shipped"),
    ("placed", "delivered"),
    ("placed", "failed"),
    ("sent", "acknowledged"),
    ("sent", "shipped"),
    ("sent", "delivered"),
    ("sent", "failed"),
    ("acknowledged", "shipped"),
    ("acknowledged", "delivered"),
    ("acknowledged", "failed"),
    ("shipped", "delivered"),
    ("shipped", "failed"),
}
PAIRS = list(product(STATUSES, STATUSES))


@pytest.mark.parametrize(("current", "new"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_transition(current: OrderStatus, new: OrderStatus) -> None:
    """Each of the 81 moves is allowed exactly when the issue's state machine allows it."""
    allowed = (current, new) in ALLOWED
    assert can_transition(current, new) is allowed
    if not allowed:
        with pytest.raises(IllegalTransition, match=f"is {current}; it cannot become {new}"):
            check_transition("ord_1", current, new)


def test_orders_start_pending_placed_or_rejected() -> None:
    """An order is created waiting for approval, placed, or rejected; nothing else."""
    assert {"pending_confirmation", "placed", "rejected"} == INITIAL
