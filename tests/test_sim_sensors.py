"""Item sensors: the reported quantity, rounding, and each fault that a sensor applies."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from itertools import pairwise

import msgspec
import pytest

from edge_agent.catalog import Device, ItemSpec, LeadTime, SensorKind
from simulators.scenario import (
    NoiseFault,
    SensorSettings,
    SpikeFault,
    StuckFault,
    TareDriftFault,
)
from simulators.sensors import ItemSensor, reported_quantity
from tests.items import MILK, T0

DAYS = 14
END = T0 + timedelta(days=DAYS)
QUIET = SensorSettings(noise=None)


def item(**changes: object) -> ItemSpec:
    """MILK with some fields changed."""
    return msgspec.structs.replace(MILK, **changes)


EGGS = item(id="eggs", sensor=SensorKind.COUNT, unit="egg", pack_size=10, capacity=30, initial=12)
DETERGENT = item(id="detergent", device=Device.WASHER, sensor=SensorKind.LEVEL, unit="ml")
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


def sensor(spec: ItemSpec = MILK, settings: SensorSettings = QUIET, seed: int = 5) -> ItemSensor:
    return ItemSensor(spec, settings, seed=seed, household="home", start=T0, end=END)


def with_faults(**faults: object) -> SensorSettings:
    return msgspec.structs.replace(QUIET, **faults)


def hourly(days: int = DAYS) -> list[datetime]:
    return [T0 + timedelta(hours=hour) for hour in range(days * 24)]


# --- the reported quantity and rounding ------------------------------------------------


@pytest.mark.parametrize(
    ("level", "through"),
    [(210, 90), (150, 0), (300, 0), (75, 75), (151, 149), (1, 149), (0, 150)],
)
def test_water_filter_reports_litres_through_the_installed_cartridge(
    level: float, through: float
) -> None:
    """150 L cartridges: 210 L left is a fresh spare plus 60 L in a cartridge 90 L used."""
    assert reported_quantity(FILTER, level) == pytest.approx(through)


def test_other_devices_report_the_level() -> None:
    """Only the water filter converts; a fridge reports what is on its load cell."""
    assert reported_quantity(MILK, 812.5) == 812.5


def test_water_filter_sensor_samples_the_litres_through() -> None:
    """The conversion happens before the sensor rounds: 0.1 L steps of filtered water."""
    filter_sensor = sensor(FILTER)
    assert filter_sensor.sample(T0, 210) == 90.0
    assert filter_sensor.sample(T0, 149.96) == 0.0
    assert filter_sensor.sample(T0, 0) == 150.0


@pytest.mark.parametrize(
    ("spec", "level", "reported"),
    [
        (MILK, 812.6, 813.0),
        (item(unit="kg", capacity=4.0, pack_size=1.0, initial=1.0), 1.23456, 1.235),
        (item(sensor=SensorKind.LEVEL, unit="L"), 12.345, 12.3),
        (DETERGENT, 523.6, 524.0),
        (EGGS, 5, 5.0),
    ],
)
def test_samples_round_to_the_places_of_the_unit(
    spec: ItemSpec, level: float, reported: float
) -> None:
    """Grams and millilitres whole, kilograms to 3 places, litres to 1, counts whole."""
    assert sensor(spec).sample(T0, level) == reported


def test_reported_values_are_never_negative() -> None:
    """A noisy, drifting load cell on an empty shelf reads 0, never less."""
    noisy = sensor(settings=with_faults(noise=NoiseFault(grams=50), tare_drift=TareDriftFault()))
    values = [noisy.sample(when, 0.0) for when in hourly()]
    assert min(values) == 0.0
    assert max(values) > 0.0


# --- noise -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "noise", "sd"),
    [
        (MILK, NoiseFault(grams=4.0), 4.0),
        (DETERGENT, NoiseFault(level=0.01), 0.01 * DETERGENT.capacity),
        (
            item(unit="kg", capacity=4.0, pack_size=1.0, initial=1.0),
            NoiseFault(grams=20.0),
            0.02,
        ),
    ],
)
def test_noise_has_the_configured_spread(spec: ItemSpec, noise: NoiseFault, sd: float) -> None:
    """Load cells scatter by grams (converted to the unit), gauges by a share of capacity."""
    noisy = sensor(spec, with_faults(noise=noise))
    level = spec.capacity / 2
    values = [noisy.sample(when, level) for when in hourly()]
    assert statistics.mean(values) == pytest.approx(level, abs=sd / 4)
    assert statistics.stdev(values) == pytest.approx(sd, rel=0.15)


def test_without_noise_samples_are_exact() -> None:
    """Noise off: every sample is the true level, rounded."""
    exact = sensor(settings=QUIET)
    assert {exact.sample(when, 1234.0) for when in hourly()} == {1234.0}


def test_counters_are_exact_even_with_noise_on() -> None:
    """An egg tray counts; noise applies to load cells and gauges only."""
    counter = sensor(EGGS, with_faults(noise=NoiseFault(grams=50, level=0.1)))
    assert {counter.sample(when, 7) for when in hourly()} == {7.0}


# --- tare drift ------------------------------------------------------------------------


def test_tare_drift_off_means_no_offset() -> None:
    """Without tare drift the zero never moves."""
    still = sensor(settings=QUIET)
    assert {still.offset(when) for when in hourly()} == {0.0}


def test_tare_drift_is_a_pure_function_of_time() -> None:
    """The offset at an instant is the same however often and in whatever order it is asked."""
    drifting = sensor(settings=with_faults(tare_drift=TareDriftFault()))
    instants = hourly()
    forward = [drifting.offset(when) for when in instants]
    backward = [drifting.offset(when) for when in reversed(instants)]
    assert forward == backward[::-1]
    assert any(offset != 0 for offset in forward)


def test_tare_drift_creep_grows_linearly() -> None:
    """With no daily cycle the offset is a straight line through 0 at the start."""
    creeping = sensor(settings=with_faults(tare_drift=TareDriftFault(per_day=0.01, daily=0.0)))
    one_day = creeping.offset(T0 + timedelta(days=1))
    assert one_day != 0
    assert creeping.offset(T0) == 0
    assert creeping.offset(T0 + timedelta(days=5)) == pytest.approx(5 * one_day)


def test_tare_drift_daily_cycle_repeats_each_day() -> None:
    """With no creep the offset swings within a day, by up to the amplitude, and repeats."""
    daily = 0.01
    cycling = sensor(settings=with_faults(tare_drift=TareDriftFault(per_day=0.0, daily=daily)))
    day_one = [cycling.offset(T0 + timedelta(hours=hour)) for hour in range(24)]
    day_six = [cycling.offset(T0 + timedelta(days=5, hours=hour)) for hour in range(24)]
    assert day_six == pytest.approx(day_one, abs=1e-6)
    amplitude = daily * MILK.capacity
    assert max(day_one) - min(day_one) > amplitude
    assert max(abs(offset) for offset in day_one) <= amplitude


def test_tare_drift_differs_between_sensors_and_skips_counters() -> None:
    """Each sensor has its own creep and phase; a counter has no zero to drift."""
    drift = with_faults(tare_drift=TareDriftFault())
    later = T0 + timedelta(days=3, hours=5)
    assert sensor(MILK, drift).offset(later) != sensor(item(id="cream"), drift).offset(later)
    assert sensor(EGGS, drift).offset(later) == 0.0


# --- stuck -----------------------------------------------------------------------------

STUCK = with_faults(stuck=StuckFault(per_week=3.0, hours=(2.0, 6.0)))


def test_stuck_episodes_are_drawn_over_the_span() -> None:
    """Episodes lie in the scenario, last as configured and do not overlap."""
    episodes = sensor(settings=STUCK).stuck
    assert len(episodes) >= 2
    for episode in episodes:
        assert T0 <= episode.start < END
        assert timedelta(hours=2) <= episode.end - episode.start <= timedelta(hours=6)
    for before, after in pairwise(episodes):
        assert before.end <= after.start


def test_a_stuck_sensor_keeps_its_last_value_until_the_episode_ends() -> None:
    """Inside an episode the true level falls but the sample stays; after it, it follows."""
    stuck = sensor(settings=STUCK)
    episode = stuck.stuck[0]
    before = episode.start - timedelta(minutes=5)
    assert stuck.sample(before, 2000.0) == 2000.0
    inside = [episode.start + (episode.end - episode.start) * share for share in (0, 0.5, 0.99)]
    assert [stuck.sample(when, 1500.0) for when in inside] == [2000.0] * 3
    assert stuck.stuck_at(episode.end) is None
    assert stuck.sample(episode.end, 1500.0) == 1500.0


def test_without_the_stuck_fault_samples_follow_the_level() -> None:
    """Stuck off: no episodes, and a falling level is always seen."""
    free = sensor(settings=QUIET)
    assert free.stuck == ()
    levels = [3000.0 - 5 * hour for hour in range(DAYS * 24)]
    assert [free.sample(when, level) for when, level in zip(hourly(), levels, strict=True)] == (
        levels
    )


# --- spikes (drawn here, applied by the firmware) --------------------------------------

SPIKES = with_faults(spikes=SpikeFault(per_day=2.0, size=(0.1, 0.3), seconds=20.0))


def test_spikes_lift_by_a_share_of_capacity_and_end_after_their_seconds() -> None:
    """A load cell's spike lifts it by size times capacity, for the configured seconds."""
    spikes = sensor(settings=SPIKES).spikes
    assert len(spikes) >= 10
    for spike in spikes:
        assert T0 <= spike.at < END
        assert spike.until - spike.at == timedelta(seconds=20)
        assert 0.1 * MILK.capacity <= spike.lift <= 0.3 * MILK.capacity


