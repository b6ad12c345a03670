"""Device firmware: the messages a fridge publishes over simulated days, fault by fault.

Each run boots a fridge with milk (a load cell) and eggs (a counter), uses some of both
every few hours, wakes the firmware whenever it is due, and shuts it down at the end.
Faults are detected from the messages alone, as the agent would see them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

import msgspec
import pytest

from edge_agent import protocol
from edge_agent.catalog import Device, ItemSpec, LeadTime, SensorKind
from simulators.errors import SimulatorError
from simulators.firmware import DeviceFirmware, Message
from simulators.scenario import (
    DropoutFault,
    DuplicateFault,
    NoiseFault,
    OutOfOrderFault,
    RebootFault,
    SensorSettings,
    SpikeFault,
    StuckFault,
    TareDriftFault,
)
from tests.items import EGGS as COUNTED_EGGS
from tests.items import MILK, T0

HOUSEHOLD = "home"
DAYS = 6
END = T0 + timedelta(days=DAYS)
EGGS = msgspec.structs.replace(COUNTED_EGGS, initial=24)
FILTER = ItemSpec(
    id="water_filter",
    name="Water filter",
    device=Device.WATER_FILTER,
    sensor=SensorKind.LEVEL,
    unit="L",
    pack_size=150,
    capacity=300,
    lead_time_hours=LeadTime(48, 120),
    price=12.99,
    initial=210,
)
#: How often each item is used, and how much each time.
USES = {"milk": (timedelta(minutes=90), 12.0), "eggs": (timedelta(hours=6), 1.0)}

#: Every fault off, noise included.
QUIET = SensorSettings(noise=None)
ALL_FAULTS = SensorSettings(
    noise=NoiseFault(),
    tare_drift=TareDriftFault(),
    stuck=StuckFault(per_week=3.0),
    dropouts=DropoutFault(per_week=3.0),
    spikes=SpikeFault(per_day=2.0),
    duplicates=DuplicateFault(probability=0.1),
    out_of_order=OutOfOrderFault(probability=0.1),
    reboots=RebootFault(per_week=3.0),
)


def with_faults(base: SensorSettings = QUIET, **faults: object) -> SensorSettings:
    return msgspec.structs.replace(base, **faults)


@dataclass(frozen=True, slots=True)
class Sent:
    """A reading message, decoded."""

    message: Message
    item: str
    reading: protocol.Reading


@dataclass(frozen=True, slots=True)
class Run:
    """What one simulated run published, and the true levels it was given."""

    firmware: DeviceFirmware
    messages: list[Message]
    history: dict[str, list[tuple[datetime, float]]]

    def truth(self, item: str, when: datetime) -> float:
        """The true level of ``item`` at ``when``."""
        changes = self.history[item]
        return changes[bisect_right([at for at, _ in changes], when) - 1][1]

    def readings(self, item: str | None = None) -> list[Sent]:
        sent = [
            Sent(message, topic.item, protocol.decode_reading(message.payload))
            for message in self.messages
            if isinstance(topic := protocol.parse_topic(message.topic), protocol.ReadingTopic)
        ]
        return [one for one in sent if item is None or one.item == item]

    def availability(self) -> list[tuple[datetime, bytes]]:
        return [
            (message.at, message.payload)
            for message in self.messages
            if message.topic.endswith("/availability")
        ]


def uses(items: tuple[ItemSpec, ...], end: datetime) -> Iterator[tuple[datetime, str, float]]:
    """Each item used every so often, merged into one timeline."""
    timeline: list[tuple[datetime, str, float]] = []
    for item in items:
        every, quantity = USES[item.id]
        # Off the hour, so no use coincides with a heartbeat.
        at = T0 + every / 2 + timedelta(minutes=7)
        while at < end:
            timeline.append((at, item.id, quantity))
            at += every
    return iter(sorted(timeline))


def quiet_firmware(*items: ItemSpec) -> DeviceFirmware:
    """Firmware of the first item's appliance, with no faults, seed 1, over T0-END."""
    return DeviceFirmware(
        household=HOUSEHOLD,
        device=items[0].device,
        items=items,
        settings=QUIET,
        seed=1,
        start=T0,
        end=END,
    )


def wake_until(firmware: DeviceFirmware, when: datetime, levels: dict[str, float]) -> list[Message]:
    messages: list[Message] = []
    while (due := firmware.next_due()) is not None and due <= when:
        messages += firmware.wake(due, levels.__getitem__)
    return messages


