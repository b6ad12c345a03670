from __future__ import annotations

from datetime import timedelta

from edge_agent.protocol import Reading
from edge_agent.sequence import Resequencer
from tests.items import T0


def reading(seq: int, minutes: float, value: float = 500.0) -> Reading:
    return Reading(ts=T0 + timedelta(minutes=minutes), value=value, unit="g", seq=seq)


def seqs(taken: list[tuple[str, Reading]]) -> list[int]:
    return [r.seq for _, r in taken]


def test_readings_in_order_pass_straight_on() -> None:
    sequence = Resequencer()
    assert seqs(sequence.push("fridge", "milk", reading(7, 0))) == [7]
    assert seqs(sequence.push("fridge", "eggs", reading(8, 1))) == [8]
    assert sequence.waiting == 0


def test_a_reading_that_overtook_one_waits_for_it() -> None:
    """The spike's end (seq 11) comes after the next reading (seq 12): 12 waits, and
    both go on in the order the fridge sent them."""
    sequence = Resequencer()
    sequence.push("fridge", "milk", reading(10, 0))
    assert sequence.push("fridge", "milk", reading(12, 18)) == []
    assert sequence.waiting == 1
    assert seqs(sequence.push("fridge", "milk", reading(11, 1))) == [11, 12]
    assert sequence.waiting == 0


def test_a_duplicate_of_a_waiting_reading_does_not_end_the_wait() -> None:
    sequence = Resequencer()
    sequence.push("fridge", "milk", reading(10, 0))
    sequence.push("fridge", "milk", reading(12, 18))
    assert sequence.push("fridge", "milk", reading(12, 18)) == []
    assert seqs(sequence.push("fridge", "milk", reading(11, 1))) == [11, 12]


def test_a_lost_reading_is_given_up_at_the_next_one() -> None:
    """Seq 11 never comes: when 13 does, 12 and 13 go on, and 11 coming after all is
    passed on too (the estimator drops it as older than what it has)."""
    sequence = Resequencer()
    sequence.push("fridge", "milk", reading(10, 0))
    assert sequence.push("fridge", "milk", reading(12, 30)) == []
    assert seqs(sequence.push("fridge", "milk", reading(13, 60))) == [12, 13]
    assert seqs(sequence.push("fridge", "milk", reading(11, 15))) == [11]
    assert seqs(sequence.push("fridge", "milk", reading(14, 90))) == [14]


def test_flush_ends_every_wait_in_order() -> None:
    sequence = Resequencer()
    sequence.push("fridge", "milk", reading(10, 0))
    sequence.push("hopper", "coffee", reading(3, 0))
    sequence.push("fridge", "milk", reading(12, 30))
    sequence.push("hopper", "coffee", reading(5, 30))
    assert seqs(sequence.flush()) == [12, 5]
    assert sequence.waiting == 0
    assert seqs(sequence.push("fridge", "milk", reading(13, 60))) == [13]


def test_a_device_that_rebooted_counts_afresh() -> None:
    """After a reboot the fridge counts from 0 again: newer readings with lower numbers
    are taken, not held as duplicates, and the count follows them."""
    sequence = Resequencer()
    sequence.push("fridge", "milk", reading(500, 0))
    assert seqs(sequence.push("fridge", "milk", reading(0, 60))) == [0]
    assert seqs(sequence.push("fridge", "milk", reading(1, 90))) == [1]
    assert sequence.push("fridge", "milk", reading(3, 120)) == []
    assert seqs(sequence.push("fridge", "milk", reading(2, 100))) == [2, 3]


def test_devices_are_counted_apart() -> None:
    sequence = Resequencer()
    sequence.push("fridge", "milk", reading(10, 0))
    sequence.push("hopper", "coffee", reading(900, 0))
    assert seqs(sequence.push("hopper", "coffee", reading(901, 5))) == [901]
    assert seqs(sequence.push("fridge", "milk", reading(11, 5))) == [11]


def test_a_reading_not_taken_keeps_its_place() -> None:
    sequence = Resequencer()
    sequence.push("fridge", "milk", reading(10, 0))
    assert sequence.push("fridge", "milk", reading(12, 2)) == []
    assert seqs(sequence.skip("fridge", reading(11, 1))) == [12]
    assert seqs(sequence.skip("fridge", reading(13, 3))) == []
    assert seqs(sequence.push("fridge", "milk", reading(14, 4))) == [14]


def test_a_reading_not_taken_that_had_to_wait_is_never_passed_on() -> None:
    sequence = Resequencer()
    sequence.push("fridge", "milk", reading(10, 0))
    assert sequence.skip("fridge", reading(12, 2)) == []
    assert seqs(sequence.push("fridge", "milk", reading(11, 1))) == [11]
    assert seqs(sequence.push("fridge", "milk", reading(13, 3))) == [13]
    sequence.skip("fridge", reading(15, 5))
    assert sequence.flush() == []


def test_a_device_only_refused_from_has_no_count_kept() -> None:
    sequence = Resequencer()
    assert sequence.skip("pantry", reading(4, 0)) == []
    assert seqs(sequence.push("pantry", "rice", reading(9, 1))) == [9]
    assert seqs(sequence.push("pantry", "rice", reading(10, 2))) == [10]
