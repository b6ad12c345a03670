"""The household's true stock of each item, sans-I/O: what the sensors measure, and the score.

Stock is held in lots, each with an expiry. Use takes from the lot that expires soonest;
demand that finds no stock is lost (counted as unmet, never back-ordered). A delivery
adds a lot that expires ``shelf_life_days`` later; what does not fit within the item's
capacity is thrown away, as are expired lots. Both count as waste.

Time only moves forward: an update stamped before the previous one is applied at the
previous one's time, because the household runner and the shop each read the shared
clock a moment apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from edge_agent.catalog import ItemSpec
from simulators.errors import SimulatorError

#: Quantities below this are rounding dust, not stock.
EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Lot:
    """A quantity of an item that arrived together and expires together (``None``: never)."""

    quantity: float
    expires: datetime | None


@dataclass(frozen=True, slots=True)
class LevelChange:
    """From ``ts`` on, the true level of an item was ``level``."""

    ts: datetime
    level: float


@dataclass(frozen=True, slots=True)
class StockSummary:
    """How one item fared, in the item's unit unless named otherwise."""

    item: str
    demanded: float
    served: float
    delivered: float
    deliveries: int
    #: Bought by hand outside Restock (not counted as delivered).
    bought_by_hand: float
    wasted_expired: float
    wasted_overflow: float
    stockout_hours: float
    lowest: float
    level: float

    @property
    def unmet(self) -> float:
        return self.demanded - self.served

    @property
    def wasted(self) -> float:
        return self.wasted_expired + self.wasted_overflow

    @property
    def fill_rate(self) -> float:
        """Served over demanded; 1.0 when nothing was demanded."""
        return self.served / self.demanded if self.demanded > 0 else 1.0

    @property
    def waste_rate(self) -> float:
        """Wasted over delivered; 0.0 when nothing was delivered."""
        return self.wasted / self.delivered if self.delivered > 0 else 0.0


def _expiry_key(lot: Lot) -> tuple[bool, datetime | None]:
    # Lots that never expire sort after every lot that does.
    return (lot.expires is None, lot.expires)


