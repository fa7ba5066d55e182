"""What the processor owes the rollups and latest states, and when it pays (labkit.process.derived): pure."""

from datetime import datetime, timedelta, timezone

import pytest

from labkit.contract import to_ms
from labkit.process.derived import Owed

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 2, 8, 0, 0, tzinfo=timezone.utc)  # on a 10 s boundary
B0 = to_ms(T0)


def reading(car: str, seconds: float) -> dict:
    return {"car_id": car, "timestamp": T0 + timedelta(seconds=seconds)}


def test_a_bucket_is_due_once_the_watermark_has_passed_its_end():
    owed = Owed(max_wait_ms=15_000)
    owed.add([reading("A", 1), reading("A", 12)], [0, 0], now_ms=0)
    assert owed.due(watermark_ms=B0 + 9_999, now_ms=1).buckets == {}
    assert owed.due(watermark_ms=B0 + 10_000, now_ms=1).buckets == {"A": {B0}}
    assert owed.due(watermark_ms=None, now_ms=1).buckets == {}, "no watermark yet: nothing is final"


def test_a_bucket_held_back_by_a_quiet_partition_is_due_after_the_longest_wait():
    owed = Owed(max_wait_ms=15_000)
    owed.add([reading("A", 1)], [0], now_ms=1_000)
    assert owed.due(watermark_ms=None, now_ms=15_999).buckets == {}
    assert owed.due(watermark_ms=None, now_ms=16_000).buckets == {"A": {B0}}


def test_latest_states_are_due_every_interval_with_the_newest_reading_only():
    owed = Owed(latest_every_ms=5_000)
    owed.add([reading("A", 3), reading("A", 1), reading("B", 2)], [0, 0, 1], now_ms=0)
    assert owed.due(None, now_ms=4_999).latest == []
    due = owed.due(None, now_ms=5_000)
    assert sorted((e["car_id"], e["timestamp"]) for e in due.latest) == [("A", T0 + timedelta(seconds=3)),
                                                                         ("B", T0 + timedelta(seconds=2))]
    owed.paid(due, now_ms=5_000)
    assert owed.due(None, now_ms=9_999).latest == [], "the interval starts again once paid"


def test_a_newer_reading_owed_after_the_due_was_taken_is_not_forgotten_when_paid():
    owed = Owed(latest_every_ms=0)
    owed.add([reading("A", 1)], [0], now_ms=0)
    due = owed.due(watermark_ms=B0 + 10_000, now_ms=0)
    owed.add([reading("A", 11)], [0], now_ms=0)
    owed.paid(due, now_ms=0)
    assert [e["timestamp"] for e in owed.everything().latest] == [T0 + timedelta(seconds=11)]
    assert owed.everything().buckets == {"A": {B0 + 10_000}}


def test_owed_from_is_per_partition_the_earliest_time_still_owed():
    owed = Owed()
    owed.add([reading("A", 85), reading("B", 3), reading("C", 40)], [0, 1, 1], now_ms=0)
    assert owed.owed_from([0, 1, 2]) == {0: B0 + 60_000, 1: B0, 2: None}, "A's minute starts at 60 s"
    owed.paid(owed.everything(), now_ms=0)
    assert owed.owed_from([0, 1, 2]) == {0: None, 1: None, 2: None}


def test_a_latest_state_still_owed_keeps_its_partition_owed_after_its_bucket_is_paid():
    owed = Owed(latest_every_ms=60_000)
    owed.add([reading("A", 4)], [0], now_ms=0)
    owed.paid(owed.due(watermark_ms=B0 + 60_000, now_ms=1), now_ms=1)
    assert owed.owed_from([0]) == {0: B0 + 4_000}


def test_revoked_partitions_are_dropped_and_owed_by_their_next_reader():
    owed = Owed()
    owed.add([reading("A", 1), reading("B", 1)], [0, 1], now_ms=0)
    owed.drop([1])
    assert owed.everything().buckets == {"A": {B0}}
    assert [e["car_id"] for e in owed.everything().latest] == ["A"]


def test_a_reading_older_than_a_written_latest_state_owes_no_latest_state():
    """Else a reading a month late would make the stored owed time a month ago, and a
    processor taking over would rebuild a month of the fleet's readings."""
    owed = Owed(latest_every_ms=0)
    owed.add([reading("A", 100)], [0], now_ms=0)
    owed.paid(owed.everything(), now_ms=0)
    owed.add([reading("A", -30 * 86_400)], [0], now_ms=1)
    assert owed.everything().latest == []


