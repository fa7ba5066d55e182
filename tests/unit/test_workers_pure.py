"""Reading the assignment log: who holds which partition, and for how long."""

from datetime import datetime, timedelta, timezone

from labkit.scenarios.workers import owners_from, ownership, range_split

T = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


def at(s):
    return T + timedelta(seconds=s)


EVENTS = [
    {"worker": "w1", "event": "assigned", "partitions": [0, 1, 2, 3], "at": at(0)},
    {"worker": "w1", "event": "revoked", "partitions": [0, 1, 2, 3], "at": at(5)},  # w2 joins
    {"worker": "w1", "event": "assigned", "partitions": [0, 1], "at": at(6)},
    {"worker": "w2", "event": "assigned", "partitions": [2, 3], "at": at(6)},
    # w1 is killed at 10 s: it never revokes; after the session timeout w2 gets everything
    {"worker": "w2", "event": "revoked", "partitions": [2, 3], "at": at(16)},
    {"worker": "w2", "event": "assigned", "partitions": [0, 1, 2, 3], "at": at(17)},
]


def test_owners_replay_the_log():
    assert owners_from(EVENTS[:4]) == {"w1": [0, 1], "w2": [2, 3]}
    assert owners_from(EVENTS[:5]) == {"w1": [0, 1]}  # mid-rebalance: w2 gave up its partitions
    # w1 never said goodbye, so the log alone still shows it with [0, 1]; w2's assignment is the truth
    assert owners_from(EVENTS)["w2"] == [0, 1, 2, 3]


def test_ownership_intervals_end_when_the_group_moves_a_partition():
    rows = ownership(EVENTS, until=at(30))
    p0 = [(r["worker"], (r["start"] - T).seconds, (r["end"] - T).seconds) for r in rows if r["partition"] == 0]
    assert p0 == [("w1", 0, 5), ("w1", 6, 17), ("w2", 17, 30)]
    p3 = [(r["worker"], (r["start"] - T).seconds, (r["end"] - T).seconds) for r in rows if r["partition"] == 3]
    assert p3 == [("w1", 0, 5), ("w2", 6, 16), ("w2", 17, 30)]


def test_range_split_gives_the_first_workers_one_more_and_a_spare_nothing():
    assert range_split(4, 1) == [[0, 1, 2, 3]]
    assert range_split(4, 3) == [[0, 1], [2], [3]]
    assert range_split(4, 5) == [[0], [1], [2], [3], []]
