"""Checks for notebook 03's exercises (query Mongo). The expected answers are computed in
Python from the raw documents, a different route from the aggregation the student writes."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from labkit.contract import bucket_start, to_ms
from labkit.teach import exercises

MAX_SPEED = "03.1 max speed per car per minute"
NEVER_STOPPED = "03.2 cars that never stopped"

HINTS = exercises.register_hints({
    MAX_SPEED: "$match the time range, $group by car and minute (queries.bucket_expression gives the minute) "
               "with $max, $sort; then turn each row into the three keys asked for",
    NEVER_STOPPED: "a car never stopped when its slowest reading is above 0: $group per car with $min, "
                   "then keep the groups above 0",
})

ROWS = exercises.list_of(exercises.DICT, 'a list of dicts {"car_id", "minute", "max_speed"}')
CARS = exercises.list_of(exercises.TEXT, "a list of car ids (strings), sorted")


def _readings(db, collection: str, start: datetime, end: datetime) -> list[dict]:
    return list(db[collection].find({"timestamp": {"$gte": start, "$lt": end}},
                                    {"_id": 0, "car_id": 1, "timestamp": 1, "speed": 1}))


@exercises.graded(MAX_SPEED)
def max_speed_per_minute(func, db, collection: str, start: datetime, end: datetime) -> bool:
    """03.1: one row per (car, minute) with the highest speed, sorted by car then minute."""
    best: dict[tuple[str, int], float] = defaultdict(lambda: float("-inf"))
    for r in _readings(db, collection, start, end):
        key = (r["car_id"], bucket_start(to_ms(r["timestamp"]), 60_000))
        best[key] = max(best[key], r["speed"])
    expected = [{"car_id": c, "minute": m, "max_speed": v} for (c, m), v in sorted(best.items())]
    answer = exercises.attempt(func, db, collection, start, end)
    if not exercises.expect_type(MAX_SPEED, answer, ROWS):
        return False
    return exercises.check(MAX_SPEED, list(answer), expected)


@exercises.graded(NEVER_STOPPED)
def never_stopped(func, db, collection: str, start: datetime, end: datetime) -> bool:
    """03.2: the cars whose speed was never exactly 0 in the range, sorted."""
    slowest: dict[str, float] = {}
    for r in _readings(db, collection, start, end):
        slowest[r["car_id"]] = min(slowest.get(r["car_id"], r["speed"]), r["speed"])
    expected = sorted(c for c, v in slowest.items() if v > 0)
    answer = exercises.attempt(func, db, collection, start, end)
    if not exercises.expect_type(NEVER_STOPPED, answer, CARS):
        return False
    return exercises.check(NEVER_STOPPED, list(answer), expected)