def test_a_late_bucket_is_due_at_once_even_before_the_watermark_is_known():
    owed = Owed(max_wait_ms=15_000, old_ms=60_000)
    owed.add([reading("A", 200), reading("B", -3_600)], [0, 1], now_ms=0)
    assert owed.due(watermark_ms=None, now_ms=0).buckets == {"B": {B0 - 3_600_000}}, \
        "an hour behind the newest reading: rebuilt in the batch that brought it"


def test_a_minute_is_due_once_final_and_its_ten_second_buckets_before_it():
    owed = Owed(max_wait_ms=15_000)
    owed.add([reading("A", 1), reading("A", 55)], [0, 0], now_ms=0)
    due = owed.due(watermark_ms=B0 + 20_000, now_ms=1)
    assert (due.buckets, due.minutes) == ({"A": {B0}}, {}), "the minute is not over: not rewritten yet"
    owed.paid(due, now_ms=1)
    due = owed.due(watermark_ms=B0 + 60_000, now_ms=2)
    assert (due.buckets, due.minutes) == ({"A": {B0 + 50_000}}, {"A": {B0}})
    assert owed.due(watermark_ms=None, now_ms=64_999).minutes == {}
    assert owed.due(watermark_ms=None, now_ms=65_000).minutes == {"A": {B0}}, "as long past its end as a 10 s bucket"


def test_a_minute_that_waited_takes_its_ten_second_buckets_still_owed_with_it():
    """Its last bucket's readings came late: the minute has waited long enough, the bucket not
    yet. The minute is built from the 10 s rollups, so the bucket is rebuilt with it."""
    owed = Owed(max_wait_ms=15_000)
    owed.add([reading("A", 1)], [0], now_ms=0)
    owed.add([reading("A", 55)], [0], now_ms=60_000)
    due = owed.due(watermark_ms=None, now_ms=65_000)
    assert due.minutes == {"A": {B0}} and due.buckets == {"A": {B0, B0 + 50_000}}


def known_after(owed: Owed) -> dict:
    """The 10 s buckets of everything owed whose readings are all in memory: start -> how many."""
    return {key: len(found) for key, found in owed.everything().known.items()}


def test_buckets_of_readings_it_stored_itself_are_rolled_up_from_memory():
    owed = Owed()
    owed.stored_until(None)  # nothing stored before
    owed.add([reading("A", 1), reading("A", 2), reading("A", 12)], [0, 0, 0], now_ms=0)
    assert known_after(owed) == {("A", B0): 2, ("A", B0 + 10_000): 1}


def test_nothing_is_rolled_up_from_memory_before_the_store_was_asked_what_it_holds():
    owed = Owed()
    owed.add([reading("A", 1)], [0], now_ms=0)
    assert known_after(owed) == {}


def test_a_bucket_up_to_the_newest_stored_reading_is_read_back():
    owed = Owed()
    owed.stored_until(B0 + 10_000)  # an earlier reader stored readings up to 10.000 s
    owed.add([reading("A", 1), reading("A", 12), reading("A", 25)], [0, 0, 0], now_ms=0)
    assert known_after(owed) == {("A", B0 + 20_000): 1}, "the buckets starting at 0 s and 10 s may hold its readings"


def test_a_bucket_with_a_reading_refused_as_stored_already_is_read_back():
    owed = Owed()
    owed.stored_until(None)
    owed.add([reading("A", 1), reading("A", 2), reading("A", 12)], [0, 0, 0], now_ms=0, refused=[1])
    owed.add([reading("A", 3)], [0], now_ms=1)
    assert known_after(owed) == {("A", B0 + 10_000): 1}


def test_a_late_reading_in_a_bucket_written_already_makes_it_read_back():
    owed = Owed()
    owed.stored_until(None)
    owed.add([reading("A", 1), reading("A", 2)], [0, 0], now_ms=0)
    owed.paid(owed.everything(), now_ms=1)
    owed.add([reading("A", 3)], [0], now_ms=2)
    assert known_after(owed) == {}
    assert owed.everything().buckets == {"A": {B0}}, "still owed: rebuilt from what is stored"
