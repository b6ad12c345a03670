"""The true stock, on a small hand-worked case.

One item: packs of 10, capacity 25, 5 in stock at the start, a 2-day shelf life.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from edge_agent.catalog import Device, ItemSpec, LeadTime, SensorKind
from simulators.errors import SimulatorError
from simulators.stock import ItemStock, LevelChange, Lot, Stock

T0 = datetime(2026, 3, 2, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)

ITEM = ItemSpec(
    id="cream",
    name="Cream",
    device=Device.FRIDGE,
    sensor=SensorKind.WEIGHT,
    unit="g",
    pack_size=10,
    capacity=25,
    initial=5,
    lead_time_hours=LeadTime(24, 48),
    price=1.0,
    shelf_life_days=2,
    cycle_days=1,
)


def fresh() -> ItemStock:
    return ItemStock(ITEM, start=T0)


def test_use_takes_soonest_to_expire_first() -> None:
    """Use empties the older lot before touching the new delivery."""
    stock = fresh()
    stock.deliver(T0 + DAY, 2)
    assert stock.consume(T0 + 1.5 * DAY, 8) == 8
    assert stock.lots == (Lot(17, T0 + 3 * DAY),)


def test_expired_lots_are_waste() -> None:
    """The initial lot is thrown away when its shelf life ends."""
    stock = fresh()
    assert stock.expire(T0 + 2 * DAY) == 5
    summary = stock.summary(T0 + 2 * DAY)
    assert summary.wasted_expired == 5
    assert summary.level == 0


def test_delivery_beyond_capacity_is_waste() -> None:
    """What does not fit within capacity is thrown away, but still counts as delivered."""
    stock = fresh()
    assert stock.deliver(T0 + DAY, 2) == 20
    assert stock.deliver(T0 + DAY + HOUR, 1) == 0
    summary = stock.summary(T0 + 2 * DAY)
    assert summary.delivered == 30
    assert summary.deliveries == 2
    assert summary.wasted_overflow == 10
    assert summary.waste_rate == pytest.approx(10 / 30)


def test_demand_without_stock_is_lost() -> None:
    """Demand beyond stock is served in part and the rest is unmet, not back-ordered."""
    stock = fresh()
    assert stock.consume(T0 + HOUR, 8) == 5
    assert stock.consume(T0 + 2 * HOUR, 4) == 0
    stock.deliver(T0 + 3 * HOUR, 1)
    summary = stock.summary(T0 + 4 * HOUR)
    assert (summary.demanded, summary.served, summary.unmet) == (12, 5, 7)
    assert summary.fill_rate == pytest.approx(5 / 12)
    assert summary.level == 10


def test_stockout_hours_count_time_at_zero() -> None:
    """Hours at zero are counted from expiry to the next delivery, and an open stock-out to now."""
    stock = fresh()
    stock.expire(T0 + 2 * DAY)
    stock.deliver(T0 + 2 * DAY + 6 * HOUR, 1)
    stock.consume(T0 + 3 * DAY, 10)
    summary = stock.summary(T0 + 3 * DAY + 4 * HOUR)
    assert summary.stockout_hours == pytest.approx(10)
    assert summary.lowest == 0


def test_history_records_each_change() -> None:
    """Every change of the level is recorded with its time, from the initial level on."""
    stock = fresh()
    stock.consume(T0 + HOUR, 2)
    stock.deliver(T0 + DAY, 1)
    stock.expire(T0 + 2 * DAY)
    assert stock.history == (
        LevelChange(T0, 5),
        LevelChange(T0 + HOUR, 3),
        LevelChange(T0 + DAY, 13),
        LevelChange(T0 + 2 * DAY, 10),
    )


def test_stock_names_unknown_items() -> None:
    """Asking the household for an item it does not stock is a SimulatorError."""
    stock = Stock([ITEM], start=T0)
    with pytest.raises(SimulatorError, match="no item 'bread'"):
        stock.consume(T0, "bread", 1)


def test_next_expiry_is_the_soonest_lot() -> None:
    """The household knows when its next lot expires, so a runner can wake for it."""
    stock = Stock([ITEM], start=T0)
    stock.deliver(T0 + DAY, "cream", 1)
    assert stock.next_expiry() == T0 + 2 * DAY
    assert stock.expire(T0 + 2 * DAY) == ("cream",)
    assert stock.next_expiry() == T0 + 3 * DAY


def test_hand_bought_packs_are_stock_but_not_deliveries() -> None:
    stock = fresh()
    kept = stock.buy_by_hand(T0 + HOUR, 3)
    assert kept == 20  # 5 + 30 would pass capacity 25
    summary = stock.summary(T0 + HOUR)
    assert summary.bought_by_hand == 30
    assert summary.delivered == 0
    assert summary.deliveries == 0
    assert summary.wasted_overflow == 10
