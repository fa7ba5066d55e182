"""Exercise 10.1 (count windows by event time, with a watermark): the solution passes the check,
the check rejects each classic mistake with a ✘ line (never a traceback), and the solution
counts as the lab's own `EventTimeWindows` does on random streams."""

import functools
import math
import random

import pandas as pd
import pytest

from labkit.process.windows import FLEET, TOO_LATE, EventTimeWindows
from labkit.teach import exercises
from labkit.teach.checks import nb10 as check
from labkit.teach.solutions import nb10 as solution
from tests.wrong_answers import assert_rejected

pytestmark = pytest.mark.unit


def _rejected(capsys, verdict, *words):
    assert_rejected(capsys, verdict, *words, exercise="10.1", no_traceback=True)


def _by_hand(readings, size_ms, delay_ms, lateness_ms, mistake=""):
    """Section 2's rule, right when `mistake` is empty; otherwise with that one mistake."""
    counts, too_late, newest = {}, [], None
    for r in readings:
        if mistake == "newest first":  # the watermark after including this reading
            newest = r["event_ms"] if newest is None else max(newest, r["event_ms"])
        if mistake == "watermark from this reading":
            newest = r["event_ms"]
        delay = 0 if mistake == "no delay" else delay_ms
        watermark = None if newest is None else newest - delay
        at = r["arrival_ms"] if mistake == "processing time" else r["event_ms"]
        size = 10_000 if mistake == "the notebook's window size" else size_ms
        start = math.ceil(at / size) * size - size if mistake == "ceil" else at - at % size
        end = start + size - (1 if mistake == "end 1 ms early" else 0)
        judged = r["event_ms"] if mistake == "own time" else end
        if watermark is None or end > watermark:
            verdict = "on time"
        elif judged + lateness_ms > watermark or (mistake == ">=" and judged + lateness_ms == watermark):
            verdict = "late"
        else:
            verdict = "too late"
        if verdict == "on time" or (verdict == "late" and mistake != "late dropped") or mistake == "too late counted":
            counts[start] = counts.get(start, 0) + 1
        if verdict == "too late":
            too_late.append(r)
        if mistake == "watermark moves back":  # the last reading's time, not the newest
            newest = r["event_ms"]
        elif mistake == "watermark by arrival":
            newest = r["arrival_ms"]
        elif mistake not in ("newest first", "watermark from this reading"):
            newest = r["event_ms"] if newest is None else max(newest, r["event_ms"])
    return counts, too_late


def test_the_solution_passes_the_check():
    assert check.count_windows(solution.count_windows)


def test_the_rule_by_hand_without_a_mistake_passes_too():
    """So each rejection below is the mistake's doing, not the helper's."""
    assert check.count_windows(_by_hand)


@pytest.mark.parametrize("mistake", [
    "processing time",             # windows by arrival, not by event time
    "watermark by arrival",        # the watermark from arrival times
    "too late counted",            # too-late readings counted into their (final) window
    "late dropped",                # late readings not counted
    "watermark from this reading", # this reading's own time, not the newest before it
    "watermark moves back",        # the last reading's time: an old reading pulls it back
    ">=",                          # counted when end + lateness == watermark
    "end 1 ms early",              # the window's end taken as start + size - 1
    "ceil",                        # a reading exactly at a window's start put in the window before
    "no delay",                    # the watermark is the newest event time itself
    "own time",                    # the reading's own time judged, not its window's end
    "the notebook's window size",  # 10 s, whatever size_ms says
])
def test_each_classic_mistake_is_rejected(capsys, mistake):
    _rejected(capsys, check.count_windows(functools.partial(_by_hand, mistake=mistake)), "wrong value for")


def test_updating_the_newest_before_judging_is_no_mistake_here():
    """The reading that moves the newest event time is always on time (its window ends after it,
    and the watermark is below it by the delay), so judging by the watermark after it gives the
    same verdicts: the check cannot, and should not, reject it."""
    assert check.count_windows(functools.partial(_by_hand, mistake="newest first"))


def _counts(readings, size_ms, delay_ms, lateness_ms):
    return solution.count_windows(readings, size_ms, delay_ms, lateness_ms)[0]


