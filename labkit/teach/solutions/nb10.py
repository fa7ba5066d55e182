"""Solutions for notebook 10 (change in production)."""

from __future__ import annotations


def speed_kmh(event: dict) -> float | None:
    """Exercise 10.1: the speed in km/h of an event of version 1 (no `schema_version`, or 1), 2
    or 3 (`speed_mps`, in metres per second); None for a version this reader does not know,
    whatever fields it has: it may have changed what they mean."""
    version = event.get("schema_version", 1)  # version 1 events were sent before versions existed
    if version in (1, 2):
        return event["speed"]
    if version == 3:
        return event["speed_mps"] * 3.6
    return None