def simulate(
    settings: SensorSettings,
    *,
    items: tuple[ItemSpec, ...] = (MILK, EGGS),
    seed: int = 3,
    use: bool = True,
) -> Run:
    """Boot, use the items over ``DAYS`` days waking the firmware when due, shut down."""
    firmware = DeviceFirmware(
        household=HOUSEHOLD,
        device=items[0].device,
        items=items,
        settings=settings,
        seed=seed,
        start=T0,
        end=END,
    )
    levels = {item.id: item.initial for item in items}
    history = {item.id: [(T0, item.initial)] for item in items}
    messages = firmware.boot(T0, levels.__getitem__)
    for at, item_id, quantity in uses(items, END) if use else iter(()):
        messages += wake_until(firmware, at, levels)
        levels[item_id] = max(levels[item_id] - quantity, 0.0)
        history[item_id].append((at, levels[item_id]))
        messages += firmware.level_changed(at, item_id, levels[item_id])
    messages += wake_until(firmware, END, levels)
    messages += firmware.shutdown(END)
    return Run(firmware, messages, history)


def offline_spans(run: Run) -> list[tuple[datetime, datetime]]:
    """Each ``offline`` up to the next ``online`` (the final shutdown has none)."""
    spans: list[tuple[datetime, datetime]] = []
    went: datetime | None = None
    for at, payload in run.availability():
        if payload == protocol.OFFLINE:
            went = at
        elif went is not None:
            spans.append((went, at))
            went = None
    return spans


# --- the plain device ------------------------------------------------------------------


def test_boot_announces_online_then_reads_every_item() -> None:
    """Power on: retained ``online``, then readings of milk and eggs with seq 0 and 1."""
    run = simulate(QUIET)
    first = run.messages[0]
    assert (first.topic, first.payload, first.retain) == (
        protocol.availability_topic(HOUSEHOLD, Device.FRIDGE),
        protocol.ONLINE,
        True,
    )
    boot = run.readings()[:2]
    assert [(sent.item, sent.reading.seq, sent.reading.value) for sent in boot] == [
        ("milk", 0, 3000.0),
        ("eggs", 1, 24.0),
    ]
    assert all(not sent.message.retain and sent.reading.ts == T0 for sent in boot)
    assert boot[0].message.topic == protocol.reading_topic(HOUSEHOLD, "fridge", "milk")


def test_shutdown_ends_with_retained_offline() -> None:
    """A clean power-off says ``offline`` itself, retained."""
    last = simulate(QUIET).messages[-1]
    assert (last.at, last.payload, last.retain) == (END, protocol.OFFLINE, True)


@pytest.mark.parametrize("minutes", [60.0, 25.0])
def test_heartbeat_reads_every_item_at_its_cadence(minutes: float) -> None:
    """With nothing used, the device still reads every item once per heartbeat."""
    run = simulate(with_faults(heartbeat_minutes=minutes), use=False)
    beat = timedelta(minutes=minutes)
    for item in ("milk", "eggs"):
        instants = [sent.message.at for sent in run.readings(item)]
        assert instants[0] == T0
        assert {later - earlier for earlier, later in pairwise(instants)} == {beat}
        assert instants[-1] + beat >= END


def test_level_changes_are_reported_only_when_the_sensed_value_changes() -> None:
    """The same level again is not news; a new level is, with the next seq."""
    firmware = quiet_firmware(MILK)
    firmware.boot(T0, lambda _: 3000.0)
    later = T0 + timedelta(minutes=5)
    assert firmware.level_changed(later, "milk", 3000.0) == []
    (message,) = firmware.level_changed(later, "milk", 2750.0)
    reading = protocol.decode_reading(message.payload)
    assert (message.at, reading.ts, reading.value, reading.seq) == (later, later, 2750.0, 1)


def test_messages_come_in_publish_order_with_readings_timed_by_measurement() -> None:
    """With every fault on, ``at`` never goes back, and no reading is from the future."""
    run = simulate(ALL_FAULTS)
    instants = [message.at for message in run.messages]
    assert instants == sorted(instants)
    assert all(sent.reading.ts <= sent.message.at for sent in run.readings())


def test_same_inputs_give_identical_messages() -> None:
    """Deterministic from the seed: two runs agree to the byte; another seed does not."""
    assert simulate(ALL_FAULTS).messages == simulate(ALL_FAULTS).messages
    assert simulate(ALL_FAULTS).messages != simulate(ALL_FAULTS, seed=4).messages