@pytest.mark.parametrize("student, words", [
    (lambda *args: None, ("returned None", "forget `return`")),
    (lambda *args: solution.count_windows(*args)[1], ("you returned a list of 3 items", "expected a pair")),
    (lambda *args: list(_counts(*args).values()), ("you returned a list", "expected a pair")),
    (lambda readings, *args: pd.DataFrame(readings), ("you returned a DataFrame", "expected a pair")),
    (_counts, ("you returned a dict", "expected a pair")),
    (lambda *args: (_counts(*args), len(solution.count_windows(*args)[1])), ("whose item 1 is an int",)),
    (lambda *args: (_counts(*args), [(r["car_id"], r["event_ms"]) for r in solution.count_windows(*args)[1]]),
     ("whose item 0 is a tuple",)),
    (lambda *args: ({("CAR_001", s): n for s, n in _counts(*args).items()}, []), ("whose key", "is a tuple")),
    (lambda *args: {}["event_ms"], ("your code raised KeyError",)),
])
def test_a_wrong_type_or_an_error_is_a_plain_cross(capsys, student, words):
    _rejected(capsys, check.count_windows(student), *words)


def test_a_pair_as_a_list_and_readings_with_a_key_added_pass():
    assert check.count_windows(lambda *args: list(solution.count_windows(*args)))

    def annotating(readings, *args):
        for r in readings:
            r["seen"] = True  # the check gives each call its own copy of the readings
        return solution.count_windows(readings, *args)

    assert check.count_windows(annotating)


def test_the_stub_is_not_attempted(capsys):
    def count_windows(readings, size_ms, delay_ms, lateness_ms):
        raise NotImplementedError

    assert check.count_windows(count_windows) is False
    assert capsys.readouterr().out.startswith("⏳ 10.1")
    assert check.your_counts(count_windows, check.WINDOW_READINGS, 10_000, 2_000, 5_000) is None
    assert "not written yet" in capsys.readouterr().out


def test_the_hint_is_there(capsys):
    exercises.hint("10.1")
    assert capsys.readouterr().out.startswith("💡 10.1 ")


def _drive(rng, cars=3, seconds=120):
    """Readings of `cars` cars, one a second with jitter, delayed as a weak network delays them
    (most a little, some by seconds, a few by much longer), in arrival order."""
    readings = []
    for t in range(seconds):
        for car in range(cars):
            event_ms = t * 1000 + rng.randrange(1000)
            delay_ms = rng.choice([rng.randrange(500)] * 8 + [rng.randrange(1_000, 8_000), rng.randrange(10_000, 25_000)])
            readings.append({"car_id": f"CAR_{car + 1:03d}", "event_ms": event_ms, "arrival_ms": event_ms + delay_ms})
    return sorted(readings, key=lambda r: r["arrival_ms"])


def _shuffled(rng, count=300):
    """Readings over 60 s in any order at all, arriving 100 ms apart."""
    events = [rng.randrange(60_000) for _ in range(count)]
    return [{"car_id": f"CAR_{i % 4 + 1:03d}", "event_ms": e, "arrival_ms": i * 100} for i, e in enumerate(events)]


def _labkit(readings, size_ms, delay_ms, lateness_ms):
    windows = EventTimeWindows(size_ms=size_ms, delay_ms=delay_ms, allowed_lateness_ms=lateness_ms)
    too_late = [r for r in readings if windows.add(0, r["car_id"], r["event_ms"], r["arrival_ms"]) == TOO_LATE]
    return {start: w.count for (key, start), w in windows.windows.items() if key == FLEET}, too_late


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("size_ms, delay_ms, lateness_ms", [(10_000, 1_000, 5_000), (5_000, 0, 0), (3_000, 2_500, 12_000)])
def test_the_solution_counts_as_event_time_windows_does(seed, size_ms, delay_ms, lateness_ms):
    rng = random.Random(seed)
    for readings in (_drive(rng), _shuffled(rng)):
        counts, too_late = solution.count_windows(readings, size_ms, delay_ms, lateness_ms)
        assert (counts, too_late) == _labkit(readings, size_ms, delay_ms, lateness_ms)
        assert sum(counts.values()) + len(too_late) == len(readings)
