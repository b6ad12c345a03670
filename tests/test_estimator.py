"""Level estimation from noisy readings."""

from __future__ import annotations

import random
from collections import deque
from datetime import timedelta

import msgspec
import pytest

from edge_agent.catalog import SensorKind
from edge_agent.creep import Installation
from edge_agent.estimator import DRIFT_PER_DAY, LevelEstimator
from tests.items import COFFEE, DETERGENT, EGGS, MILK, T0, WATER_FILTER


def feed(estimator: LevelEstimator, values: list[float], step: timedelta = timedelta(hours=1)):
    refills = []
    for i, value in enumerate(values):
        refill = estimator.observe(T0 + i * step, value)
        if refill is not None:
            refills.append(refill)
    return refills


def test_single_spike_is_ignored() -> None:
    """A hand on the shelf for one reading changes neither level nor consumption."""
    estimator = LevelEstimator(MILK)
    refills = feed(estimator, [2000, 2000, 3900, 2000, 2000])
    assert refills == []
    assert estimator.estimate is not None
    assert estimator.estimate.level == 2000
    assert estimator.consumed_between(T0, T0 + timedelta(hours=5)) == 0


def test_refill_is_detected_once_with_its_size() -> None:
    """A lasting rise of two packs is one refill of about two packs."""
    estimator = LevelEstimator(MILK)
    refills = feed(estimator, [900, 900, 2900, 2900, 2900])
    assert len(refills) == 1
    assert refills[0].quantity == 2000
    assert estimator.estimate is not None
    assert estimator.estimate.level == 2900


def test_consumption_across_a_dropout_is_the_level_difference() -> None:
    """Hours without readings count no consumption beyond what the next reading shows."""
    estimator = LevelEstimator(MILK)
    estimator.observe(T0, 3000)
    estimator.observe(T0 + timedelta(hours=1), 3000)
    estimator.observe(T0 + timedelta(hours=30), 2500)
    estimator.observe(T0 + timedelta(hours=31), 2500)
    assert estimator.consumed_between(T0, T0 + timedelta(hours=31)) == pytest.approx(500)


def test_duplicate_and_late_readings_are_ignored() -> None:
    """A reading not newer than the last one changes nothing."""
    estimator = LevelEstimator(MILK)
    feed(estimator, [3000, 2800, 2600])
    before = estimator.estimate
    estimator.observe(T0 + timedelta(hours=1), 100)
    estimator.observe(T0 + timedelta(hours=2), 100)
    assert estimator.estimate == before


def test_a_spike_down_is_ignored_too() -> None:
    """A water filter's spike reads as less left: a fall that springs back is no use."""
    estimator = LevelEstimator(MILK)
    refills = feed(estimator, [2000, 2000, 200, 2000, 2000])
    assert refills == []
    assert estimator.spikes == 1
    assert estimator.consumed_between(T0, T0 + timedelta(hours=5)) == 0


def test_a_big_use_is_believed_when_the_next_reading_agrees() -> None:
    estimator = LevelEstimator(MILK)
    feed(estimator, [3000, 3000, 1500, 1480, 1480])
    assert estimator.estimate is not None
    assert estimator.estimate.level == pytest.approx(1480, abs=20)
    assert estimator.consumed_between(T0, T0 + timedelta(hours=5)) == pytest.approx(1520, abs=20)


def test_noise_adds_up_to_no_consumption() -> None:
    """Readings that wobble around a steady level record next to no use: the fall is net."""
    rng = random.Random(1)
    estimator = LevelEstimator(MILK)
    feed(estimator, [round(2000 + rng.gauss(0, 8)) for _ in range(24 * 14)])
    consumed = estimator.consumed_between(T0, T0 + timedelta(days=14))
    assert abs(consumed) < 30  # a sum of falls alone would make this thousands of grams
    assert estimator.noise == pytest.approx(8, rel=0.35)


def test_a_stuck_sensor_is_not_taken_for_a_stop_in_use() -> None:
    """A noisy sensor that repeats itself exactly has stuck: the level's time stays at the
    last reading that showed life, and the fall on release is spread over the stuck span."""
    rng = random.Random(2)
    estimator = LevelEstimator(MILK)
    values = [round(3000 - 10 * hour + rng.gauss(0, 5)) for hour in range(24)]
    values += [values[-1]] * 12 + [2640, 2630, 2620]
    feed(estimator, values)
    assert estimator.stuck is False
    # Hours 24-35 were stuck: their use shows, spread, once the sensor came back.
    stuck_span = estimator.consumed_between(T0 + timedelta(hours=25), T0 + timedelta(hours=35))
    assert stuck_span == pytest.approx(100, abs=40)


def test_stuck_while_it_lasts() -> None:
    rng = random.Random(3)
    estimator = LevelEstimator(MILK)
    values = [round(3000 - 10 * hour + rng.gauss(0, 5)) for hour in range(24)]
    feed(estimator, [*values, *[values[-1]] * 6])
    assert estimator.stuck is True
    assert estimator.estimate is not None
    assert estimator.estimate.ts <= T0 + timedelta(hours=26)


def test_a_counter_repeating_itself_is_not_stuck() -> None:
    """Counters have no noise: the same count hour after hour is the truth."""
    tablets = msgspec.structs.replace(
        MILK, id="tablets", unit="tablet", pack_size=40, capacity=120, initial=50
    )
    estimator = LevelEstimator(tablets)
    feed(estimator, [50] * 10 + [49] * 24 + [48] * 24)
    assert estimator.stuck is False
    assert estimator.estimate is not None
    assert estimator.estimate.ts == T0 + timedelta(hours=57)
    assert len(estimator.uses) == 2


def test_only_weighed_and_gauged_levels_have_a_drifting_zero() -> None:
    """A load cell's zero wanders more the longer it runs; a count of tablets has none."""
    counted = msgspec.structs.replace(
        MILK,
        id="tablets",
        sensor=SensorKind.COUNT,
        unit="tablet",
        pack_size=40,
        capacity=120,
        initial=50,
    )
    tablets, milk = LevelEstimator(counted), LevelEstimator(MILK)
    feed(tablets, [50, 49, 49, 48], step=timedelta(days=5))
    feed(milk, [3000, 2900, 2800, 2700], step=timedelta(days=5))
    assert tablets.estimate is not None
    assert milk.estimate is not None
    assert tablets.estimate.drift == 0.0
    assert milk.estimate.drift == pytest.approx(DRIFT_PER_DAY * MILK.capacity * 15)


