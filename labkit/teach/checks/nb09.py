"""Checks for notebook 09's exercises (scale out)."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

from labkit.ops.kafka_io import partition_for_key
from labkit.teach import exercises

RANGE = "09.1 range assignment"
HOT_KEY = "09.2 hot key"
PARTITIONS = "09.3 partition count"

HINTS = exercises.register_hints({
    RANGE: "range means runs: each worker, in sorted(workers) order, gets one run of consecutive "
           "partitions (a range()), the runs as even as the count allows. divmod() splits a count into an "
           "even share and a remainder. Compare with drains[2].owners",
    HOT_KEY: "find the busiest partition first (kafka_io.partition_for_key, collections.Counter), then "
             "the key that sends the most messages to it; the share is of all the messages",
    PARTITIONS: "a partition is read by one worker, so what must fit a worker is the busiest partition, "
                "not the average: try counts from 1 up, place every key with kafka_io.partition_for_key, "
                "and stop at the first count whose busiest partition fits",
})

#: The cases 09.1 tries: the notebook's topic with 3 workers, more workers than partitions,
#: a partition count that does not divide evenly, and eleven workers, whose ids sort as text
#: (w10 before w2), as Kafka compares member ids, not by their numbers.
ASSIGNMENT_CASES = [(4, ["w1", "w2", "w3"]), (4, ["w3", "w1", "w2", "w4", "w5"]), (10, ["b", "a", "c"]),
                    (12, [f"w{i}" for i in range(11, 0, -1)])]

ASSIGNMENT = exercises.dict_of(exercises.ANYTHING, exercises.list_of(exercises.INTEGER),
                               "a dict {worker: [partitions]}")
KEY_AND_SHARE = exercises.pair(exercises.TEXT, exercises.NUMBER, "a (key, share) pair: a string and a number from 0 to 1")
COUNT = exercises.of_type(int, what="a number of partitions")


@exercises.graded(RANGE)
def range_assignment(func) -> bool:
    """09.1: the student's assignor against Kafka's range rule on every case."""
    answers, expected = {}, {}
    for partitions, workers in ASSIGNMENT_CASES:
        case = f"{partitions} partitions, workers {workers}"
        answer = exercises.attempt(func, partitions, list(workers))
        if not exercises.expect_type(RANGE, answer, ASSIGNMENT, case=f"for {case}"):
            return False
        answers[case] = {w: list(p) for w, p in answer.items()}
        expected[case] = kafkas_range_assignment(partitions, workers)
    return exercises.check(RANGE, answers, expected)


def kafkas_range_assignment(partitions: int, workers: list[str]) -> dict[str, list[int]]:
    """09.1's answer key: what the client's own range assignor (kafka-python's
    RangePartitionAssignor, the code a group leader runs) gives `workers` for one topic."""
    from kafka.coordinator.assignors.range import RangePartitionAssignor

    cluster = SimpleNamespace(partitions_for_topic=lambda topic: set(range(partitions)))
    members = [SimpleNamespace(member_id=w, group_instance_id=None, metadata=SimpleNamespace(topics=["t"]))
               for w in workers]
    assigned = RangePartitionAssignor.assign(cluster, members)
    return {w: list(dict(assigned[w].assigned_partitions).get("t", [])) for w in workers}


def _keys_in(partition: int, partitions: int, count: int) -> list[str]:
    """`count` car ids whose messages land in `partition`."""
    from labkit.ops.kafka_io import partition_for_key

    found = (f"CAR_{i:03d}" for i in range(1, 10_000) if partition_for_key(f"CAR_{i:03d}".encode(), partitions) == partition)
    return [next(found) for _ in range(count)]


def _lone_giant(partitions: int) -> list[str]:
    """Keys where the most frequent key of all sits alone in a quiet partition, while another
    partition is busier with four keys: "the most common key" is not the hot key."""
    giant = _keys_in(0, partitions, 1)[0]
    crowd = _keys_in(1, partitions, 4)
    return [giant] * 30 + [crowd[0]] * 15 + [k for k in crowd[1:] for _ in range(10)]


@exercises.graded(HOT_KEY)
def hot_key(func, keys: list[str], partitions: int) -> bool:
    """09.2: the hot key and its partition's share of the messages, on the notebook's keys and
    on keys of the check's own whose most frequent key is not in the busiest partition."""
    cases = {"the notebook's keys": list(keys), "keys where the most frequent is alone": _lone_giant(partitions)}
    answers, expected = {}, {}
    for name, case in cases.items():
        answer = exercises.attempt(func, list(case), partitions)
        if not exercises.expect_type(HOT_KEY, answer, KEY_AND_SHARE, case=f"for {name}"):
            return False
        key, share = _hot_key_answer(case, partitions)
        answers[name], expected[name] = (answer[0], round(float(answer[1]), 3)), (key, round(share, 3))
    return exercises.check(HOT_KEY, answers, expected)


def _hot_key_answer(keys: list[str], partitions: int) -> tuple[str, float]:
    """09.2's answer key: the busiest partition's share of all messages, and its busiest key."""
    home = {k: partition_for_key(k.encode(), partitions) for k in set(keys)}
    busiest, load = Counter(home[k] for k in keys).most_common(1)[0]
    return Counter(k for k in keys if home[k] == busiest).most_common(1)[0][0], load / len(keys)


#: 09.3's fleets: (description, {key: messages per second}, per_worker_rate, headroom).
#: The even split (total x headroom / per_worker_rate, rounded up) is one short for the
#: first two, since hashing never spreads a few dozen keys evenly; the bus cannot fit.
FLEETS = [
    ("40 cars at 20/s", {f"CAR_{i:03d}": 20.0 for i in range(1, 41)}, 450.0, 1.5),
    ("60 cars at 10/s", {f"CAR_{i:03d}": 10.0 for i in range(1, 61)}, 300.0, 2.0),
    ("5 cars at 10/s", {f"CAR_{i:03d}": 10.0 for i in range(1, 6)}, 450.0, 1.5),
    ("20 cars at 10/s and a bus at 400/s", {**{f"CAR_{i:03d}": 10.0 for i in range(1, 21)}, "BUS_001": 400.0},
     450.0, 1.5),
    # exactly a worker's rate once the headroom is added: it fits (a strict < would say never)
    ("one car at 100/s, with headroom exactly a worker's 150/s", {"CAR_001": 100.0}, 150.0, 1.5),
]


@exercises.graded(PARTITIONS)
def partitions_for(func) -> bool:
    """09.3: each fleet's answer against the fewest partitions whose busiest one fits a worker."""
    answers, expected = {}, {}
    for name, rates, per_worker, headroom in FLEETS:
        expected[name] = _fewest_partitions(rates, per_worker, headroom)
        answer = exercises.attempt(func, dict(rates), per_worker, headroom)
        kind = exercises.optional(COUNT) if expected[name] is None else COUNT  # None elsewhere: a forgotten return
        if not exercises.expect_type(PARTITIONS, answer, kind, case=f"for {name}"):
            return False
        answers[name] = answer
    return exercises.check(PARTITIONS, answers, expected)


def _fewest_partitions(rates: dict[str, float], per_worker: float, headroom: float, most: int = 64) -> int | None:
    for count in range(1, most + 1):
        busiest = {}
        for key, rate in rates.items():
            p = partition_for_key(key.encode(), count)
            busiest[p] = busiest.get(p, 0.0) + rate
        if max(busiest.values()) * headroom <= per_worker:
            return count
    return None
