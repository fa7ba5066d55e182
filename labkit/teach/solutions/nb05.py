"""Solutions for notebook 05 (detection)."""

from __future__ import annotations


def choose_threshold(rows: list[dict], min_precision: float) -> float | None:
    """Exercise 05.1: of the sweep's rows whose precision reaches `min_precision`, the threshold
    with the best recall; on equal recall the higher threshold (it flags no more than a lower
    one, so it has no more false alarms). A row that flagged nothing has precision None and
    meets no target. None when no row meets it."""
    meeting = [r for r in rows if r["precision"] is not None and r["precision"] >= min_precision]
    if not meeting:
        return None
    return max(meeting, key=lambda r: (r["recall"], r["threshold"]))["threshold"]
