"""Checks for notebook 07's exercises (scale out)."""

from __future__ import annotations

from labkit.teach import exercises
from labkit.teach.solutions import nb07 as reference

RANGE = "07.1 range assignment"
HOT_KEY = "07.2 hot key"
PARTITIONS = "07.3 partition count"

HINTS = exercises.register_hints({
    RANGE: "workers in sorted order each take a run of consecutive partitions; divmod(partitions, "
           "number of workers) gives the length of a run and how many workers take one more",
    HOT_KEY: "find the busiest partition first (kafka_io.partition_for_key, collections.Counter), then "
             "the key that sends the most messages to it; the share is of all the messages",
    PARTITIONS: "each partition is read by at most one worker, so you need as many partitions as the "
                "workers that rate times headroom takes; a part of a worker is a whole worker",
})

#: The cases 07.1 tries: the notebook's topic with 3 workers, more workers than partitions,
#: and a partition count that does not divide evenly.
ASSIGNMENT_CASES = [(4, ["w1", "w2", "w3"]), (4, ["w3", "w1", "w2", "w4", "w5"]), (10, ["b", "a", "c"])]

ASSIGNMENT = exercises.dict_of(exercises.ANYTHING, exercises.list_of(exercises.INTEGER),
                               "a dict {worker: [partitions]}")
KEY_AND_SHARE = exercises.pair(exercises.TEXT, exercises.NUMBER, "a (key, share) pair: a string and a number from 0 to 1")
COUNT = exercises.of_type(float, what="a number of partitions")


@exercises.graded(RANGE)
def range_assignment(func) -> bool:
    """07.1: the student's assignor against Kafka's range rule on every case."""
    answers, expected = {}, {}
    for partitions, workers in ASSIGNMENT_CASES:
        case = f"{partitions} partitions, workers {workers}"
        answer = exercises.attempt(func, partitions, list(workers))
        if not exercises.expect_type(RANGE, answer, ASSIGNMENT, case=f"for {case}"):
            return False
        answers[case] = {w: list(p) for w, p in answer.items()}
        expected[case] = reference.range_assignment(partitions, workers)
    return exercises.check(RANGE, answers, expected)


@exercises.graded(HOT_KEY)
def hot_key(func, keys: list[str], partitions: int) -> bool:
    """07.2: the hot key and its partition's share of the messages."""
    answer = exercises.attempt(func, list(keys), partitions)
    if not exercises.expect_type(HOT_KEY, answer, KEY_AND_SHARE):
        return False
    key, share = reference.hot_key(keys, partitions)
    return exercises.check(HOT_KEY, (answer[0], round(float(answer[1]), 3)), (key, round(share, 3)))


@exercises.graded(PARTITIONS)
def partitions_for(func) -> bool:
    """07.3: three rates, so a constant cannot pass."""
    cases = [(1_000, 450, 2.0), (50_000, 450, 2.0), (1_000_000, 450, 1.5)]
    answers = {}
    for case in cases:
        answer = exercises.attempt(func, *case)
        if not exercises.expect_type(PARTITIONS, answer, COUNT, case=f"for (rate, per_worker_rate, headroom) = {case}"):
            return False
        answers[str(case)] = answer
    expected = {str(case): reference.partitions_for(*case) for case in cases}
    return exercises.check(PARTITIONS, answers, expected)
