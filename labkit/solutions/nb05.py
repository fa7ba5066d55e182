"""Solutions for notebook 05 (read dashboards)."""

from __future__ import annotations


def most_common_reason(reason_rows: list[dict]) -> str | None:
    """Exercise 05.1: from /dlq/reasons rows `{reason, count}`, the reason seen most often."""
    if not reason_rows:
        return None
    return max(reason_rows, key=lambda r: (r["count"], r["reason"]))["reason"]


def is_stale(health: dict, max_age_s: float = 30.0) -> bool:
    """Exercise 05.2: is the pipeline stale? No data at all, or the newest processed event
    older than `max_age_s` (the freshness stat on the Pipeline Health dashboard)."""
    freshness = health.get("freshness_s")
    return freshness is None or freshness > max_age_s
