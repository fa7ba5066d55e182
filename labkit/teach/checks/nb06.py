"""Checks for notebook 06's exercises (scale out)."""

from __future__ import annotations

from labkit.teach import exercises
from labkit.teach.solutions import nb06 as reference

#: The cases 06.1 tries: the notebook's topic with 3 workers, more workers than partitions,
#: and a partition count that does not divide evenly.
ASSIGNMENT_CASES = [(4, ["w1", "w2", "w3"]), (4, ["w3", "w1", "w2", "w4", "w5"]), (10, ["b", "a", "c"])]


def range_assignment(func) -> bool:
    """06.1: the student's assignor against Kafka's range rule on every case."""
    answers, expected = {}, {}
    for partitions, workers in ASSIGNMENT_CASES:
        case = f"{partitions} partitions, workers {workers}"
        expected[case] = reference.range_assignment(partitions, workers)
        answer = exercises.attempt(func, partitions, list(workers))
        if answer is None:
            return exercises.check("06.1 range assignment", None, expected)
        answers[case] = {w: list(p) for w, p in answer.items()} if isinstance(answer, dict) else answer
    return exercises.check("06.1 range assignment", answers, expected,
                           hint="sort the workers; share, extra = divmod(partitions, len(workers)); worker i takes "
                                "share + (1 if i < extra else 0) consecutive partitions, starting where the previous stopped")


def hot_key(func, keys: list[str], partitions: int) -> bool:
    """06.2: the hot key and its partition's share of the messages."""
    answer = exercises.attempt(func, list(keys), partitions)
    if isinstance(answer, (tuple, list)) and len(answer) == 2:
        answer = (answer[0], round(float(answer[1]), 3)) if isinstance(answer[1], (int, float)) else tuple(answer)
    key, share = reference.hot_key(keys, partitions)
    return exercises.check("06.2 hot key", answer, (key, round(share, 3)),
                           hint="count messages per partition with kafka_io.partition_for_key(key.encode(), partitions); "
                                "in the busiest one, the key with the most messages is the hot key; the share is that "
                                "partition's count divided by len(keys)")


def partitions_for(func) -> bool:
    """06.3: three rates, so a constant cannot pass."""
    cases = [(1_000, 450, 2.0), (50_000, 450, 2.0), (1_000_000, 450, 1.5)]
    answers = {}
    for case in cases:
        answer = exercises.attempt(func, *case)
        if answer is None:
            return exercises.check("06.3 partition count", None, {})
        answers[str(case)] = answer
    expected = {str(case): reference.partitions_for(*case) for case in cases}
    return exercises.check("06.3 partition count", answers, expected,
                           hint="each partition is read by at most one worker: you need rate * headroom / per_worker_rate "
                                "partitions, rounded up (math.ceil)")
