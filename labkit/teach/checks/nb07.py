"""Checks for notebook 07's exercises (time and change)."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

from labkit.process.validation import validate
from labkit.process.windows import TOO_LATE, EventTimeWindows
from labkit.teach import exercises


def _counted(stream: list[dict], delay_ms: int, lateness_s: int) -> float:
    windows = EventTimeWindows(delay_ms=delay_ms, allowed_lateness_ms=lateness_s * 1000)
    too_late = sum(windows.add(0, e["car_id"], e["event_ms"], e["arrival_ms"]) == TOO_LATE for e in stream)
    return (len(stream) - too_late) / len(stream)


def smallest_lateness(func, stream: list[dict], delay_ms: int, candidates: list[int],
                      targets: tuple[float, ...] = (0.95, 1.0)) -> bool:
    """07.1: the student's choice for each of `targets` (two whose answers differ, so that a
    constant cannot pass), each compared with the smallest candidate whose completeness
    reaches it."""
    expected = {t: next((c for c in sorted(candidates) if _counted(stream, delay_ms, c) >= t), None) for t in targets}
    answers = {}
    for t in targets:
        answer = exercises.attempt(func, list(stream), delay_ms, t, list(candidates))
        if answer is None:
            return exercises.check("07.1 allowed lateness", None, expected)
        answers[t] = answer
    return exercises.check("07.1 allowed lateness", answers, expected,
                           hint="for each candidate (smallest first): w = EventTimeWindows(delay_ms=delay_ms, "
                                "allowed_lateness_ms=c * 1000); count w.add(0, e['car_id'], e['event_ms'], e['arrival_ms']) "
                                "== TOO_LATE over the stream; return c when (n - too_late) / n >= target")


def upgrade(func, event: dict) -> bool:
    """07.2: the upgraded event passes the validator as version 2 with both new fields, and
    the student's function leaves its input as it was."""
    original = copy.deepcopy(event)
    answer = exercises.attempt(func, event, 1234.5, 13.9)
    if answer is None or not isinstance(answer, dict):
        return exercises.check("07.2 upgrade to version 2", answer, {})
    if event != original:
        print("✘ 07.2 upgrade to version 2: your function changed the event it was given; return a new dict")
        return False
    verdict = validate(json.dumps(answer).encode(), datetime.now(timezone.utc))
    seen = ({k: verdict.event.get(k) for k in ("schema_version", "odometer_km", "battery_v")} if verdict.ok
            else {"rejected": verdict.reason})
    return exercises.check("07.2 upgrade to version 2", seen, {"schema_version": 2, "odometer_km": 1234.5, "battery_v": 13.9},
                           hint="copy the event ({**event}), set schema_version to 2 (without it a reader takes "
                                "version 1 and drops fields version 1 does not have), then add odometer_km and battery_v")