@pytest.mark.parametrize("creep_per_day", [0.0, 8.0, 16.0])
def test_the_zero_is_doubted_no_further_than_the_lowest_and_highest_levels_allow(
    creep_per_day: float,
) -> None:
    """Ten months of milk, used three times a day and brought three cartons at a time
    when the fridge runs low, on a cell that does not creep, or creeps up one or two sd
    of what a zero wanders: no full store ever shows the zero, but the stock is never
    below none nor above the fridge, so the lowest and highest levels read bound it.
    The doubt stays under 600 g, and the truth within two sd of it (before: it grew
    for good, to 860-1,320 g by the end, and orders came ever earlier and smaller)."""
    rng = random.Random(3)
    estimator = LevelEstimator(MILK)
    level = 3800.0
    for hour in range(24 * 300):
        if hour % 24 in (7, 12, 19):
            level = max(level - 130, 0.0)
        if hour % 24 == 10 and level < 700:
            level += 3000
        value = level + creep_per_day * hour / 24 + rng.gauss(0, 2)
        estimator.observe(T0 + timedelta(hours=hour), round(value, 1))
    estimate = estimator.estimate
    assert estimate is not None
    assert estimate.drift < 600
    assert abs(estimate.level - level) < 2 * estimate.drift


def test_a_sensor_seen_to_creep_clearly_is_as_sure_of_its_zero_as_of_the_rate() -> None:
    """Milk on a load cell creeping up 100 g a day, ten sd of what a zero ordinarily
    wanders: the estimator takes out the creep the quiet nights show, back to the first
    reading, and doubts the zero by the fitted rate's own doubt over those days (no
    less than the wander), not by half the creep, and the truth is within two sd of
    that doubt (before: doubted by 366 g, half a kilogram a week on)."""
    rng = random.Random(5)
    estimator = LevelEstimator(MILK)
    level = 3000.0
    for hour in range(24 * 10):
        if hour % 24 in (7, 19):
            level -= 100
        value = level + 100 * hour / 24 + rng.gauss(0, 2)
        estimator.observe(T0 + timedelta(hours=hour), round(value, 1))
    estimate = estimator.estimate
    assert estimate is not None
    allowed = DRIFT_PER_DAY * MILK.capacity * 10
    assert estimator.offset > 5 * allowed
    assert estimate.drift < 0.25 * estimator.offset
    assert abs(estimate.level - level) < 2 * estimate.drift


def _creeping_milk(
    creep_per_day: float, seed: int, days: int = 30, *, glass: float = 60.0, splash: float = 0.0
) -> tuple[LevelEstimator, float]:
    """Milk on a load cell (2 g noise) creeping up ``creep_per_day``, a ``glass`` at 7 and
    at 19, a ``splash`` in a coffee every other hour of the day, and a delivery at noon
    when low, read hourly; the estimator and the true level."""
    rng = random.Random(seed)
    estimator = LevelEstimator(MILK)
    level = 3500.0
    for hour in range(24 * days):
        if hour % 24 in (7, 19):
            level -= glass
        elif 8 <= hour % 24 <= 22 and hour % 2:
            level -= splash
        if hour % 24 == 12 and level < 1500:
            level += 2000
        value = level + creep_per_day * hour / 24 + rng.gauss(0, 2)
        estimator.observe(T0 + timedelta(hours=hour), round(value, 1))
    return estimator, level


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_creep_the_quiet_hours_between_uses_show_is_taken_out_of_the_level(seed: int) -> None:
    """A zero creeping up as much as a load cell's ordinarily does (one sd a day) hides
    use: the slope of the readings between uses shows it, and over 30 days the level
    stays within a third of the creep of the truth (left alone, it would be all of it)."""
    creep = DRIFT_PER_DAY * MILK.capacity
    estimator, level = _creeping_milk(creep, seed)
    assert estimator.estimate is not None
    assert abs(estimator.estimate.level - level) < creep * 30 / 3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_creep_down_the_quiet_hours_show_is_taken_out_where_uses_are_plain(seed: int) -> None:
    """The same creep downwards shows use that never was; where the use comes in glasses
    well above the noise (nine in ten of what falls), the quiet hours between them show
    the creep for what it is."""
    creep = DRIFT_PER_DAY * MILK.capacity
    estimator, level = _creeping_milk(-creep, seed, glass=150.0)
    assert estimator.estimate is not None
    assert abs(estimator.estimate.level - level) < creep * 30 / 3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_splashes_too_small_to_tell_from_noise_are_not_taken_for_a_creep_down(seed: int) -> None:
    """Splashes of 5 g (under three noise sd, so not seen as uses) fall within the quiet
    hours just as a creep down would: with a third of the use in them, the quiet hours'
    slope is not taken for a creep, and the level follows the truth."""
    estimator, level = _creeping_milk(0.0, seed, splash=5.0)
    assert estimator.estimate is not None
    assert abs(estimator.estimate.level - level) < DRIFT_PER_DAY * MILK.capacity * 30 / 6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_level_standing_still_between_uses_is_not_taken_for_a_creep(seed: int) -> None:
    """No creep: the noise in the quiet hours adds up to less than a sixth of what one
    sd of creep would have in 30 days."""
    estimator, level = _creeping_milk(0.0, seed)
    assert estimator.estimate is not None
    assert abs(estimator.estimate.level - level) < DRIFT_PER_DAY * MILK.capacity * 30 / 6


def _silent_doses(creep_per_day: float, seed: int, days: int = 21) -> LevelEstimator:
    """A detergent gauge (10 ml of noise) read every half hour, creeping up
    ``creep_per_day``: 150 ml used at 20:00, and every night the washer's link drops from
    02:00 to 04:00, while a 15 ml top-up dose runs (too small to tell from noise)."""
    rng = random.Random(seed)
    estimator = LevelEstimator(DETERGENT)
    level = 2900.0
    for half_hour in range(48 * days):
        slot = half_hour % 48
        if slot == 5:
            level -= 15
        if slot == 40:
            level -= 150
        if 4 <= slot < 8:
            continue  # the link is down: no reading
        value = level + creep_per_day * half_hour / 48 + rng.gauss(0, 10)
        estimator.observe(T0 + timedelta(minutes=30 * half_hour), round(value))
    return estimator


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_dose_made_while_the_device_was_silent_does_not_cancel_a_creep(seed: int) -> None:
    """A quiet spell goes on across a gap of a few hours, but not across a missed
    heartbeat: a device silent that long was offline, and a dose too small to show,
    made meanwhile, sat inside the spell as a fall. Every night's 15 ml dose cancelled a
    creep up of 15 ml a day (fitted at -1 to -3.5, taken as none); now the creep shows
    (at least 0.3 of it, in three weeks)."""
    estimator = _silent_doses(15.0, seed)
    assert estimator.creep * 24 > 0.3 * 15


