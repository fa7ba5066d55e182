"""Solutions for notebook 05 (detection)."""

from __future__ import annotations


def choose_threshold(rows: list[dict], min_precision: float) -> float | None:
    """Exercise 05.2: of the sweep's rows whose precision reaches `min_precision`, the threshold
    with the best recall; on equal recall the higher threshold (it flags no more than a lower
    one, so it has no more false alarms). A row that flagged nothing has precision None and
    meets no target. None when no row meets it."""
    meeting = [r for r in rows if r["precision"] is not None and r["precision"] >= min_precision]
    if not meeting:
        return None
    return max(meeting, key=lambda r: (r["recall"], r["threshold"]))["threshold"]


def stuck_events(readings: list[dict], repeats: int) -> list[str]:
    """Exercise 05.1: the event ids of one car's readings (in the order measured) at which
    speed, rpm or engine_temp has had exactly the same value for `repeats` readings or more
    in a row; a speed of 0 (a car standing still) is not a stuck sensor. One id per reading."""
    last: dict[str, float] = {}
    run: dict[str, int] = {}
    flagged = []
    for reading in readings:
        stuck = False
        for name in ("speed", "rpm", "engine_temp"):
            value = reading[name]
            run[name] = run[name] + 1 if name in last and last[name] == value else 1
            last[name] = value
            if run[name] >= repeats and not (name == "speed" and value == 0):
                stuck = True
        if stuck:
            flagged.append(reading["event_id"])
    return flagged