def test_counter_spikes_are_miscounts_of_one_to_three() -> None:
    """An egg tray does not jump by a share of capacity; it miscounts by a few eggs."""
    lifts = {spike.lift for spike in sensor(EGGS, SPIKES).spikes}
    assert lifts <= {1.0, 2.0, 3.0}
    assert len(lifts) > 1


def test_spikes_are_not_applied_by_sample() -> None:
    """The sample at a spike's instant is the plain value; the firmware adds the lift."""
    spiky = sensor(settings=SPIKES)
    assert {spiky.sample(spike.at, 1000.0) for spike in spiky.spikes} == {1000.0}


# --- determinism and independence ------------------------------------------------------

EVERYTHING = with_faults(
    noise=NoiseFault(),
    tare_drift=TareDriftFault(),
    stuck=StuckFault(per_week=3.0),
    spikes=SpikeFault(),
)


def test_same_seed_same_samples_other_seed_other_samples() -> None:
    """Sensors are deterministic from the seed, and the seed matters."""
    levels = [3000.0 - 7 * hour for hour in range(DAYS * 24)]

    def samples(seed: int) -> list[float]:
        one = sensor(settings=EVERYTHING, seed=seed)
        return [one.sample(when, level) for when, level in zip(hourly(), levels, strict=True)]

    assert samples(5) == samples(5)
    assert samples(5) != samples(6)


