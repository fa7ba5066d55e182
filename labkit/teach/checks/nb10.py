"""Checks for notebook 10's exercises (event time)."""

from __future__ import annotations

from labkit.process.windows import FLEET, TOO_LATE, EventTimeWindows
from labkit.teach import exercises

LATENESS = "10.2 allowed lateness"
WINDOWS = "10.1 count windows by event time"

HINTS = exercises.register_hints({
    LATENESS: "completeness only grows with the allowed lateness, so the smallest candidate that reaches the "
              "target is the answer. EventTimeWindows(delay_ms=..., allowed_lateness_ms=...).add() judges "
              "one reading; TOO_LATE ones are not counted. Candidates are seconds",
    WINDOWS: "walk the readings in arrival order, as a stream processor does: the watermark only knows the "
             "newest event time seen so far. A reading is late when its window has already closed; "
             "bucket_start(event_ms, size_ms) gives its window",
})

SECONDS = exercises.of_type(float, what="a number of seconds (one of the candidates)")


def _counted(stream: list[dict], delay_ms: int, lateness_s: int) -> float:
    windows = EventTimeWindows(delay_ms=delay_ms, allowed_lateness_ms=lateness_s * 1000)
    too_late = sum(windows.add(0, e["car_id"], e["event_ms"], e["arrival_ms"]) == TOO_LATE for e in stream)
    return (len(stream) - too_late) / len(stream)


@exercises.graded(LATENESS)
def smallest_lateness(func, stream: list[dict], delay_ms: int, candidates: list[int],
                      targets: tuple[float, ...] = (0.95, 1.0)) -> bool:
    """10.2: the student's choice for each of `targets` (two whose answers differ, so that a
    constant cannot pass), each compared with the smallest candidate whose completeness
    reaches it (None where no candidate does); asked for the notebook's `delay_ms` and again
    for a watermark that waits 10 s longer, so that the notebook's own table does not answer it.
    An answer that reads that table's function, `lateness_trade_off`, is rejected: it is the loop
    this exercise asks for."""
    if exercises.uses_the_lab_version(LATENESS, func, {
            "lateness_trade_off": "EventTimeWindows in a loop of your own over the candidates"}):
        return False
    cases = [(delay, t) for delay in (delay_ms, delay_ms + 10_000) for t in targets]
    answers, expected = {}, {}
    for delay, t in cases:
        case = f"delay_ms={delay}, target {t:g}"
        expected[case] = next((c for c in sorted(candidates) if _counted(stream, delay, c) >= t), None)
        answer = exercises.attempt(func, list(stream), delay, t, list(candidates))
        # None is a valid answer (no candidate reaches the target), so it is judged by value:
        # "did you forget return?" would send the student to the wrong line.
        if not exercises.expect_type(LATENESS, answer, exercises.optional(SECONDS), case=f"for {case}"):
            return False
        answers[case] = answer
    return exercises.check(LATENESS, answers, expected)


COUNTS_AND_TOO_LATE = exercises.pair(
    exercises.dict_of(exercises.INTEGER, exercises.INTEGER), exercises.list_of(exercises.DICT),
    "a pair ({window start (ms): count}, [too-late readings])")

#: 10.1's stream, in arrival order: (car, event ms, arrival ms). Most readings are there to catch
#: a mistake; the comments give the watermark before it and its verdict with 10 s windows, a
#: delay of 2 s and an allowed lateness of 5 s (the first of WINDOW_CASES).
WINDOW_READINGS = [{"car_id": car, "event_ms": event_ms, "arrival_ms": arrival_ms} for car, event_ms, arrival_ms in [
    ("CAR_001", 0, 200),            # none: on time, exactly at the start of [0, 10)
    ("CAR_002", 1_000, 1_200),      # -2000: on time
    ("CAR_001", 9_000, 9_200),      # -1000: on time
    ("CAR_002", 10_000, 10_200),    # 7000: on time, exactly at the end of [0, 10): it belongs to [10, 20)
    ("CAR_001", 9_999, 10_300),     # 8000: out of order within the delay, on time; arrives in [10, 20)
    ("CAR_001", 13_000, 13_200),    # 8000: on time
    ("CAR_002", 12_000, 13_400),    # 11000: on time
    ("CAR_001", 8_000, 14_000),     # 11000: late, counted in [0, 10)
    ("CAR_002", 21_000, 21_200),    # 11000: on time
    ("CAR_001", 22_000, 22_200),    # 19000: on time
    ("CAR_002", 5_000, 22_500),     # 20000: too late for [0, 10); a watermark from this reading's time counts it
    ("CAR_001", 27_000, 27_200),    # 20000: on time
    ("CAR_002", 17_000, 27_500),    # 25000: too late, just: 20 s + 5 s is not above 25 s (`>=` counts it)
    ("CAR_002", 14_000, 27_800),    # 25000: too late (a watermark that moves back to 17 s - 2 s counts it)
    ("CAR_001", 36_999, 37_100),    # 25000: on time
    ("CAR_002", 24_000, 37_400),    # 34999: late by 1 ms to spare: too late without the delay, or judged by
                                    #        its own time (24 s + 5 s), or with a window end 1 ms early
    ("CAR_001", 38_000, 38_200),    # 34999: on time
]]

