"""A simulated home, sans-I/O: its true stock, its use, its hand shopping, its devices.

:class:`SimulatedHome` merges everything that happens in a scenario into one timeline,
event by event rather than tick by tick: the household's uses (from the consumption
model or a demand CSV), groceries bought by hand, lots expiring, deliveries, and what
each appliance's firmware does on its own (heartbeats, faults). It returns the MQTT
messages the devices publish, in order; it never publishes them. ``restock simulate
--out`` writes them to a file, the MQTT adapter (:mod:`simulators.devices`) publishes them
on a clock, and ``restock evaluate`` feeds them straight to a policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from edge_agent.catalog import Device, ItemSpec
from simulators.errors import SimulatorError
from simulators.firmware import DeviceFirmware, Message
from simulators.household import Consumption, ConsumptionModel, HandPurchase
from simulators.scenario import Scenario
from simulators.stock import Stock, StockSummary


class SimulatedHome:
    """One scenario's household, advanced by whoever drives it.

    Call :meth:`boot` once, then :meth:`advance` to successive instants (and
    :meth:`deliver` when an order arrives), then :meth:`shut_down`. ``demand``
    replaces the consumption model with given uses (a demand CSV).
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        demand: Iterable[Consumption] | None = None,
        household_id: str | None = None,
        seed: int | None = None,
    ) -> None:
        household = scenario.household
        self.scenario = scenario
        self.household_id = household_id or household.id
        self.seed = household.seed if seed is None else seed
        self.stock = Stock(scenario.items, start=scenario.start)
        model = ConsumptionModel(scenario.items, seed=self.seed, model=scenario.model)
        uses = demand if demand is not None else model.events(scenario.start, household.days)
        self._uses: Iterator[Consumption] = iter(uses)
        self._purchases: Iterator[HandPurchase] = iter(
            model.purchases(scenario.start, household.days)
        )
        self._next_use = next(self._uses, None)
        self._next_purchase = next(self._purchases, None)
        by_device: dict[Device, list[ItemSpec]] = {}
        for item in scenario.items:
            by_device.setdefault(item.device, []).append(item)
        self.firmware = {
            device: DeviceFirmware(
                household=self.household_id,
                device=device,
                items=items,
                settings=scenario.sensors,
                seed=self.seed,
                start=scenario.start,
                end=scenario.end,
            )
            for device, items in by_device.items()
        }
        self._firmware_of = {item.id: self.firmware[item.device] for item in scenario.items}
        self.now = scenario.start
        self._booted = False
        self._shut_down = False

    @property
    def end(self) -> datetime:
        return self.scenario.end

    def boot(self) -> list[Message]:
        """Every device comes online at the scenario's start and reports each item."""
        if self._booted:
            raise SimulatorError(f"household {self.household_id!r} has already booted")
        self._booted = True
        messages: list[Message] = []
        for firmware in self.firmware.values():
            messages += firmware.boot(self.now, self.stock.level)
        return messages

    def next_due(self) -> datetime | None:
        """When something next happens on its own, or ``None`` once the scenario is over."""
        if self._shut_down:
            return None
        candidates = [
            self._next_use.ts if self._next_use else None,
            self._next_purchase.ts if self._next_purchase else None,
            self.stock.next_expiry(),
            *(firmware.next_due() for firmware in self.firmware.values()),
        ]
        due = min((when for when in candidates if when is not None), default=None)
        return due if due is not None and due <= self.end else None

    def advance(self, until: datetime) -> list[Message]:
        """Live every event up to ``until`` (at most the end); return the messages."""
        self._check_running()
        until = min(until, self.end)
        messages: list[Message] = []
        while (due := self.next_due()) is not None and due <= until:
            messages += self._step(due)
        self.now = max(self.now, until)
        return messages

    def deliver(self, now: datetime, item_id: str, packs: int) -> tuple[float, list[Message]]:
        """``packs`` of ``item_id`` arrive at ``now``: the quantity kept, and the messages.

        The home first lives every event up to ``now``, so the messages include theirs.
        """
        self._check_running()
        firmware = self._firmware_of.get(item_id)
        if firmware is None:
            raise SimulatorError(f"household {self.household_id!r} stocks no item {item_id!r}")
        messages = self.advance(now)
        kept = self.stock.deliver(self.now, item_id, packs)
        messages += firmware.level_changed(self.now, item_id, self.stock.level(item_id))
        return kept, messages

    def shut_down(self) -> list[Message]:
        """The devices go offline at the end of the scenario (or now, if stopped early)."""
        if self._shut_down or not self._booted:
            return []
        self._shut_down = True
        messages: list[Message] = []
        for firmware in self.firmware.values():
            messages += firmware.shutdown(self.now)
        return messages

    def run(self) -> Iterator[Message]:
        """Boot, live the whole scenario with no deliveries, shut down: every message, in order."""
        yield from self.boot()
        while (due := self.next_due()) is not None:
            yield from self.advance(due)
        self.now = self.end
        yield from self.shut_down()

    def summary(self) -> tuple[StockSummary, ...]:
        """Each item's summary up to now."""
        return self.stock.summary(self.now)

    def _step(self, due: datetime) -> list[Message]:
        """Everything that happens at ``due``: expiries, shopping, uses, then the firmware."""
        self.now = max(self.now, due)
        messages: list[Message] = []
        for item_id in self.stock.expire(due):
            messages += self._changed(due, item_id)
        while self._next_purchase is not None and self._next_purchase.ts <= due:
            purchase = self._next_purchase
            self.stock.buy_by_hand(purchase.ts, purchase.item, purchase.packs)
            messages += self._changed(due, purchase.item)
            self._next_purchase = next(self._purchases, None)
        while self._next_use is not None and self._next_use.ts <= due:
            use = self._next_use
            if use.item not in self._firmware_of:
                raise SimulatorError(f"a use of unknown item {use.item!r} at {use.ts}")
            if self.stock.consume(use.ts, use.item, use.quantity) > 0:
                messages += self._changed(due, use.item)
            self._next_use = next(self._uses, None)
        for firmware in self.firmware.values():
            if (wake := firmware.next_due()) is not None and wake <= due:
                messages += firmware.wake(due, self.stock.level)
        return messages

    def _changed(self, now: datetime, item_id: str) -> list[Message]:
        return self._firmware_of[item_id].level_changed(now, item_id, self.stock.level(item_id))

    def _check_running(self) -> None:
        if not self._booted or self._shut_down:
            raise SimulatorError(f"household {self.household_id!r} is not running")