def test_water_filter_reports_litres_through_the_cartridge() -> None:
    """210 L of filter life left is 90 L through the installed cartridge; empty reads 150."""
    firmware = quiet_firmware(FILTER)
    _, boot = firmware.boot(T0, lambda _: 210.0)
    later = T0 + timedelta(hours=0.5)
    values = [protocol.decode_reading(boot.payload).value]
    for level in (149.0, 0.0):
        (message,) = firmware.level_changed(later, "water_filter", level)
        values.append(protocol.decode_reading(message.payload).value)
    assert values == [90.0, 1.0, 150.0]


# --- noise -----------------------------------------------------------------------------


def errors(run: Run, item: str) -> list[float]:
    """Reported minus true level, for each reading of ``item``."""
    return [sent.reading.value - run.truth(item, sent.reading.ts) for sent in run.readings(item)]


def test_noise_scatters_load_cell_readings_around_the_truth() -> None:
    """Noise on: milk readings miss the truth by a gram or few, both ways, on average not."""
    milk_errors = errors(simulate(with_faults(noise=NoiseFault(grams=2.0))), "milk")
    assert sum(error != 0 for error in milk_errors) > len(milk_errors) / 2
    assert min(milk_errors) < 0 < max(milk_errors)
    assert abs(sum(milk_errors) / len(milk_errors)) < 0.5
    assert max(abs(error) for error in milk_errors) < 12


def test_without_noise_every_reading_is_the_truth() -> None:
    """Noise off: each reading is exactly the true level when it was measured."""
    run = simulate(QUIET)
    assert set(errors(run, "milk")) == {0.0}
    assert set(errors(run, "eggs")) == {0.0}


def test_counters_are_exact_with_noise_on() -> None:
    """Eggs are counted, so noise does not touch them."""
    assert set(errors(simulate(with_faults(noise=NoiseFault(grams=5.0))), "eggs")) == {0.0}


# --- tare drift ------------------------------------------------------------------------


def test_tare_drift_makes_a_constant_level_trend_away() -> None:
    """Nothing used, no noise: with drift the milk reading creeps steadily off 3000 g."""
    creep = with_faults(tare_drift=TareDriftFault(per_day=0.02, daily=0.0))
    values = [sent.reading.value for sent in simulate(creep, use=False).readings("milk")]
    assert abs(values[-1] - values[0]) > 20
    assert values in (sorted(values), sorted(values, reverse=True))


def test_tare_drift_daily_cycle_swings_and_repeats() -> None:
    """A daily cycle alone: readings swing within each day and repeat a day later."""
    cycle = with_faults(tare_drift=TareDriftFault(per_day=0.0, daily=0.005))
    values = [sent.reading.value for sent in simulate(cycle, use=False).readings("milk")]
    assert max(values[:24]) - min(values[:24]) > 20
    assert values[24:48] == pytest.approx(values[:24], abs=1)


def test_without_tare_drift_a_constant_level_reads_constant() -> None:
    """Nothing used, no noise, no drift: every milk reading is 3000 g."""
    readings = simulate(QUIET, use=False).readings("milk")
    assert {sent.reading.value for sent in readings} == {3000.0}


# --- stuck -----------------------------------------------------------------------------


def frozen_runs(run: Run, item: str) -> list[list[Sent]]:
    """Runs of three or more identical readings across which the true level changed."""
    found: list[list[Sent]] = []
    current: list[Sent] = []
    for sent in run.readings(item):
        if current and sent.reading.value != current[-1].reading.value:
            current = []
        current.append(sent)
        truths = {run.truth(item, one.reading.ts) for one in current}
        if len(current) == 3 and len(truths) > 1:
            found.append(current)
    return found


STUCK = with_faults(noise=NoiseFault(), stuck=StuckFault(per_week=5.0, hours=(3.0, 6.0)))


def test_a_stuck_sensor_repeats_its_value_while_the_level_falls() -> None:
    """Stuck on: hours of identical milk readings while milk is being drunk."""
    run = simulate(STUCK)
    frozen = frozen_runs(run, "milk")
    assert frozen
    sensor = run.firmware.sensors["milk"]
    assert all(sensor.stuck_at(run_[-1].reading.ts) is not None for run_ in frozen)


def test_without_stuck_the_readings_follow_the_falling_level() -> None:
    """Stuck off (noise on): no value outlives a change of the true level."""
    assert frozen_runs(simulate(with_faults(noise=NoiseFault())), "milk") == []


# --- dropouts --------------------------------------------------------------------------

DROPOUTS = with_faults(dropouts=DropoutFault(per_week=5.0, hours=(2.0, 5.0)))


