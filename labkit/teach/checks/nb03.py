"""Checks for notebook 03's exercises (query Mongo). The expected answers are computed in
Python from the raw documents, a different route from the aggregation the student writes."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from labkit.contract import bucket_start, to_ms
from labkit.teach import exercises


def _readings(db, collection: str, start: datetime, end: datetime) -> list[dict]:
    return list(db[collection].find({"timestamp": {"$gte": start, "$lt": end}},
                                    {"_id": 0, "car_id": 1, "timestamp": 1, "speed": 1}))


def max_speed_per_minute(func, db, collection: str, start: datetime, end: datetime) -> bool:
    """03.1: one row per (car, minute) with the highest speed, sorted by car then minute."""
    best: dict[tuple[str, int], float] = defaultdict(lambda: float("-inf"))
    for r in _readings(db, collection, start, end):
        key = (r["car_id"], bucket_start(to_ms(r["timestamp"]), 60_000))
        best[key] = max(best[key], r["speed"])
    expected = [{"car_id": c, "minute": m, "max_speed": v} for (c, m), v in sorted(best.items())]
    return exercises.check("03.1 max speed per car per minute",
                           exercises.attempt(func, db, collection, start, end), expected,
                           hint="$match the range, $group by {car_id, minute: queries.bucket_expression(60_000)} "
                                "with {$max: '$speed'}, then $sort by _id.car_id and _id.minute")


def never_stopped(func, db, collection: str, start: datetime, end: datetime) -> bool:
    """03.2: the cars whose speed was never exactly 0 in the range, sorted."""
    slowest: dict[str, float] = {}
    for r in _readings(db, collection, start, end):
        slowest[r["car_id"]] = min(slowest.get(r["car_id"], r["speed"]), r["speed"])
    expected = sorted(c for c, v in slowest.items() if v > 0)
    return exercises.check("03.2 cars that never stopped", exercises.attempt(func, db, collection, start, end), expected,
                           hint="$group by car_id with {$min: '$speed'}, then $match the groups whose minimum is > 0")