def _household_of_cells(creeps: list[float], seed: int) -> list[tuple[LevelEstimator, float]]:
    """Milk on load cells of one household (one :class:`Installation`), 20 g of noise,
    each creeping up as ``creeps`` says (g a day): a glass of 150 g at 7 and at 19 and a
    delivery at noon when low, read hourly for two weeks. Each cell's readings are the
    same whatever the others do. The estimators, and each one's true level."""
    installation = Installation()
    rngs = [random.Random(f"{seed}/{i}") for i in range(len(creeps))]
    estimators = [
        LevelEstimator(msgspec.structs.replace(MILK, id=f"milk-{i}"), installation)
        for i in range(len(creeps))
    ]
    levels = [3500.0] * len(creeps)
    for hour in range(24 * 14):
        for i, (estimator, creep) in enumerate(zip(estimators, creeps, strict=True)):
            if hour % 24 in (7, 19):
                levels[i] -= 150
            if hour % 24 == 12 and levels[i] < 1500:
                levels[i] += 2000
            value = levels[i] + creep * hour / 24 + rngs[i].gauss(0, 20)
            estimator.observe(T0 + timedelta(hours=hour), round(value, 1))
    return list(zip(estimators, levels, strict=True))


def _level_error(estimator: LevelEstimator, level: float) -> float:
    assert estimator.estimate is not None
    return abs(estimator.estimate.level - level)


def test_a_faint_creep_is_believed_where_the_households_other_sensors_creep_too() -> None:
    """Cheap hardware comes a household at a time. A cell creeping 1% of its range a
    day (five times what a zero wanders) under 20 g of noise shows its creep only
    faintly in two weeks of quiet hours, and on its own is drawn most of the way to 0.
    Where the household's three other cells creep as fast, the first one's fit is
    believed: over eight households its level errs by under three quarters as much as
    alone. Where the others stand still, they lend it no belief."""
    fast = 0.01 * MILK.capacity
    alone, beside_fast, beside_still = 0.0, 0.0, 0.0
    for seed in range(8):
        [(lone, level)] = _household_of_cells([fast], seed)
        (pooled, _), *_ = _household_of_cells([fast] * 4, seed)
        (kept, _), *_ = _household_of_cells([fast, 0.0, 0.0, 0.0], seed)
        alone += _level_error(lone, level)
        beside_fast += _level_error(pooled, level)
        beside_still += _level_error(kept, level)
    assert beside_fast < 0.75 * alone
    assert beside_still >= alone


def test_a_use_then_a_refill_are_both_seen() -> None:
    """The last of the milk drunk, then the shopping put in half an hour later: the fall
    is a use, not a spike, and the refill is the new milk alone."""
    estimator = LevelEstimator(MILK)
    refills = feed(estimator, [390, 390, 390, 0, 998, 1000, 998], step=timedelta(minutes=30))
    assert [round(refill.quantity) for refill in refills] == [998]
    assert [round(use.quantity) for use in estimator.uses] == [390]
    assert estimator.spikes == 0
    assert estimator.consumed_between(T0, T0 + timedelta(hours=4)) == pytest.approx(390, abs=2)


def test_stock_believed_from_a_delivery_is_taken_back_when_the_readings_show_it() -> None:
    """A delivery the shop confirmed while the sensor was stuck is credited to the level;
    when the sensor comes back and shows the refill, the credit goes, not counted twice."""
    estimator = LevelEstimator(MILK)
    feed(estimator, [500, 500, 500])
    estimator.believe(T0 + timedelta(hours=3), 1500)
    assert estimator.estimate is not None
    assert estimator.estimate.level == 1500
    for hour in (4, 5, 6):
        estimator.observe(T0 + timedelta(hours=hour), 1500)
    assert [round(refill.quantity) for refill in estimator.refills] == [1000]
    assert estimator.credit == 0
    assert estimator.estimate.level == 1500