def test_dropouts_are_hours_offline_without_readings() -> None:
    """Dropouts on: ``offline`` .. ``online`` gaps of hours, then every item read again."""
    run = simulate(DROPOUTS)
    spans = offline_spans(run)
    assert len(spans) >= 2
    for went, came in spans:
        assert timedelta(hours=2) <= came - went <= timedelta(hours=5)
        assert not [sent for sent in run.readings() if went <= sent.message.at < came]
        back = [sent.item for sent in run.readings() if sent.message.at == came]
        assert back == ["milk", "eggs"]


def test_without_dropouts_the_device_stays_online() -> None:
    """Dropouts off: the only ``offline`` is the shutdown's."""
    offline = [at for at, payload in simulate(QUIET).availability() if payload == protocol.OFFLINE]
    assert offline == [END]


def test_nothing_is_read_while_offline() -> None:
    """Every fault on: between ``offline`` and ``online`` no reading is published."""
    run = simulate(ALL_FAULTS)
    assert offline_spans(run)
    states: list[bytes] = []
    for message in run.messages:
        if message.topic.endswith("/availability"):
            states.append(message.payload)
        else:
            assert states[-1] == protocol.ONLINE, message


# --- reboots ---------------------------------------------------------------------------

REBOOTS = with_faults(reboots=RebootFault(per_week=5.0))


def test_a_reboot_goes_offline_briefly_and_restarts_seq() -> None:
    """Reboots on: ``offline``, ``online`` seconds later, and readings from seq 0 again."""
    run = simulate(REBOOTS)
    spans = offline_spans(run)
    assert len(spans) >= 2
    for went, came in spans:
        assert timedelta(seconds=1) <= came - went <= timedelta(minutes=1)
        after = [sent.reading.seq for sent in run.readings() if sent.message.at >= came]
        assert after[:2] == [0, 1]


def test_without_reboots_seq_never_restarts() -> None:
    """Reboots off: seq counts up from the boot's 0 to the end without a restart."""
    seqs = [sent.reading.seq for sent in simulate(QUIET).readings()]
    assert seqs == list(range(len(seqs)))
    assert len(seqs) > 100


# --- spikes ----------------------------------------------------------------------------

SPIKES = with_faults(spikes=SpikeFault(per_day=2.0, size=(0.1, 0.3), seconds=20.0))


def spikes_seen(run: Run, item: str, least: float, seconds: float) -> list[tuple[Sent, Sent]]:
    """A reading ``least`` above the last, followed within ``seconds`` by the truth again."""
    found: list[tuple[Sent, Sent]] = []
    readings = run.readings(item)
    for before, jump, after in zip(readings, readings[1:], readings[2:], strict=False):
        lift = jump.reading.value - before.reading.value
        back = after.reading.ts - jump.reading.ts <= timedelta(seconds=seconds)
        truth = run.truth(item, after.reading.ts)
        if lift >= least and back and after.reading.value == truth:
            found.append((jump, after))
    return found


def test_spikes_jump_and_return_within_their_seconds() -> None:
    """Spikes on: milk jumps by at least a tenth of capacity, eggs by a few, and settle back."""
    run = simulate(SPIKES)
    assert len(spikes_seen(run, "milk", 0.1 * MILK.capacity, 20)) >= 5
    assert len(spikes_seen(run, "eggs", 1, 20)) >= 5
    lifts = {
        jump.reading.value - run.truth("eggs", jump.reading.ts)
        for jump, _ in spikes_seen(run, "eggs", 1, 20)
    }
    assert lifts <= {1.0, 2.0, 3.0}


def test_without_spikes_readings_never_jump_up() -> None:
    """Spikes off: with only use and no deliveries, no reading rises above the last."""
    run = simulate(QUIET)
    for item in ("milk", "eggs"):
        values = [sent.reading.value for sent in run.readings(item)]
        assert values == sorted(values, reverse=True)


# --- duplicates ------------------------------------------------------------------------


def duplicates(run: Run) -> list[Message]:
    return [
        later
        for earlier, later in pairwise(run.messages)
        if (earlier.topic, earlier.payload) == (later.topic, later.payload)
        and "/reading" in later.topic
    ]


def test_duplicates_repeat_a_reading_back_to_back() -> None:
    """Duplicates on: the same payload (same seq) twice in a row, at the same instant."""
    run = simulate(with_faults(duplicates=DuplicateFault(probability=0.2)))
    twice = duplicates(run)
    assert len(twice) > 20
    seqs = [sent.reading.seq for sent in run.readings()]
    assert len(set(seqs)) == len(seqs) - len(twice)


