"""Checks for notebook 08's exercises (scale out)."""

from __future__ import annotations

from labkit.teach import exercises
from labkit.teach.solutions import nb08 as reference

RANGE = "08.1 range assignment"
HOT_KEY = "08.2 hot key"
PARTITIONS = "08.3 partition count"

HINTS = exercises.register_hints({
    RANGE: "workers in sorted order each take a run of consecutive partitions; divmod(partitions, "
           "number of workers) gives the length of a run and how many workers take one more",
    HOT_KEY: "find the busiest partition first (kafka_io.partition_for_key, collections.Counter), then "
             "the key that sends the most messages to it; the share is of all the messages",
    PARTITIONS: "each partition is read by at most one worker, so you need as many partitions as the "
                "workers that rate times headroom takes; a part of a worker is a whole worker",
})

#: The cases 08.1 tries: the notebook's topic with 3 workers, more workers than partitions,
#: and a partition count that does not divide evenly.
ASSIGNMENT_CASES = [(4, ["w1", "w2", "w3"]), (4, ["w3", "w1", "w2", "w4", "w5"]), (10, ["b", "a", "c"])]

ASSIGNMENT = exercises.dict_of(exercises.ANYTHING, exercises.list_of(exercises.INTEGER),
                               "a dict {worker: [partitions]}")
KEY_AND_SHARE = exercises.pair(exercises.TEXT, exercises.NUMBER, "a (key, share) pair: a string and a number from 0 to 1")
COUNT = exercises.of_type(float, what="a number of partitions")


@exercises.graded(RANGE)
def range_assignment(func) -> bool:
    """08.1: the student's assignor against Kafka's range rule on every case."""
    answers, expected = {}, {}
    for partitions, workers in ASSIGNMENT_CASES:
        case = f"{partitions} partitions, workers {workers}"
        answer = exercises.attempt(func, partitions, list(workers))
        if not exercises.expect_type(RANGE, answer, ASSIGNMENT, case=f"for {case}"):
            return False
        answers[case] = {w: list(p) for w, p in answer.items()}
        expected[case] = reference.range_assignment(partitions, workers)
    return exercises.check(RANGE, answers, expected)


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
    """08.2: the hot key and its partition's share of the messages, on the notebook's keys and
    on keys of the check's own whose most frequent key is not in the busiest partition."""
    cases = {"the notebook's keys": list(keys), "keys where the most frequent is alone": _lone_giant(partitions)}
    answers, expected = {}, {}
    for name, case in cases.items():
        answer = exercises.attempt(func, list(case), partitions)
        if not exercises.expect_type(HOT_KEY, answer, KEY_AND_SHARE, case=f"for {name}"):
            return False
        key, share = reference.hot_key(case, partitions)
        answers[name], expected[name] = (answer[0], round(float(answer[1]), 3)), (key, round(share, 3))
    return exercises.check(HOT_KEY, answers, expected)


@exercises.graded(PARTITIONS)
def partitions_for(func) -> bool:
    """08.3: four rates, so a constant cannot pass; one divides exactly (900 x 2 / 450 = 4
    partitions), so `int(x) + 1` cannot pass either."""
    cases = [(1_000, 450, 2.0), (900, 450, 2.0), (50_000, 450, 2.0), (1_000_000, 450, 1.5)]
    answers = {}
    for case in cases:
        answer = exercises.attempt(func, *case)
        if not exercises.expect_type(PARTITIONS, answer, COUNT, case=f"for (rate, per_worker_rate, headroom) = {case}"):
            return False
        answers[str(case)] = answer
    expected = {str(case): reference.partitions_for(*case) for case in cases}
    return exercises.check(PARTITIONS, answers, expected)
