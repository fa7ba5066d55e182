"""Exercise 09.3 (a stall alert): the solution passes; the classic misreadings of a stalled
partition are each named."""

import pytest

from labkit.teach.checks import nb09
from labkit.teach.solutions import nb09 as solution
from tests.wrong_answers import assert_rejected

pytestmark = pytest.mark.unit

#: Samples like the kill experiment's: w1's partition flat from its death to the takeover.
KILL_RUN = ([{"seconds": t / 10, "partition": "0", "lag": 511 if t >= 10 else 700 - 19 * t} for t in range(60)]
            + [{"seconds": t / 10, "partition": "2", "lag": max(0, 400 - 40 * t)} for t in range(60)])


def by_partition(samples, in_order=True):
    rows = {}
    for row in sorted(samples, key=lambda r: r["seconds"]) if in_order else samples:
        rows.setdefault(row["partition"], []).append(row)
    return rows


def stretches(samples, seconds, keeps_going, in_order=True):
    """{partition: longest stretch} where `keeps_going(before, row)` says the stretch goes on;
    without `in_order`, the samples are walked in the order given."""
    found = {}
    for partition, rows in by_partition(samples, in_order).items():
        best, begun = 0.0, None
        for before, row in zip([None] + rows[:-1], rows):
            if before is not None and begun is not None and keeps_going(before, row):
                best = max(best, row["seconds"] - begun)
            else:
                begun = row["seconds"]
        if best >= seconds:
            found[partition] = round(best, 2)
    return found


def grows_only(samples, seconds):  # "lag that grows": a dead worker's flat lag is missed
    return stretches(samples, seconds, lambda before, row: row["lag"] > before["lag"] > 0)


def above_zero(samples, seconds):  # lag above 0 for long: a worker draining a big backlog is flagged
    return stretches(samples, seconds, lambda before, row: row["lag"] > 0 and before["lag"] > 0)


def not_falling(samples, seconds):  # lag 0 counts too: a quiet partition is flagged
    return stretches(samples, seconds, lambda before, row: row["lag"] >= before["lag"])


def counted_in_samples(samples, seconds):  # the stretch's length in samples, not seconds
    found = solution.stalled(samples, seconds)
    return {p: round(t / 0.2) + 1 for p, t in found.items()}


def unsorted(samples, seconds):  # walks the samples in the order given
    return stretches(samples, seconds, lambda before, row: 0 < before["lag"] <= row["lag"], in_order=False)


def test_the_solution_passes():
    assert nb09.stalled(solution.stalled, KILL_RUN)
    assert solution.stalled(KILL_RUN, 2.0) == {"0": 4.9}


@pytest.mark.parametrize("student, words", [
    (grows_only, "does not grow when nothing new arrives"),
    (above_zero, "its lag fell"),
    (not_falling, "a lag of 0 means nothing waits"),
    (counted_in_samples, "count seconds"),
    (unsorted, "you"),
    (lambda samples, seconds: {p: t for p, t in solution.stalled(samples, seconds).items() if t > seconds},
     ">=, not >"),
    (lambda samples, seconds: {}, "you missed"),  # a constant: nothing ever stalls
    (lambda samples, seconds: None, "returned None"),
])
def test_misreadings_are_named(capsys, student, words):
    assert_rejected(capsys, nb09.stalled(student, KILL_RUN), words, exercise="09.3", no_traceback=True)
