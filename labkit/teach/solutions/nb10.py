"""Solutions for notebook 10 (event time)."""

from __future__ import annotations

from labkit.contract import bucket_start
from labkit.process.windows import TOO_LATE, EventTimeWindows


def smallest_lateness(stream: list[dict], delay_ms: int, target: float, candidates: list[int]) -> int | None:
    """Exercise 10.2: the smallest allowed lateness (s) among `candidates` that counts at
    least `target` of the events in a window (the rest would be too late)."""
    for seconds in sorted(candidates):
        windows = EventTimeWindows(delay_ms=delay_ms, allowed_lateness_ms=seconds * 1000)
        too_late = sum(windows.add(0, e["car_id"], e["event_ms"], e["arrival_ms"]) == TOO_LATE for e in stream)
        if (len(stream) - too_late) / len(stream) >= target:
            return seconds
    return None


def count_windows(readings: list[dict], size_ms: int, delay_ms: int,
                  lateness_ms: int) -> tuple[dict[int, int], list[dict]]:
    """Exercise 10.1: section 2's watermark rule, counting. `readings` ({"car_id", "event_ms",
    "arrival_ms"}) come in arrival order; returns ({window start (ms): readings counted in it},
    [the too-late readings, in arrival order]), fleet-wide, as `EventTimeWindows` counts them."""
    counts: dict[int, int] = {}
    too_late: list[dict] = []
    newest = None  # the newest event time seen so far
    for reading in readings:
        watermark = None if newest is None else newest - delay_ms  # before this reading
        start = bucket_start(reading["event_ms"], size_ms)
        if watermark is not None and start + size_ms + lateness_ms <= watermark:
            too_late.append(reading)  # its window is final: set aside, not counted
        else:
            counts[start] = counts.get(start, 0) + 1  # on time or late: the window counts it
        newest = reading["event_ms"] if newest is None else max(newest, reading["event_ms"])
    return counts, too_late