def test_an_egg_tray_back_from_a_silence_is_believed_at_its_first_count() -> None:
    """A box credited while the tray was silent, and the tray back with its count from
    before: a counter repeats itself whenever no egg is used, so a repeat is no sign of a
    stuck sensor (as it is on a noisy cell) and the first count back is believed. Held
    until the count changed, the box stayed believed until an egg was used, and on
    `faulty_sensors --seed 18` the orders moved and the milk ran out 2.6 hours."""
    estimator = LevelEstimator(EGGS)
    counts = [20 - hour // 6 for hour in range(30)]  # an egg every six hours
    feed(estimator, counts)
    estimator.believe(T0 + timedelta(hours=36), counts[-1] - 1 + 10, silent=True)
    assert estimator.estimate is not None
    assert estimator.estimate.level == pytest.approx(25, abs=1)
    estimator.observe(T0 + timedelta(hours=40), 14)  # back: the box is not in the tray
    assert estimator.credit == 0
    for hour in range(41, 44):
        estimator.observe(T0 + timedelta(hours=hour), 14)
    assert estimator.estimate.level == 14


def test_believed_stock_never_lowers_what_the_readings_show() -> None:
    estimator = LevelEstimator(MILK)
    feed(estimator, [2500, 2500, 2500])
    estimator.believe(T0 + timedelta(hours=3), 1000)
    assert estimator.estimate is not None
    assert estimator.estimate.level == 2500


def test_a_delivery_that_ran_the_store_over_shows_where_the_zero_is() -> None:
    """A tank read at 2,000 ml takes a 1.5 L bottle the gauge does not show: it ran over,
    so it is full (3 L, less the 50 ml used since), and the gauge reads 950 ml low.
    Stock that would have fitted, or a counter (whose zero does not creep), says nothing
    of the zero; nor does a delivery the readings may have shown as a spike up, which a
    use just after it brought down."""
    estimator = LevelEstimator(DETERGENT)
    feed(estimator, [2000, 2000, 2000])
    at = T0 + timedelta(hours=3)
    assert not estimator.ran_over(T0, at, 2700, 50)
    assert estimator.offset == 0
    assert estimator.ran_over(T0, at, 3500, 50)
    assert estimator.offset == pytest.approx(-950)
    assert estimator.estimate is not None
    assert estimator.estimate.level == pytest.approx(2950)
    eggs = LevelEstimator(EGGS)
    feed(eggs, [25, 25, 24])
    assert not eggs.ran_over(T0, at, 34, 0)
    assert eggs.offset == 0
    spiked = LevelEstimator(DETERGENT)
    feed(spiked, [2000, 2000, 2000, 3000, 2100, 2100])
    assert spiked.spikes == 1
    assert not spiked.ran_over(T0 + timedelta(hours=2), T0 + timedelta(hours=6), 3500, 0)
    assert spiked.ran_over(T0 + timedelta(hours=4), T0 + timedelta(hours=6), 3500, 0)


def creeping_hopper(
    seed: int, days: int, *, fill_on: int | None = None
) -> tuple[LevelEstimator, float]:
    """A coffee hopper whose cell creeps up 30 g a day, eight times what a zero wanders,
    used in 12 g doses three times a day (under what noise lets a use show), read every
    half hour from 800 g; filled to capacity on day ``fill_on``. Return the estimator and
    the true level at the end."""
    rng = random.Random(seed)
    estimator = LevelEstimator(COFFEE)
    level = 800.0
    for half_hour in range(days * 48):
        if fill_on is not None and half_hour == fill_on * 48:
            level = COFFEE.capacity
        if half_hour % 48 in (14, 26, 40):  # 07:00, 13:00 and 20:00
            level = max(level - 12, 0.0)
        value = level + 30 * half_hour / 48 + rng.gauss(0, 8)
        estimator.observe(T0 + timedelta(minutes=30 * half_hour), round(value))
    return estimator, level


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_creep_up_hidden_by_daily_use_is_taken_back_to_where_the_zero_was_known(
    seed: int,
) -> None:
    """The doses leave no quiet spell to show the creep: the cell reads 650 g as the
    last beans go on day 22. Once the hopper stands empty the quiet spells show the
    creep, and it crept at that rate from the first reading, not from when it showed:
    the hopper is believed nearly empty within days (before, `--seed 3` left 825 g
    believed on day 35, read as 1 kg). The zero is then as unsure as the fitted rate
    over the days taken back, not half the creep (over 470 g before: orders for a
    hopper believed nearly empty, again and again)."""
    estimator, level = creeping_hopper(seed, days=35)
    assert level == 0
    assert estimator.offset > 0.8 * 30 * 35
    assert estimator.estimate is not None
    assert estimator.estimate.level < 250
    assert estimator.estimate.drift < 0.25 * estimator.offset


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_fill_read_over_one_and_a_half_stores_on_a_crept_up_cell_is_followed(
    seed: int,
) -> None:
    """The hopper, its cell crept up a kilogram, is filled to its 2 kg on day 36: the
    cell reads over 3 kg, more than one and a half times what it holds. Readings that
    far over are cut, as spikes, where the crept zero puts the top of the scale, not at
    3 kg: the level follows the beans used from the fill on (before, every reading was
    cut to 3 kg, the cell taken for stuck, and the level stood still for days)."""
    filled, full = creeping_hopper(seed, days=38, fill_on=36)
    later, level = creeping_hopper(seed, days=41, fill_on=36)
    assert filled.estimate is not None
    assert later.estimate is not None
    assert not later.stuck
    assert filled.estimate.level - later.estimate.level > 0.5 * (full - level)


def reported_hopper(seed: int, days: int) -> tuple[LevelEstimator, float]:
    """A coffee hopper as its machine reports it: on a half-hour heartbeat, and at once
    when a dose is ground (four 12 g doses a day, at a random minute of 07:00, 10:00,
    13:00 and 20:00), from 1.5 kg. Its cell creeps up 30 g a day. Return the estimator
    and the true level at the end."""
    rng = random.Random(seed)
    estimator = LevelEstimator(COFFEE)
    level = 1500.0
    doses = {7, 10, 13, 20}
    for half_hour in range(days * 48):
        at = timedelta(minutes=30 * half_hour)
        value = level + 30 * (at / timedelta(days=1)) + rng.gauss(0, 8)
        estimator.observe(T0 + at, round(value))
        if half_hour % 2 == 0 and half_hour % 48 // 2 in doses:
            ground = at + timedelta(minutes=rng.uniform(1, 29))
            level -= 12
            value = level + 30 * (ground / timedelta(days=1)) + rng.gauss(0, 8)
            estimator.observe(T0 + ground, round(value))
    return estimator, level


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_creep_up_is_seen_between_doses_too_small_to_show(seed: int) -> None:
    """Each 12 g dose, under what noise lets a use show, still sends a reading off the
    heartbeat: a quiet spell ends there, so the spells hold no use and show the whole
    creep while the hopper is in use. A creep eight times what a zero wanders is a
    faulty cell's, and is believed, not drawn towards the usual (before: none of it
    seen, and the hopper believed over 600 g fuller than it was after three weeks)."""
    estimator, level = reported_hopper(seed, days=21)
    assert estimator.estimate is not None
    assert abs(estimator.offset - 30 * 21) < 0.25 * 30 * 21
    assert abs(estimator.estimate.level - level) < 150


def test_milk_thrown_away_at_its_date_is_not_counted_as_use() -> None:
    """A litre delivered and never touched goes in the bin ten days on (milk keeps ten
    days): the fall is stock thrown away, not the household drinking a litre."""
    estimator = LevelEstimator(MILK)
    hours = [500.0] * 2 + [1500.0] * (24 * 10) + [500.0] * 3
    feed(estimator, hours)
    assert len(estimator.refills) == 1
    assert [use.quantity for use in estimator.thrown_away] == [1000]
    assert estimator.consumed_between(T0, T0 + timedelta(hours=len(hours))) == 0


def test_a_lot_thrown_away_is_known_with_the_zero_a_little_off() -> None:
    """The readings are only as sure as the zero, which drifts: here it slipped 150 g,
    taken for a use, so the stock believed is that much short. The first litre, none of
    it used, goes in the bin at its date with a second litre behind it; first in, first
    out, the readings say 850 g of it was left, and a fall of 1000 is still that lot
    (before: counted as use, more than the lot's rest and the margin of half a jump)."""
    estimator = LevelEstimator(MILK)
    hours = (
        [500.0] * 2  # the first stock
        + [1500.0] * 24  # a litre came
        + [1000.0] * 24  # the first stock used
        + [850.0] * 24  # the zero slipped
        + [1850.0] * (24 * 7)  # a second litre came
        + [850.0] * 3  # the first litre thrown away, ten days after it came
    )
    feed(estimator, hours)
    assert len(estimator.refills) == 2
    assert [use.quantity for use in estimator.thrown_away] == [1000]
    assert estimator.consumed_between(T0, T0 + timedelta(hours=len(hours))) == 650


def test_a_big_use_near_a_date_is_use_where_the_readings_show_little_of_the_lot() -> None:
    """Forty days on, the zero's doubt is more than half a litre, but it finds no more
    of a lot than the readings show left of it: 100 g of the first litre, so a 400 g
    pour on its date, with the second litre behind it, is use, not that lot thrown away
    (with the doubt alone, it was)."""
    estimator = LevelEstimator(MILK)
    hours = (
        [500.0] * (24 * 30)  # the first stock, a month untouched
        + [1500.0] * 24  # a litre came
        + [2500.0] * 24  # a second litre came
        + [1100.0] * (24 * 8)  # the first stock and 900 g of the first litre used
        + [700.0] * 3  # a pour, ten days after the first litre came
    )
    feed(estimator, hours)
    assert len(estimator.refills) == 2
    assert estimator.thrown_away == deque()
    assert estimator.consumed_between(T0, T0 + timedelta(hours=len(hours))) == 1800


def test_a_big_use_near_a_date_is_use_once_newer_stock_is_all_that_is_left() -> None:
    """First in, first out: the litre that arrived first was drunk long ago, and the two
    that came after it hold all the stock, so a big pour on its date is use."""
    estimator = LevelEstimator(MILK)
    hours = [500.0] * 2 + [1500.0] * 24 + [300.0] * 24 + [2300.0] * (24 * 9) + [1500.0] * 3
    feed(estimator, hours)
    assert len(estimator.refills) == 2
    assert estimator.thrown_away == deque()
    assert estimator.consumed_between(T0, T0 + timedelta(hours=len(hours))) == 2000


def creeping_detergent(creep_per_day: float, days: int = 20) -> tuple[LevelEstimator, float]:
    """A detergent tank used 60 ml a day, whose gauge's zero creeps ``creep_per_day``;
    return the estimator and the true level at the end."""
    rng = random.Random(11)
    estimator = LevelEstimator(DETERGENT)
    level = 1800.0
    for hour in range(24 * days):
        if hour % 24 == 20:
            level -= 60
        value = level + creep_per_day * hour / 24 + rng.gauss(0, 3)
        estimator.observe(T0 + timedelta(hours=hour), round(value))
    return estimator, level


def deliver(
    estimator: LevelEstimator,
    true_level: float,
    creep: float,
    packs: int,
    *,
    ordered: int = 2,
    confirmed: bool = False,
) -> float:
    """Readings of the tank after ``packs`` of the ``ordered`` bottles were put in (what
    does not fit spills), ``confirmed`` if the shop said it delivered just then; return
    the true level after."""
    started = estimator.started
    assert started is not None
    assert estimator.estimate is not None
    ts = estimator.estimate.ts
    true_level = min(true_level + packs * DETERGENT.pack_size, DETERGENT.capacity)
    for minutes in (15, 30, 45, 60):
        now = ts + timedelta(minutes=minutes)
        value = true_level + creep * (now - started) / timedelta(days=1)
        if (refill := estimator.observe(now, round(value))) is not None:
            estimator.delivered(refill, ordered * DETERGENT.pack_size, confirmed=confirmed)
    return true_level


def test_a_delivery_that_runs_the_store_over_shows_its_zero_crept_down() -> None:
    """A gauge creeping down 15 ml a day reads 300 ml short after 20 days. Two bottles
    (3 L) were delivered and the tank showed 2.7 L more: with room for them in the
    readings, the tank ran over and is full, so the gauge reads 300 ml low (new_baby's
    detergent overflowed 2.7 L as the agent went on believing it emptier than it was)."""
    estimator, level = creeping_detergent(-15)
    doubt = estimator.drift
    level = deliver(estimator, level, -15, packs=2)
    assert level == DETERGENT.capacity
    assert estimator.estimate is not None
    assert estimator.estimate.level == pytest.approx(DETERGENT.capacity, abs=15)
    # The zero is known again: the doubt about it starts afresh from the delivery.
    assert doubt == pytest.approx(DRIFT_PER_DAY * DETERGENT.capacity * 20, rel=0.01)
    assert estimator.drift < 0.01 * doubt


@pytest.mark.parametrize("creep", [0, 2, -2])
def test_a_delivery_that_runs_the_store_over_and_reads_it_full_shows_its_zero(creep: float) -> None:
    """A gauge whose zero has hardly moved (0 or 2 ml a day, both ways) reads 600 ml
    after 20 days; two bottles come, 3 L into a 3 L tank: it ran over, and reads full,
    within what a refill may show off its size. So the zero is where it was believed,
    and the doubt about it starts afresh; before, it went on growing, and a tank kept
    full by the orders it made earlier was never low enough to bound it
    (`laundry_day`'s detergent, over a year: a 3 L bottle every few days from July,
    59% of what came thrown away)."""
    estimator, level = creeping_detergent(creep)
    doubt, offset = estimator.drift, estimator.offset
    assert doubt > 50
    level = deliver(estimator, level, creep, packs=2, confirmed=True)
    assert level == DETERGENT.capacity
    assert estimator.offset == pytest.approx(offset, abs=45)
    assert estimator.estimate is not None
    assert estimator.estimate.level == pytest.approx(DETERGENT.capacity, abs=50)
    assert estimator.drift < 0.05 * doubt


def test_a_bottle_that_fits_says_nothing_of_the_zero() -> None:
    """One bottle into a tank with room for it shows whole: nothing of the zero."""
    estimator, level = creeping_detergent(0)
    doubt = estimator.drift
    deliver(estimator, level, 0, packs=1, ordered=1, confirmed=True)
    assert estimator.drift >= doubt


def test_a_delivery_short_by_two_readings_noise_says_nothing_of_the_zero() -> None:
    """Milk on a cell with 15 g of noise, used and topped up for 100 days (its zero may
    have wandered 800 g by then, for all the agent knows). A carton comes as the shop
    says, and is read from a reading 45 g high to one 20 g low: it rose 65 g short of
    the carton. A rise is two readings apart, as noisy as both: that is no store run
    over. Taken for one, the zero went down by all the fridge seemed to have room for
    (`faulty_sensors` over a year, the yogurt: 481 g, in a trial)."""
    rng = random.Random(3)
    estimator = LevelEstimator(MILK)
    level, hour = 2600.0, 0
    for hour in range(24 * 100):
        if hour % 24 in (7, 19):
            level -= 150
        if hour % 24 == 10 and level < 2200:
            level += 1000
        estimator.observe(T0 + timedelta(hours=hour), round(level + rng.gauss(0, 15)))
    assert estimator.noise == pytest.approx(15, abs=3)
    zero, before = estimator.offset, estimator.estimate
    assert before is not None
    start = T0 + timedelta(hours=hour + 1)
    estimator.observe(start, level + 45)
    level += 1000
    refill = None
    for minutes, value in ((20, level - 20), (40, level + 5), (60, level - 3)):
        refill = refill or estimator.observe(start + timedelta(minutes=minutes), value)
    assert refill is not None
    estimator.delivered(refill, 1000, confirmed=True)
    assert estimator.offset == pytest.approx(zero, abs=1)  # only the creep it follows
    assert estimator.estimate is not None
    assert estimator.estimate.level == pytest.approx(before.level + 1000, abs=30)


def test_a_hand_on_a_full_shelf_for_two_readings_is_not_taken_for_a_crept_zero() -> None:
    """Milk standing at 3.9 kg for 30 days (the zero may have wandered 240 g by then),
    then a hand on the shelf over two readings, 700 g more: more than the shelf holds,
    but no whole number of packs, so no refill to learn the zero from. Taken for one,
    the zero would be 600 g up and the milk believed 3.3 kg."""
    estimator = LevelEstimator(MILK)
    hours = 24 * 30
    feed(estimator, [3900.0] * hours)
    late = [(hours, 4600.0), (hours + 0.2, 4580.0), (hours + 0.3, 3900.0), (hours + 1, 3900.0)]
    for hour, value in late:
        estimator.observe(T0 + timedelta(hours=hour), value)
    assert estimator.offset == 0
    assert estimator.estimate is not None
    assert estimator.estimate.level == pytest.approx(3900, abs=5)


def test_a_delivery_short_of_a_whole_bottle_is_not_taken_for_a_full_tank() -> None:
    """Of the two bottles ordered one came: far more missing than the gauge's zero could
    have drifted, so the tank is not taken for full."""
    estimator, level = creeping_detergent(-15)
    level = deliver(estimator, level, -15, packs=1)
    assert estimator.offset == 0
    assert estimator.estimate is not None
    assert estimator.estimate.level == pytest.approx(level - 300, abs=15)


def test_a_refill_reading_more_than_the_store_holds_shows_its_zero_crept_up() -> None:
    """A gauge creeping up 60 ml a day reads 4.2 L after the tank was filled, and the tank
    holds 3 L. The quiet nights show the creep, ten times what a zero wanders, so it
    crept from the first reading (1.2 L, not only what the nights since showed); the
    refill agrees: the tank is full."""
    estimator, level = creeping_detergent(60)
    assert estimator.estimate is not None
    assert estimator.estimate.level == pytest.approx(level, abs=30)
    deliver(estimator, level, 60, packs=2)
    assert estimator.estimate.level == pytest.approx(DETERGENT.capacity, abs=30)


def use_detergent(estimator: LevelEstimator, true_level: float, creep: float, days: int) -> float:
    """``days`` more of 60 ml a day on a gauge whose zero creeps ``creep`` a day since its
    first reading; return the true level after."""
    rng = random.Random(12)
    started, estimate = estimator.started, estimator.estimate
    assert started is not None
    assert estimate is not None
    for hour in range(1, 24 * days + 1):
        now = estimate.ts + timedelta(hours=hour)
        if hour % 24 == 20:
            true_level -= 60
        value = true_level + creep * (now - started) / timedelta(days=1) + rng.gauss(0, 3)
        estimator.observe(now, round(value))
    return true_level


def test_a_confirmed_delivery_showing_far_more_missing_than_any_use_filled_the_store() -> None:
    """A gauge creeping down 60 ml a day, five times what a zero is allowed to wander,
    reads 600 ml low after ten days. The shop says two bottles came, and the tank shows
    1.2 L less than that: no wash takes 1.2 L, so the tank ran over and is full."""
    estimator, level = creeping_detergent(-60, days=10)
    assert 3 * estimator.drift < 600  # more than the zero's drift could explain
    level = deliver(estimator, level, -60, packs=2, confirmed=True)
    assert level == DETERGENT.capacity
    assert estimator.estimate is not None
    assert estimator.estimate.level == pytest.approx(DETERGENT.capacity, abs=20)


def test_the_same_shortfall_without_the_shops_word_is_not_a_full_store() -> None:
    """Without the shop saying it delivered then, the refill may be something else (a
    bottle bought by hand while the order is on its way): the tank is not taken for full."""
    estimator, level = creeping_detergent(-60, days=10)
    deliver(estimator, level, -60, packs=2, confirmed=False)
    assert estimator.offset == 0
    assert estimator.estimate is not None
    assert estimator.estimate.level == pytest.approx(DETERGENT.capacity - 600, abs=20)


def test_a_confirmed_delivery_showing_whole_bottles_is_bottles_left_out() -> None:
    """Two bottles confirmed, one showed, on the same creeping gauge: a whole bottle is
    a bottle the shop left out more likely than a tank that ran over just that much."""
    estimator, level = creeping_detergent(-60, days=10)
    level = deliver(estimator, level, -60, packs=1, confirmed=True)
    assert level == 1200 + DETERGENT.pack_size
    assert estimator.offset == 0
    assert estimator.estimate is not None
    assert estimator.estimate.level == pytest.approx(level - 600, abs=20)


def test_a_creep_measured_from_a_full_store_is_taken_out_of_use_and_level() -> None:
    """Once a full tank has shown where the creeping zero is, the creep since the first
    reading gives its rate: the ten days of use before count 600 ml, not the 1.2 L the
    gauge fell, and ten days on the level is still right, not 600 ml low."""
    estimator, level = creeping_detergent(-60, days=10)
    ten_days = T0 + timedelta(days=10)
    assert estimator.consumed_between(T0, ten_days) == pytest.approx(1200, abs=30)
    level = deliver(estimator, level, -60, packs=2, confirmed=True)
    assert estimator.creep == pytest.approx(-60 / 24, rel=0.05)
    assert estimator.consumed_between(T0, ten_days) == pytest.approx(600, abs=30)
    level = use_detergent(estimator, level, -60, days=10)
    assert estimator.estimate is not None
    assert estimator.estimate.level == pytest.approx(level, abs=40)
    assert estimator.consumed_between(ten_days, ten_days + timedelta(days=10)) == pytest.approx(
        600, abs=40
    )
    # The doubt about the zero is its wander alone: the creep itself is measured.
    assert estimator.estimate.drift == pytest.approx(
        DRIFT_PER_DAY * DETERGENT.capacity * 10, rel=0.05
    )


def test_a_zero_crept_below_the_scale_reads_nothing_and_is_not_believed() -> None:
    """The same gauge, 60 ml a day low, reads below its scale (nothing) from day 30 while
    1.8 L are in the tank. Those readings are no evidence: the level stays 1.8 L, dated
    from the last reading that showed some, for the forecast to take the use since off
    it. A delivery the shop confirmed then sets the level; the scale showing a level
    again is believed again."""
    estimator, level = creeping_detergent(-60, days=10)
    level = deliver(estimator, level, -60, packs=2, confirmed=True)
    use_detergent(estimator, level, -60, days=30)
    estimate = estimator.estimate
    assert estimate is not None
    assert estimator.below_scale
    assert estimate.ts < T0 + timedelta(days=30, hours=12)
    assert estimate.level == pytest.approx(1800, abs=60)
    told = T0 + timedelta(days=40, hours=2)
    estimator.believe(told, 900)
    estimate = estimator.estimate
    assert estimate is not None
    assert (estimate.ts, estimate.level) == (told, pytest.approx(900))
    for minutes in (10, 20, 30):  # a reading of 300 ml: 300 + 2.4 L of creep in the tank
        estimator.observe(told + timedelta(minutes=minutes), 300)
    assert not estimator.below_scale
    assert estimator.credit == 0
    assert estimator.estimate is not None
    assert estimator.estimate.level == pytest.approx(300 + 60 * 40, abs=60)


def test_what_is_left_goes_past_its_date_at_the_last_refills() -> None:
    """First in, first out: what is left is the newest lot, dated from when it came.
    Stock no refill brought, items that keep and a date already past have none."""
    unseen = LevelEstimator(MILK)  # keeps 10 days
    feed(unseen, [500, 500, 480])
    assert unseen.best_before(T0 + timedelta(hours=3)) is None  # the first stock
    milk = LevelEstimator(MILK)
    feed(milk, [500, 500, 480, 1480, 1480, 1470, 2470, 2470])
    came = T0 + timedelta(hours=6)
    assert [refill.ts for refill in milk.refills] == [T0 + timedelta(hours=3), came]
    assert milk.best_before(came + timedelta(days=1)) == came + timedelta(days=10)
    assert milk.best_before(came + timedelta(days=11)) is None  # the readings are believed
    detergent = LevelEstimator(DETERGENT)  # keeps
    feed(detergent, [500, 500, 2000, 2000])
    assert detergent.refills
    assert detergent.best_before(T0 + timedelta(days=1)) is None


def _gauge_with_a_big_wash(step: int) -> tuple[LevelEstimator, float]:
    """Ten days of a tank used 60 ml a day and once 900 ml, its gauge creeping down 60 ml
    a day, read every ``step`` hours; the estimator and the true level."""
    rng = random.Random(5)
    estimator = LevelEstimator(DETERGENT)
    level = 2500.0
    for hour in range(24 * 10):
        if hour % 24 == 20:
            level -= 60
        if hour == 24 * 2 + 9:
            level -= 900  # the one big wash
        if hour % step == 0:
            value = level - 60 * hour / 24 + rng.gauss(0, 3)
            estimator.observe(T0 + timedelta(hours=hour), round(value))
    return estimator, level


def test_two_confirmed_shortfalls_on_the_creeps_line_are_two_full_stores() -> None:
    """The gauge creeps down 60 ml a day, and one wash took 900 ml, so a shortfall under
    1.8 L could be a wash as the bottles went in. Read every 8 hours, it shows no quiet
    spells to fit a creep on. On day 10 two bottles come into a tank with 1 L in it and
    show 600 ml short: maybe a wash, maybe a full tank; the zero is left alone. On day 20
    one bottle comes and shows about 1.2 L short. Both put the zero on one line from
    the first reading, 60 ml a day down, as no pair of washes would: the tank is full,
    and the creep is measured."""
    estimator, level = _gauge_with_a_big_wash(step=8)
    level = deliver(estimator, level, -60, packs=2, confirmed=True)
    assert level == DETERGENT.capacity
    # One shortfall alone is no proof: the zero stays where it was, not 600 ml down.
    assert estimator.offset == 0
    level = use_detergent(estimator, level, -60, days=10)
    level = deliver(estimator, level, -60, packs=1, ordered=1, confirmed=True)
    assert level == DETERGENT.capacity
    assert estimator.estimate is not None
    assert estimator.estimate.level == pytest.approx(DETERGENT.capacity, abs=30)
    assert estimator.creep == pytest.approx(-60 / 24, rel=0.05)


def test_a_confirmed_shortfall_keeping_to_the_creep_the_quiet_hours_show_is_a_full_store() -> None:
    """The same tank read hourly: the quiet hours between washes show the gauge creeping
    down 60 ml a day (not taken: half of what falls comes in falls too small to be
    uses). Two bottles come on day 10 and show 600 ml short, as that creep from the first
    reading would: the tank is full at the first shortfall, and the creep is measured."""
    estimator, level = _gauge_with_a_big_wash(step=1)
    level = deliver(estimator, level, -60, packs=2, confirmed=True)
    assert level == DETERGENT.capacity
    assert estimator.offset == pytest.approx(-600, abs=40)
    assert estimator.estimate is not None
    assert estimator.estimate.level == pytest.approx(DETERGENT.capacity, abs=40)
    assert estimator.creep == pytest.approx(-60 / 24, rel=0.05)


def test_a_shortfalls_creep_is_counted_to_the_delivery_not_to_the_reading_that_confirms_it() -> (
    None
):
    """The same tank, whose gauge then says nothing for four days after two bottles go in
    (it reports on change, and nobody washes). The 600 ml the delivery shows short is the
    creep of the ten days until it came: counted over the fourteen until the confirming
    reading, the creep would seem 43 ml a day, not the 53 the quiet hours show, and the
    full tank would be missed (believed 650 ml short)."""
    estimator, _ = _gauge_with_a_big_wash(step=1)
    started = estimator.started
    assert started is not None
    assert estimator.estimate is not None
    came = estimator.estimate.ts + timedelta(minutes=15)
    for ts in (came, came + timedelta(days=4)):
        value = DETERGENT.capacity - 60 * (ts - started) / timedelta(days=1)
        if (refill := estimator.observe(ts, round(value))) is not None:
            estimator.delivered(refill, 2 * DETERGENT.pack_size, confirmed=True)
    assert estimator.offset == pytest.approx(-600, abs=40)
    assert estimator.estimate.level == pytest.approx(DETERGENT.capacity, abs=150)


def metered_filter(creep: float, seed: int = 1) -> tuple[LevelEstimator, list[float]]:
    """A water filter's meter, read hourly over 20 days of 5 L a day, whose zero creeps
    ``creep`` litres a day towards reading less used than was (a level too high). The
    old cartridge has 60 L left at the start; a fresh one comes on day 10. Return the
    estimator and the true level at each hour."""
    rng = random.Random(seed)
    estimator, truth = LevelEstimator(WATER_FILTER), []
    for hour in range(20 * 24):
        days = hour / 24
        level = 60 - 5 * days if days < 10 else 150 - 5 * (days - 10)
        used = max(WATER_FILTER.pack_size - level - creep * days + rng.gauss(0, 0.3), 0.0)
        reading = WATER_FILTER.level_from_reading(round(used, 1))
        estimator.observe(T0 + timedelta(hours=hour), reading)
        truth.append(level)
    return estimator, truth


def test_a_meter_at_the_end_of_its_scale_shows_where_its_zero_crept() -> None:
    """The filter's meter creeps 1 L a day towards reading less used: the fresh cartridge
    of day 10 reads exactly full for two and a half days while 12.5 L run through it,
    and the meter then counts 10 L short, then more. The spell at full scale is the
    end of the scale: the household's usual use went on unseen, and that is where the
    zero is. Ten days on, the level is near the 100 L left, not the 120 L the meter
    shows; the unseen use is counted."""
    estimator, truth = metered_filter(creep=1.0)
    estimate = estimator.estimate
    assert estimate is not None
    assert truth[-1] == pytest.approx(100, abs=0.3)
    assert estimator.offset > 8
    assert estimate.level == pytest.approx(truth[-1], abs=8)
    # The usual use the meter showed before was 4 L a day (the creep hid 1), so about
    # 10 of the 12.5 L that ran through unseen are counted.
    spell = T0 + timedelta(days=10, hours=1), T0 + timedelta(days=12, hours=12)
    assert estimator.consumed_between(*spell) == pytest.approx(5 * 2.5 - 2.5, abs=4)


def test_a_meter_that_counts_a_fresh_cartridge_at_once_shows_its_zero() -> None:
    """A meter that does not creep, over six months of 5 L a day, a fresh cartridge
    fitted whenever the old has 10 L left: each reads full and counts down from the
    first draw, so each shows where the zero is, and the doubt about it is never more
    than one cartridge's wander (before: no fresh cartridge ever showed the zero of a
    meter that does not creep, the doubt grew for good, 54 L by the sixth month, and
    each cartridge was ordered earlier than the last)."""
    rng = random.Random(4)
    estimator = LevelEstimator(WATER_FILTER)
    level = 150.0
    for hour in range(180 * 24):
        if hour % 24 in (7, 13, 19):
            level -= 5 / 3
        if level < 10 and hour % 24 == 11:
            level = 150.0
        used = max(WATER_FILTER.pack_size - level + rng.gauss(0, 0.3), 0.0)
        estimator.observe(
            T0 + timedelta(hours=hour), WATER_FILTER.level_from_reading(round(used, 1))
        )
    estimate = estimator.estimate
    assert estimate is not None
    assert estimate.drift <= DRIFT_PER_DAY * WATER_FILTER.capacity * 28
    assert estimate.level == pytest.approx(level, abs=2)


def test_a_fresh_cartridge_is_full_whatever_its_meter_reads() -> None:
    """The filter's meter creeps 3 L a day the other way, towards reading more used than
    was: the fresh cartridge of day 10 reads 120 L left. A new cartridge replaces the
    old and is full, so that is where the zero is; and with where it was at the first
    reading, it gives the creep. Ten days on, the level is near the 100 L left, not the
    40 L the meter shows, and the use counted is the 50 L that ran through, not 80."""
    estimator, truth = metered_filter(creep=-3.0)
    estimate = estimator.estimate
    assert estimate is not None
    assert truth[-1] == pytest.approx(100, abs=0.3)
    assert estimate.level == pytest.approx(truth[-1], abs=5)
    assert estimator.creep * 24 == pytest.approx(-3.0, rel=0.1)
    fresh = T0 + timedelta(days=10, hours=2), T0 + timedelta(days=20)
    assert estimator.consumed_between(*fresh) == pytest.approx(5 * 10, abs=5)


def test_a_cartridge_first_read_after_a_gap_does_not_move_the_zero() -> None:
    """The meter is silent for two and a half days around the new cartridge (5 L a day, no
    creep): the first reading after shows the 10 L run since it went in, not where its
    zero is."""
    estimator = LevelEstimator(WATER_FILTER)
    level = 0.0
    for hour in range(20 * 24):
        days = hour / 24
        level = 60 - 5 * days if days < 10 else 150 - 5 * (days - 10)
        if 9.5 * 24 <= hour < 12 * 24:
            continue  # silent from half a day before the new cartridge to two days after
        used = WATER_FILTER.pack_size - level
        estimator.observe(T0 + timedelta(hours=hour), WATER_FILTER.level_from_reading(used))
    estimate = estimator.estimate
    assert estimate is not None
    assert estimator.offset == pytest.approx(0, abs=1)
    assert estimate.level == pytest.approx(level, abs=3)


def test_a_meter_that_counts_a_fresh_pack_at_once_keeps_its_zero() -> None:
    """The same filter without the creep: the fresh cartridge reads full only until the
    first litres run through it, and the level follows the meter."""
    estimator, truth = metered_filter(creep=0.0)
    estimate = estimator.estimate
    assert estimate is not None
    assert estimator.offset == pytest.approx(0, abs=1)
    assert estimate.level == pytest.approx(truth[-1], abs=3)


@pytest.mark.parametrize("spike", [81.8, 220.0], ids=["below", "past_the_scale"])
def test_a_fresh_cartridge_read_with_a_spike_is_one_full_cartridge(spike: float) -> None:
    """A fresh cartridge read 150 L, then a spike of 82 L, then 150 L again: the first
    150 looks like a spike that sprang back, and the 82 like a jump the next reading
    confirmed. Confirmed there, the cartridge's zero was set to make 82 read full, and
    the 150 after it counted as a second refill on top: 218 L believed in a 150 L
    filter, and no cartridge ordered for weeks. A rising jump that rises on waits for
    the next reading; one past the meter's scale is the spike itself."""
    estimator = LevelEstimator(WATER_FILTER)
    level = 60.0
    for hour in range(72):
        level -= 0.3
        estimator.observe(T0 + timedelta(hours=hour), round(level, 1))
    installed = T0 + timedelta(hours=72)
    refills = [
        refill
        for offset, value in [(0, 150.0), (18, spike), (18.3, 150.0), (52, 150.0), (112, 149.8)]
        if (refill := estimator.observe(installed + timedelta(minutes=offset), value))
    ]
    assert len(refills) == 1
    assert refills[0].quantity == pytest.approx(150 - level, abs=1)
    estimate = estimator.estimate
    assert estimate is not None
    assert estimate.level == pytest.approx(150, abs=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_zero_whose_creep_the_quiet_hours_measure_is_doubted_by_that_measure(seed: int) -> None:
    """A load cell creeping down three times as fast as a zero ordinarily wanders,
    used in plain glasses: the quiet hours measure the creep and it is taken out, so
    after 40 days the zero is doubted by what the fit may have missed, not by the
    wander of a zero nobody watched (nor by half the creep), and the truth is within
    two sd of that doubt."""
    wander = DRIFT_PER_DAY * MILK.capacity
    estimator, level = _creeping_milk(-3 * wander, seed, days=40, glass=150.0)
    estimate = estimator.estimate
    assert estimate is not None
    assert estimate.drift < wander * 40 < 0.5 * abs(estimator.offset)
    assert abs(estimate.level - level) < 2 * estimate.drift


def test_a_spike_while_a_cell_is_stuck_keeps_what_came_meanwhile() -> None:
    """A cell stuck at 2 kg while a carton came, believed on top (the shop's word), reads
    1.8 kg once (a hand lifting a carton, 45 seconds), then 2 kg again, exactly. The one
    reading that differed was a spike, not the cell coming free to show the level: the
    carton is still there. Taken as the cell free, its next reading took the carton
    back (``faulty_sensors --seed 25``: a water filter cartridge came under a stuck
    meter, and another was ordered the same day)."""
    estimator = LevelEstimator(MILK)
    rng = random.Random(4)
    step = timedelta(minutes=30)
    feed(estimator, [2000 + rng.gauss(0, 5) for _ in range(24)] + [2000.0] * 10, step)
    assert estimator.stuck
    estimator.believe(T0 + 34 * step, 3000, silent=True)
    for i, value in enumerate([1800.0] + [2000.0] * 6):
        assert estimator.observe(T0 + (35 + i) * step, value) is None
    assert estimator.stuck
    estimate = estimator.estimate
    assert estimate is not None
    assert estimate.level == pytest.approx(3000, abs=30)