@pytest.mark.parametrize("toggled", ["noise", "tare_drift", "spikes"])
def test_other_faults_leave_the_stuck_schedule_alone(toggled: str) -> None:
    """Switching another fault on or off does not move the stuck episodes."""
    without = sensor(settings=STUCK).stuck
    with_it = sensor(
        settings=msgspec.structs.replace(STUCK, **{toggled: getattr(EVERYTHING, toggled)})
    )
    assert with_it.stuck == without


@pytest.mark.parametrize("toggled", ["noise", "tare_drift", "stuck"])
def test_other_faults_leave_the_spikes_alone(toggled: str) -> None:
    """Switching another fault on or off does not move or resize the spikes."""
    without = sensor(settings=SPIKES).spikes
    with_it = sensor(
        settings=msgspec.structs.replace(SPIKES, **{toggled: getattr(EVERYTHING, toggled)})
    )
    assert with_it.spikes == without


def test_stuck_episodes_do_not_shift_the_noise() -> None:
    """Outside stuck episodes a noisy sensor reports the same values with stuck on or off."""
    noise = with_faults(noise=NoiseFault())
    plain = sensor(settings=noise)
    sticky = sensor(settings=msgspec.structs.replace(noise, stuck=StuckFault(per_week=3.0)))
    instants = hourly()
    pairs = [(plain.sample(when, 2000.0), sticky.sample(when, 2000.0)) for when in instants]
    free = [pair for when, pair in zip(instants, pairs, strict=True) if not sticky.stuck_at(when)]
    assert len(free) < len(pairs)
    assert all(left == right for left, right in free)
