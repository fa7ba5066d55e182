"""Solutions for notebook 07 (time and change)."""

from __future__ import annotations

from labkit.process.windows import TOO_LATE, EventTimeWindows


def smallest_lateness(stream: list[dict], delay_ms: int, target: float, candidates: list[int]) -> int | None:
    """Exercise 07.1: the smallest allowed lateness (s) among `candidates` that counts at
    least `target` of the events in a window (the rest would be too late)."""
    for seconds in sorted(candidates):
        windows = EventTimeWindows(delay_ms=delay_ms, allowed_lateness_ms=seconds * 1000)
        too_late = sum(windows.add(0, e["car_id"], e["event_ms"], e["arrival_ms"]) == TOO_LATE for e in stream)
        if (len(stream) - too_late) / len(stream) >= target:
            return seconds
    return None


def upgrade(event: dict, odometer_km: float, battery_v: float) -> dict:
    """Exercise 07.2: a version-1 event as version 2 (a new dict; the input is untouched)."""
    return {**event, "schema_version": 2, "odometer_km": odometer_km, "battery_v": battery_v}
