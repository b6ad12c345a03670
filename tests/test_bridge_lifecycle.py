"""The order state machine: forward along the happy path, never out of a final status."""

from __future__ import annotations

import pytest

from cloud_bridge.errors import IllegalTransition
from cloud_bridge.lifecycle import can_transition, check_transition


@pytest.mark.parametrize(
    ("current", "new"),
    [("placed", "sent"), ("sent", "acknowledged"), ("placed", "shipped"), ("shipped", "failed")],
)
def test_forward_moves_are_allowed(current: str, new: str) -> None:
    """Orders may move forward, skip steps, or fail while unfinished."""
    assert can_transition(current, new)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("current", "new"),
    [("delivered", "shipped"), ("shipped", "acknowledged"), ("failed", "delivered")],
)
def test_backward_and_final_moves_are_refused(current: str, new: str) -> None:
    """Orders never move backwards or leave a final status."""
    with pytest.raises(IllegalTransition, match=f"is {current}; it cannot become {new}"):
        check_transition("ord_1", current, new)  # type: ignore[arg-type]
