"""Solutions for notebook 01 (simulate)."""

from __future__ import annotations

import json
from collections import Counter

from labkit.kafka_io import Record


def events_per_partition(records: list[Record]) -> dict[int, int]:
    """Exercise 01.1: how many of the read-back messages are in each partition?"""
    return dict(Counter(r.partition for r in records))


def negative_speed(event: dict) -> bytes:
    """Exercise 01.2: a new fault: the same event with a negative speed, as JSON bytes."""
    bad = dict(event, speed=-abs(event["speed"]) - 1.0)
    return json.dumps(bad).encode()


def stopped_share(trip: list[dict]) -> float:
    """Exercise 01.3: the share of a trip's readings (0..1) during which the car stood still."""
    return sum(1 for r in trip if r["speed"] == 0) / len(trip)