#: (size_ms, delay_ms, lateness_ms): the first the stream is made for; the second is not the
#: notebook's window size, nor its delay, so an answer must use its arguments.
WINDOW_CASES = [(10_000, 2_000, 5_000), (4_000, 0, 3_000)]

_READING_FIELDS = ("car_id", "event_ms", "arrival_ms")


def _labkit_counts(readings: list[dict], size_ms: int, delay_ms: int, lateness_ms: int) -> tuple[dict, list]:
    """10.1's answer, from the lab's own code: `EventTimeWindows` on one partition, fleet-wide.
    Without `advance()` nothing is published, so no window is forgotten and `windows` holds
    every count. (Arrivals here are never `idle_ms` apart, so the partition never idles.)"""
    windows = EventTimeWindows(size_ms=size_ms, delay_ms=delay_ms, allowed_lateness_ms=lateness_ms)
    too_late = [r for r in readings if windows.add(0, r["car_id"], r["event_ms"], r["arrival_ms"]) == TOO_LATE]
    counts = {start: w.count for (key, start), w in windows.windows.items() if key == FLEET}
    return counts, too_late


def _comparable(answer) -> dict:
    """A (counts, too_late) pair in the form the check compares: windows that counted nothing
    left out, and each too-late reading as its three fields (a key the student's code added to
    a reading is not an error here)."""
    counts, too_late = answer
    return {"counts": {start: n for start, n in dict(counts).items() if n != 0},
            "too late": [{k: r.get(k) for k in _READING_FIELDS} for r in too_late]}


@exercises.graded(WINDOWS)
def count_windows(func) -> bool:
    """10.1: the student's counts per window and too-late readings, against `EventTimeWindows`'
    on WINDOW_READINGS, for each of WINDOW_CASES (each call gets its own copy of the readings)."""
    if exercises.uses_the_lab_version(WINDOWS, func, {
            "EventTimeWindows": "a loop of your own over the readings",
            "your_counts": "a loop of your own over the readings"}):
        return False
    answers, expected = {}, {}
    for size_ms, delay_ms, lateness_ms in WINDOW_CASES:
        case = f"{size_ms / 1000:g} s windows, delay {delay_ms / 1000:g} s, lateness {lateness_ms / 1000:g} s"
        answer = exercises.attempt(func, [dict(r) for r in WINDOW_READINGS], size_ms, delay_ms, lateness_ms)
        if not exercises.expect_type(WINDOWS, answer, COUNTS_AND_TOO_LATE, case=f"for {case}"):
            return False
        answers[case] = _comparable(answer)
        expected[case] = _comparable(_labkit_counts(WINDOW_READINGS, size_ms, delay_ms, lateness_ms))
    return exercises.check(WINDOWS, answers, expected)


def your_counts(func, readings: list[dict], size_ms: int, delay_ms: int, lateness_ms: int) -> dict | None:
    """10.1's counts per window from the student's function, for a table beside the real
    code's; None, said in a line, while it is not written yet or does not return its pair
    (what is wrong, as the check says it). Never raises."""
    answer = exercises.attempt(func, list(readings), size_ms, delay_ms, lateness_ms)
    if answer is exercises.NOT_ATTEMPTED:
        print("⏳ 10.1: count_windows is not written yet, so the table has the real code's counts only.")
        return None
    if not exercises.expect_type(WINDOWS, answer, COUNTS_AND_TOO_LATE, case="on the drive"):
        print("So the table has the real code's counts only.")
        return None
    return dict(answer[0])
