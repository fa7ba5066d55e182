"""Checks for notebook 07's exercises (time and change)."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

from labkit.process.validation import validate
from labkit.process.windows import TOO_LATE, EventTimeWindows
from labkit.teach import exercises

LATENESS = "07.1 allowed lateness"
UPGRADE = "07.2 upgrade to version 2"

HINTS = exercises.register_hints({
    LATENESS: "try the candidates smallest first: replay the stream through a fresh EventTimeWindows with "
              "that allowed lateness, count the TOO_LATE answers of add(), and stop at the first candidate "
              "whose share counted reaches the target",
    UPGRADE: "return a new dict ({**event, ...}) that says it is version 2: without schema_version a reader "
             "takes version 1 and drops the fields version 1 does not have",
})

SECONDS = exercises.of_type(float, what="a number of seconds (one of the candidates)")


def _counted(stream: list[dict], delay_ms: int, lateness_s: int) -> float:
    windows = EventTimeWindows(delay_ms=delay_ms, allowed_lateness_ms=lateness_s * 1000)
    too_late = sum(windows.add(0, e["car_id"], e["event_ms"], e["arrival_ms"]) == TOO_LATE for e in stream)
    return (len(stream) - too_late) / len(stream)


@exercises.graded(LATENESS)
def smallest_lateness(func, stream: list[dict], delay_ms: int, candidates: list[int],
                      targets: tuple[float, ...] = (0.95, 1.0)) -> bool:
    """07.1: the student's choice for each of `targets` (two whose answers differ, so that a
    constant cannot pass), each compared with the smallest candidate whose completeness
    reaches it (None where no candidate does)."""
    expected = {t: next((c for c in sorted(candidates) if _counted(stream, delay_ms, c) >= t), None) for t in targets}
    answers = {}
    for t in targets:
        answer = exercises.attempt(func, list(stream), delay_ms, t, list(candidates))
        kind = exercises.optional(SECONDS) if expected[t] is None else SECONDS
        if not exercises.expect_type(LATENESS, answer, kind, case=f"for target {t:g}"):
            return False
        answers[t] = answer
    return exercises.check(LATENESS, answers, expected)


@exercises.graded(UPGRADE)
def upgrade(func, event: dict) -> bool:
    """07.2: the upgraded event passes the validator as version 2 with both new fields, and
    the student's function leaves its input as it was."""
    original = copy.deepcopy(event)
    answer = exercises.attempt(func, event, 1234.5, 13.9)
    if not exercises.expect_type(UPGRADE, answer, exercises.DICT):
        return False
    if event != original:
        return exercises.wrong(UPGRADE, "your function changed the event it was given; return a new dict")
    try:
        raw = json.dumps(answer).encode()
    except (TypeError, ValueError) as exc:
        return exercises.wrong(UPGRADE, f"your dict cannot be written as JSON ({type(exc).__name__}: {exc})")
    verdict = validate(raw, datetime.now(timezone.utc))
    seen = ({k: verdict.event.get(k) for k in ("schema_version", "odometer_km", "battery_v")} if verdict.ok
            else {"rejected": verdict.reason})
    return exercises.check(UPGRADE, seen, {"schema_version": 2, "odometer_km": 1234.5, "battery_v": 13.9})