def test_without_duplicates_every_reading_is_published_once() -> None:
    """Duplicates off: no payload repeats."""
    run = simulate(QUIET)
    assert duplicates(run) == []
    assert len({message.payload for message in run.messages}) == len(run.messages)


# --- out of order ----------------------------------------------------------------------


def reordered(run: Run) -> list[tuple[Sent, Sent]]:
    """Consecutive readings whose seq goes down with no reboot (``online``) between them."""
    found: list[tuple[Sent, Sent]] = []
    previous: Sent | None = None
    for message in run.messages:
        if message.payload == protocol.ONLINE:
            previous = None
        elif "/reading" in message.topic:
            sent = Sent(message, "", protocol.decode_reading(message.payload))
            if previous is not None and sent.reading.seq < previous.reading.seq:
                found.append((previous, sent))
            previous = sent
    return found


def test_out_of_order_readings_arrive_after_the_next_one() -> None:
    """Out of order on: seq steps back by one, the late reading keeping its own ts."""
    run = simulate(with_faults(out_of_order=OutOfOrderFault(probability=0.1)))
    swaps = reordered(run)
    assert len(swaps) > 10
    for newer, late in swaps:
        assert late.reading.seq == newer.reading.seq - 1
        assert late.message.at == newer.message.at
        assert late.reading.ts <= newer.reading.ts


def test_without_out_of_order_seq_always_steps_up() -> None:
    """Out of order off (reboots on): seq never goes down except across a reboot."""
    assert reordered(simulate(REBOOTS)) == []


def test_shutdown_releases_a_held_back_reading_before_offline() -> None:
    """A reading held back when the device powers off is published just before ``offline``."""
    # Every reading is held until the next one; 100-minute heartbeats over six days
    # make 87 readings, so the last is still held at the end.
    always = with_faults(heartbeat_minutes=100, out_of_order=OutOfOrderFault(probability=1.0))
    run = simulate(always, items=(MILK,), use=False)
    *_, held, offline = run.messages
    assert offline.payload == protocol.OFFLINE
    assert held.at == END
    assert protocol.decode_reading(held.payload).ts < END


# --- faults are independent ------------------------------------------------------------


@pytest.mark.parametrize(
    "toggled", ["noise", "tare_drift", "stuck", "spikes", "duplicates", "out_of_order"]
)
def test_another_fault_does_not_move_the_dropouts(toggled: str) -> None:
    """Switching an unrelated fault on leaves every ``offline`` and ``online`` in place."""
    alone = simulate(DROPOUTS)
    other = simulate(with_faults(DROPOUTS, **{toggled: getattr(ALL_FAULTS, toggled)}))
    assert other.firmware.dropouts == alone.firmware.dropouts
    assert other.availability() == alone.availability()


def test_dropouts_do_not_move_the_reboots_or_the_spikes() -> None:
    """Reboot and spike schedules are the same with dropouts on or off."""
    base = with_faults(reboots=RebootFault(per_week=5.0), spikes=SpikeFault())
    alone = simulate(base).firmware
    other = simulate(with_faults(base, dropouts=DropoutFault(per_week=5.0))).firmware
    assert other.dropouts
    assert other.reboots == alone.reboots
    assert other.sensors["milk"].spikes == alone.sensors["milk"].spikes


# --- misuse ----------------------------------------------------------------------------


def test_items_of_another_device_are_refused() -> None:
    """A fridge does not meter a water filter."""
    with pytest.raises(SimulatorError, match="does not sense items"):
        quiet_firmware(MILK, FILTER)


def test_a_level_change_past_a_due_wake_is_refused() -> None:
    """The caller must wake the firmware at ``next_due`` before moving on past it."""
    firmware = quiet_firmware(MILK)
    firmware.boot(T0, lambda _: 3000.0)
    with pytest.raises(SimulatorError, match="wake it before"):
        firmware.level_changed(T0 + timedelta(hours=2), "milk", 2900.0)


def test_time_must_not_go_backwards() -> None:
    """Instants given to the firmware never decrease."""
    firmware = quiet_firmware(MILK)
    firmware.boot(T0, lambda _: 3000.0)
    firmware.level_changed(T0 + timedelta(minutes=30), "milk", 2900.0)
    with pytest.raises(SimulatorError, match="already at"):
        firmware.level_changed(T0 + timedelta(minutes=10), "milk", 2800.0)