class ItemStock:
    """The lots of one item, and the history and counters of its level."""

    def __init__(self, item: ItemSpec, *, start: datetime) -> None:
        if start.tzinfo is None:
            raise SimulatorError("stock needs a timezone-aware start")
        self.item = item
        self._now = start
        self._lots: list[Lot] = []
        if item.initial > 0:
            # The starting stock is treated as if it had just been delivered.
            self._lots.append(Lot(item.initial, self._expiry(start)))
        self._history = [LevelChange(start, self.level)]
        self._empty_since: datetime | None = start if self.level <= EPSILON else None
        self._stockout = timedelta()
        self._lowest = self.level
        self._demanded = 0.0
        self._served = 0.0
        self._delivered = 0.0
        self._deliveries = 0
        self._bought_by_hand = 0.0
        self._wasted_expired = 0.0
        self._wasted_overflow = 0.0

    @property
    def level(self) -> float:
        return sum(lot.quantity for lot in self._lots)

    @property
    def lots(self) -> tuple[Lot, ...]:
        """The lots in the order they will be used: soonest to expire first."""
        return tuple(self._lots)

    @property
    def history(self) -> tuple[LevelChange, ...]:
        """Every change of the level, oldest first, starting with the initial level."""
        return tuple(self._history)

    def next_expiry(self) -> datetime | None:
        """When the next lot expires, or ``None`` if none will."""
        return self._lots[0].expires if self._lots else None

    def expire(self, now: datetime) -> float:
        """Throw away the lots expired by ``now``; return the quantity thrown away."""
        now = self._advance(now)
        kept = [lot for lot in self._lots if lot.expires is None or lot.expires > now]
        if len(kept) == len(self._lots):
            return 0.0
        thrown = self.level - sum(lot.quantity for lot in kept)
        self._lots = kept
        self._wasted_expired += thrown
        self._record(now)
        return thrown

    def consume(self, now: datetime, quantity: float) -> float:
        """Use ``quantity`` at ``now``, soonest-to-expire first; return the quantity served."""
        if quantity < 0:
            raise SimulatorError(f"cannot consume a negative quantity of {self.item.id!r}")
        self.expire(now)
        wanted = quantity
        while wanted > EPSILON and self._lots:
            lot = self._lots[0]
            if lot.quantity <= wanted + EPSILON:
                wanted -= lot.quantity
                self._lots.pop(0)
            else:
                self._lots[0] = replace(lot, quantity=lot.quantity - wanted)
                wanted = 0.0
        served = quantity - max(wanted, 0.0)
        self._demanded += quantity
        self._served += served
        if served > 0:
            self._record(self._now)
        return served

    def deliver(self, now: datetime, packs: int) -> float:
        """Add ``packs`` packs at ``now``; return the quantity that fitted within capacity."""
        quantity, kept = self._store(now, packs)
        self._delivered += quantity
        self._deliveries += 1
        return kept

    def buy_by_hand(self, now: datetime, packs: int) -> float:
        """Someone brings ``packs`` packs home at ``now``; return what fitted within capacity."""
        quantity, kept = self._store(now, packs)
        self._bought_by_hand += quantity
        return kept

    def _store(self, now: datetime, packs: int) -> tuple[float, float]:
        """Put ``packs`` packs away at ``now``, throwing away what does not fit.

        Return the quantity that arrived and the quantity that fitted.
        """
        if packs < 1:
            raise SimulatorError(f"an arrival of {self.item.id!r} needs at least one pack")
        self.expire(now)
        quantity = packs * self.item.pack_size
        kept = min(quantity, max(self.item.capacity - self.level, 0.0))
        self._wasted_overflow += quantity - kept
        if kept > 0:
            self._lots.append(Lot(kept, self._expiry(self._now)))
            self._lots.sort(key=_expiry_key)
            self._record(self._now)
        return quantity, kept

    def summary(self, now: datetime) -> StockSummary:
        """The counters so far, counting a stock-out still going on up to ``now``."""
        now = max(now, self._now)
        stockout = self._stockout
        if self._empty_since is not None:
            stockout += now - self._empty_since
        return StockSummary(
            item=self.item.id,
            demanded=self._demanded,
            served=self._served,
            delivered=self._delivered,
            deliveries=self._deliveries,
            bought_by_hand=self._bought_by_hand,
            wasted_expired=self._wasted_expired,
            wasted_overflow=self._wasted_overflow,
            stockout_hours=stockout / timedelta(hours=1),
            lowest=self._lowest,
            level=self.level,
        )

    def _expiry(self, now: datetime) -> datetime | None:
        days = self.item.shelf_life_days
        return None if days is None else now + timedelta(days=days)

    def _advance(self, now: datetime) -> datetime:
        if now.tzinfo is None:
            raise SimulatorError("stock updates need timezone-aware times")
        self._now = max(self._now, now)
        return self._now

    def _record(self, now: datetime) -> None:
        if self.level <= EPSILON:
            self._lots.clear()
        level = self.level
        self._history.append(LevelChange(now, level))
        self._lowest = min(self._lowest, level)
        if level <= EPSILON and self._empty_since is None:
            self._empty_since = now
        elif level > EPSILON and self._empty_since is not None:
            self._stockout += now - self._empty_since
            self._empty_since = None


class Stock:
    """The true stock of every item of a household."""

    def __init__(self, items: Iterable[ItemSpec], *, start: datetime) -> None:
        self._items: dict[str, ItemStock] = {}
        for item in items:
            if item.id in self._items:
                raise SimulatorError(f"item id {item.id!r} appears twice")
            self._items[item.id] = ItemStock(item, start=start)

    def __getitem__(self, item_id: str) -> ItemStock:
        try:
            return self._items[item_id]
        except KeyError:
            raise SimulatorError(f"the household stocks no item {item_id!r}") from None

    def __iter__(self) -> Iterator[ItemStock]:
        return iter(self._items.values())

    def level(self, item_id: str) -> float:
        return self[item_id].level

    def consume(self, now: datetime, item_id: str, quantity: float) -> float:
        return self[item_id].consume(now, quantity)

    def deliver(self, now: datetime, item_id: str, packs: int) -> float:
        return self[item_id].deliver(now, packs)

    def buy_by_hand(self, now: datetime, item_id: str, packs: int) -> float:
        return self[item_id].buy_by_hand(now, packs)

    def expire(self, now: datetime) -> tuple[str, ...]:
        """Throw away every lot expired by ``now``; return the ids of items that lost some."""
        return tuple(stock.item.id for stock in self._items.values() if stock.expire(now) > 0)

    def next_expiry(self) -> datetime | None:
        """When the next lot of any item expires, or ``None`` if none will."""
        due = [when for stock in self._items.values() if (when := stock.next_expiry()) is not None]
        return min(due, default=None)

    def summary(self, now: datetime) -> tuple[StockSummary, ...]:
        return tuple(stock.summary(now) for stock in self._items.values())
