"""The running agent: MQTT in, SQLite state, HTTP out, around the sans-I/O brain."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

import aiomqtt

from edge_agent import protocol
from edge_agent.bridge_client import BridgeClient
from edge_agent.budget import AWAITING_APPROVAL, DECLINED, BudgetSettings, month_start
from edge_agent.catalog import ItemSpec
from edge_agent.clock import Clock, SystemClock
from edge_agent.config import AgentConfig
from edge_agent.core import DECIDE_EVERY, Brain, OrderDecision, ReadingRejected
from edge_agent.errors import BridgeError, ProtocolError
from edge_agent.estimator import HISTORY
from edge_agent.health import SensorHealth, health_note, quiet_together_note
from edge_agent.home_assistant import discovery_messages, removal_messages
from edge_agent.mqtt_link import BrokerUrl, MqttLink
from edge_agent.policy import PolicySettings
from edge_agent.store import AgentStore

log = logging.getLogger(__name__)

#: Bridge answers that will not change however often the order is resent.
PERMANENT_REFUSALS = frozenset({400, 404, 409, 413, 422})
RETRY_FIRST = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)
#: How often the agent looks for approvals and declines made with `restock agent`.
APPROVAL_POLL = timedelta(seconds=30)
#: Each item's outlook is published this often on the agent's clock, and at once when
#: its sensor's state changes.
OUTLOOK_EVERY = timedelta(hours=1)


class AgentService:
    """One household's agent. :meth:`handle` is the single entry for MQTT messages."""

    def __init__(
        self,
        *,
        household: str,
        device: str,
        items: Iterable[ItemSpec],
        broker: BrokerUrl,
        bridge: BridgeClient,
        store: AgentStore,
        clock: Clock,
        network_clock: Clock | None = None,
        settings: PolicySettings | None = None,
        budget: BudgetSettings | None = None,
        home_assistant: str | None = None,
    ) -> None:
        self.household = household
        self.device = device
        self.broker = broker
        self.bridge = bridge
        self.store = store
        self.clock = clock
        # Reconnect delays are about the network, so they run in real time.
        self._network_clock = network_clock or SystemClock()
        self.brain = Brain(household, items, settings, budget=budget)
        #: Home Assistant's discovery prefix, if the items are to show there.
        self.home_assistant = home_assistant
        self.dropped: Counter[str] = Counter()
        #: Messages on the household's reading topics handled so far, good or bad.
        self.readings_received = 0
        self.online: dict[str, bool] = {}
        self._wake_outbox = asyncio.Event()
        #: Set while the agent is connected and subscribed to its household.
        self.connected = asyncio.Event()
        self._link: MqttLink | None = None
        #: Each item's sensor state as last looked at, and when its outlook was last
        #: published on this connection.
        self._health: dict[str, protocol.SensorState] = {}
        self._outlook_at: dict[str, datetime] = {}
        self._restore()

    @classmethod
    def from_config(
        cls, config: AgentConfig, *, clock: Clock, signing_clock: Clock | None = None
    ) -> AgentService:
        agent = config.agent
        return cls(
            household=agent.household,
            device=agent.device,
            items=config.items,
            broker=BrokerUrl.parse(agent.broker),
            bridge=BridgeClient(
                agent.bridge_url,
                household=agent.household,
                device=agent.device,
                secret=agent.secret,
                signing_clock=signing_clock,
            ),
            store=AgentStore(agent.database),
            clock=clock,
            network_clock=signing_clock,
            budget=agent.budget,
            home_assistant=agent.home_assistant,
        )

    def _restore(self) -> None:
        """Rebuild the brain from the readings and orders kept on disk."""
        now = self.clock.now()
        self.brain.replay(self.store.readings_since(now - HISTORY), now)
        # This month's orders count towards its spending; recent refusals hold items back.
        since = min(month_start(now), now - self.brain.settings.after_refusal)
        for order in self.store.orders_for_restart(since):
            self.brain.track(
                order.decision,
                order.status,
                approved_at=order.approved_at,
                changed_at=order.updated_at,
            )
        if self.store.orders(queued_only=True):
            self._wake_outbox.set()

    # --- MQTT in ------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes) -> None:
        """Process one MQTT message. Bad input is logged and dropped, never raised."""
        try:
            self._dispatch(protocol.parse_topic(topic), payload)
        except (ProtocolError, ReadingRejected) as exc:
            self.dropped[type(exc).__name__] += 1
            log.warning("dropped message on %s: %s", topic, exc)
        except Exception:
            self.dropped["internal"] += 1
            log.exception("failed to process message on %s; dropped it", topic)

    def _dispatch(self, topic: protocol.Topic, payload: bytes) -> None:
        now = self.clock.now()
        match topic:
            case protocol.ReadingTopic(household=household) if household != self.household:
                raise ProtocolError(f"reading for household {household!r}, not ours")
            case protocol.ReadingTopic(device=device, item=item):
                self.readings_received += 1
                reading = protocol.decode_reading(payload)
                decisions = self.brain.on_reading(item, reading, now, device=device)
                self.store.add_reading(device, item, reading)
                self._persist(decisions, now)
            case protocol.AvailabilityTopic(device=device):
                self.online[device] = protocol.decode_availability(payload)
                log.info("device %s is %s", device, "online" if self.online[device] else "offline")
            case protocol.OrderUpdateTopic(order_id=order_id):
                self._apply_update(order_id, protocol.decode_order_update(payload), now)
            case protocol.AgentStatusTopic() | protocol.ItemOutlookTopic():
                pass  # what the agent itself publishes, echoed back

    def _apply_update(self, order_id: str, update: protocol.OrderUpdate, now: datetime) -> None:
        request_id = update.request_id or self.store.request_id_for(order_id)
        if request_id is None:
            raise ProtocolError(f"order update for {order_id!r}, which this agent did not place")
        self.store.set_status(request_id, update.status, now)
        self.brain.update_status(request_id, update.status, now)
        log.info("order %s is %s", order_id, update.status)

    def decide(self, now: datetime) -> list[OrderDecision]:
        """Ask the brain; persist any order before anything tries to send it."""
        return self._persist(self.brain.decide(now), now)

    def _persist(self, decisions: list[OrderDecision], now: datetime) -> list[OrderDecision]:
        """Save each decided order before anything may send it; one that cannot be saved
        is withdrawn from the brain, to be decided afresh."""
        saved = []
        for decision in decisions:
            try:
                self.store.save_order(decision, now)
            except Exception:
                self.brain.withdraw(decision.request_id)
                log.exception(
                    "could not save order %s, so it is not placed; the next decision"
                    " orders afresh what is still due",
                    decision.request_id,
                )
                continue
            saved.append(decision)
            if decision.awaiting_approval:
                log.warning(
                    "order %s awaits approval (restock agent approve %s): %s",
                    decision.request_id,
                    decision.request_id,
                    decision.explanation,
                )
            else:
                log.info("order %s: %s", decision.request_id, decision.explanation)
                self._wake_outbox.set()
        return saved

    def sync_approvals(self) -> list[str]:
        """Take in approvals and declines made in the store by `restock agent approve`
        or `decline`; return the ids of the orders approved, now queued to be sent.
        """
        now = self.clock.now()
        approved = []
        for decision in self.brain.awaiting_approval:
            status = self.store.status(decision.request_id)
            if status in (None, AWAITING_APPROVAL):
                continue
            if status == DECLINED:
                self.brain.decline(decision.request_id, now)
                log.info("order %s was declined", decision.request_id)
            else:
                self.brain.approve(decision.request_id, now)
                approved.append(decision.request_id)
                log.info("order %s was approved", decision.request_id)
        if approved:
            self._wake_outbox.set()
        return approved

    # --- running ------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled: listen, decide on a tick, and drain the outbox."""
        async with self.bridge, asyncio.TaskGroup() as tasks:
            tasks.create_task(self._listen())
            tasks.create_task(self._tick())
            tasks.create_task(self._drain_outbox())
            tasks.create_task(self._watch_approvals())

    async def _listen(self) -> None:
        delay = 1.0
        while True:
            try:
                async with MqttLink(self.broker, household=self.household) as link:
                    self._link = link
                    self.connected.set()
                    delay = 1.0
                    self._outlook_at.clear()
                    await self._publish_status()
                    await self._announce(link)
                    await self._withdraw_gone(link)
                    await self._publish_outlooks()
                    async for topic, payload in link.messages():
                        self.handle(topic, payload)
            except aiomqtt.MqttError as exc:
                log.warning("MQTT link to %s lost (%s); retrying in %.0fs", self.broker, exc, delay)
            finally:
                self._link = None
                self.connected.clear()
            await self._network_clock.sleep(delay)
            delay = min(delay * 2, 60.0)

    async def _publish_status(self) -> None:
        if self._link is None:
            return
        try:
            await self._link.publish_status(
                now=self.clock.now(), pending_orders=len(self.brain.open_orders)
            )
        except aiomqtt.MqttError as exc:
            log.warning("could not publish agent status: %s", exc)

    async def _announce(self, link: MqttLink) -> None:
        """Announce every item's entities to Home Assistant, if it is configured."""
        if self.home_assistant is None:
            return
        items = list(self.brain.items.values())
        for message in discovery_messages(self.home_assistant, self.household, items):
            await link.publish_retained(message.topic, message.payload)

    async def _withdraw_gone(self, link: MqttLink) -> None:
        """Clear what was published for items no longer in the catalog: their retained
        outlooks, and their Home Assistant entities, so they leave the dashboard."""
        for item_id in self.store.outlook_items():
            if item_id in self.brain.items:
                continue
            await link.publish_retained(protocol.item_outlook_topic(self.household, item_id), b"")
            if self.home_assistant is not None:
                for message in removal_messages(self.home_assistant, self.household, item_id):
                    await link.publish_retained(message.topic, message.payload)
            self.store.forget_outlook(item_id)
            log.info("%s is no longer in the catalog: its outlook is withdrawn", item_id)

    async def _tick(self) -> None:
        while True:
            await self.clock.sleep(DECIDE_EVERY.total_seconds())
            try:
                self.decide(self.clock.now())
                await self._publish_status()
                await self._publish_outlooks()
            except Exception:
                # A fault in one tick must not stop the agent: the next tick tries again.
                log.exception("the agent's tick failed; trying again at the next")

    def _check_health(self, now: datetime) -> set[str]:
        """Look at every item's sensor; log what changed, and return the items whose state did.

        Sensors gone silent or offline together are one warning, not one each: the link
        they share is the likelier cause (each item's own note is still logged, at info).
        """
        changed: dict[str, tuple[protocol.SensorState | None, SensorHealth]] = {}
        for item_id in self.brain.items:
            health = self.brain.sensor_health(item_id, now)
            before = self._health.get(item_id)
            self._health[item_id] = health.state
            if health.state != before:
                changed[item_id] = (before, health)
        together: dict[protocol.SensorState, list[str]] = {}
        for item_id, (_, health) in changed.items():
            if health.state in ("silent", "offline"):
                together.setdefault(health.state, []).append(item_id)
        for state, item_ids in together.items():
            if len(item_ids) > 1:
                gone = [(self.brain.items[i], changed[i][1]) for i in item_ids]
                log.warning("%s", quiet_together_note(state, gone))
        for item_id, (before, health) in changed.items():
            note = health_note(self.brain.items[item_id], health)
            if before not in (None, "waiting") and note is None:
                log.info("%s: the sensor reads soundly again (was %s)", item_id, before)
            elif note is not None and health.state != "waiting":
                grouped = len(together.get(health.state, ())) > 1
                log.log(logging.INFO if grouped else logging.WARNING, "%s: %s", item_id, note)
        return set(changed)

    async def _publish_outlooks(self) -> None:
        """Make, keep and publish the outlook of each item whose sensor changed state, or
        that is due (``restock agent items`` shows the kept ones).

        The time is read afresh for each item: messages handled while a publish awaits
        its acknowledgement move the brain on.
        """
        changed = self._check_health(self.clock.now())
        for item_id in self.brain.items:
            now = self.clock.now()
            last = self._outlook_at.get(item_id)
            if not (item_id in changed or last is None or now - last >= OUTLOOK_EVERY):
                continue
            try:
                outlook = self.brain.outlook(item_id, now)
                self.store.save_outlook(outlook)
            except Exception:
                # On connecting as on the tick: one item's outlook must not stop the rest,
                # nor the agent.
                log.exception("could not make %s's outlook", item_id)
                continue
            self._outlook_at[item_id] = now
            if self._link is None:
                continue
            try:
                await self._link.publish_outlook(outlook)
            except aiomqtt.MqttError as exc:
                log.warning("could not publish %s's outlook: %s", item_id, exc)
                self._outlook_at.clear()  # publish them all once the link is back
                return

    async def _watch_approvals(self) -> None:
        # A person approves in real time, whatever the speed of the agent's clock.
        while True:
            await self._network_clock.sleep(APPROVAL_POLL.total_seconds())
            try:
                self.sync_approvals()
            except Exception:
                log.exception("could not take in approvals; trying again")

    async def _drain_outbox(self) -> None:
        failures = 0
        while True:
            try:
                if not self.store.orders(queued_only=True):
                    await self._wake_outbox.wait()
                self._wake_outbox.clear()
                retry = await self.send_queued()
            except Exception:
                # Say the database was locked: each order stays queued under its id,
                # so sending again can neither lose it nor have the bridge place it twice.
                log.exception("the outbox failed; trying again")
                retry = True
            failures = failures + 1 if retry else 0
            if failures:
                backoff = min(RETRY_FIRST * 2 ** (failures - 1), RETRY_MAX)
                await self.clock.sleep(backoff.total_seconds())

    async def send_queued(self) -> bool:
        """Send every queued order once; return whether any must be tried again."""
        retry = False
        for order in self.store.orders(queued_only=True):
            request_id = order.decision.request_id
            now = self.clock.now()
            try:
                placed = await self.bridge.place_order(order.decision)
            except BridgeError as exc:
                self.store.record_attempt(request_id, str(exc), now)
                if exc.status in PERMANENT_REFUSALS:
                    log.error("bridge refused order %s for good: %s", request_id, exc)
                    self.store.set_status(request_id, "rejected", now)
                    self.brain.update_status(request_id, "rejected", now)
                else:
                    log.warning("order %s not sent yet: %s", request_id, exc)
                    retry = True
                continue
            self.store.confirm(request_id, placed.order_id, placed.status, now)
            self.brain.update_status(request_id, placed.status, now)
        return retry
