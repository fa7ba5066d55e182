"""Checks for notebook 06's exercises (query Mongo).

06.1 and 06.3 first run the student's function on readings the check writes itself, into a
scratch collection (`EDGES`), because the practice dataset cannot tell right from wrong: its
readings fill the range, so an aggregation without `$match` gives the same answer, and every
car in it stops, so `return []` is right there. The check's readings sit where the classic
mistakes show: just outside the range on both sides (faster than any reading inside, and one
at exactly `end`, which `$lt` excludes), on both sides of a minute boundary, and they have cars
that stop only outside the range (one well after `end`, so that a range without its upper bound
shows), a car that crawls but never stops, and a car with no reading in the range. The expected
answers are computed in Python from the same readings, a different route from the student's
pipeline; a wrong answer is named by the mistake that gives it when one does. Given the
notebook's collection and range too, the check then runs the function on the practice dataset.

06.2 writes one 10 s rollup. The check fills a scratch collection of readings of its own
(`ROLLUP_READINGS`: the bucket's edges, a reading just outside it on both sides, another car
inside it) and calls the student's function three times: once, then again on the same readings
(a redelivered batch: the document must not change), then after a late reading of the bucket
(the document must count it). It reads what the function wrote (`ROLLUP_STORE`), never what it
returned, and names the mistake behind a wrong document: a range or a filter that is off, an
update that adds, an insert that cannot run twice, a write that skips a stored document, an
average where a sum belongs. Before the first call it stores two other rollups beside the
student's bucket (`neighbour_rollups`): a write that drops, empties or overwrites more than its
own document changes them, and is told so.

06.4 runs the student's function on a scratch collection of its own (`EXPLAINED`), without an
index and then with one, and compares what it read with the server's own explain of that find.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone

from pymongo import ASCENDING
from pymongo.errors import BulkWriteError, OperationFailure

from labkit.contract import bucket_start, car_id, from_ms, to_ms
from labkit.store.mongo import event_document
from labkit.teach import exercises

MAX_SPEED = "06.1 max speed per car per minute"
REBUILD = "06.2 rebuild one rollup"
NEVER_STOPPED = "06.3 cars that never stopped"
EXPLAIN = "06.4 read an explain"

HINTS = exercises.register_hints({
    MAX_SPEED: "an aggregation pipeline: keep the readings in the range (start included, end excluded), group "
               "them by car and minute (queries.bucket_expression builds the minute) with an accumulator that "
               "keeps the largest speed, then order and reshape the rows",
    REBUILD: "rebuild, never add: let the server compute the bucket from the readings ($match the car and "
             "the bucket's time range, as dates; $group with $sum, $min and $max), then write the whole "
             "document over the stored one (replace_one, with upsert)",
    NEVER_STOPPED: "'never stopped' means the slowest reading in the range is above 0. A $group accumulator "
                   "gives each car's slowest reading, and a stage after the $group can filter groups as "
                   "$match filters documents",
    EXPLAIN: "ask the server to run the find and report (the explain command, verbosity executionStats); "
             "the stages are in queryPlanner.winningPlan (under queryPlan when explainVersion is \"2\"), each "
             "feeding its parent through inputStage; the counts are in executionStats",
})

ROWS = exercises.list_of(exercises.DICT, 'a list of dicts {"car_id", "minute", "max_speed"}')
CARS = exercises.list_of(exercises.TEXT, "a list of car ids (strings), sorted")
COUNTS = ("docs_examined", "keys_examined", "returned")
#: Why a range needs both bounds in one dict: Python keeps only the last of a key written twice.
ONE_DICT = ('a dict with the key "timestamp" twice keeps only the last one: both bounds go in one dict: '
            '{"$gte": ..., "$lt": ...}')
#: How to compare `timestamp` (a BSON date) with a time given in epoch ms.
AS_DATES = ("`timestamp` holds dates, so compare it with dates: contract.from_ms(ms), or "
            "datetime.fromtimestamp(ms / 1000, tz=timezone.utc) (without tz it is local time), not epoch ms")
EXPLAIN_FIELDS = exercises.Kind('a dict {"stages", "docs_examined", "keys_examined", "returned"}',
                                lambda x: isinstance(x, Mapping))

# ------------------------------------------------------------------ 06.1 and 06.3: the edges

#: The scratch collection of 06.1 and 06.3, in the student's database; emptied by every check.
EDGES = "check06_edges"
#: The range the check asks about: neither end on a minute boundary.
EDGE_START = datetime(2026, 11, 1, 9, 0, 20, tzinfo=timezone.utc)
EDGE_END = datetime(2026, 11, 1, 9, 3, 40, tzinfo=timezone.utc)

# (car number, time of day "HH:MM:SS.fff", speed km/h). Inside the range every speed is at
# most 150; the fastest readings are just outside it.
_EDGE_READINGS = [
    # CAR_101 moves, and stops inside the range.
    (101, "08:59:50.000", 60.0),    # a minute before the range
    (101, "09:00:19.999", 250.0),   # 1 ms before start: the fastest reading of all
    (101, "09:00:20.000", 90.0),    # exactly start: inside, the fastest of its minute
    (101, "09:00:45.000", 40.0),
    (101, "09:01:10.000", 0.0),     # stops, inside
    (101, "09:01:59.999", 130.0),   # the last millisecond of minute 09:01
    (101, "09:02:00.000", 20.0),    # the first millisecond of minute 09:02
    (101, "09:02:30.000", 70.0),
    (101, "09:03:10.000", 50.0),
    (101, "09:03:40.000", 240.0),   # exactly end: outside, faster than any reading inside
    (101, "09:04:05.000", 80.0),    # a minute after the range
    # CAR_102 crawls once but never stops.
    (102, "09:00:30.000", 0.4),
    (102, "09:00:50.000", 35.5),
    (102, "09:01:59.999", 20.0),
    (102, "09:02:00.000", 150.0),
    (102, "09:03:39.999", 100.0),   # 1 ms before end: inside
    # CAR_103 stops only 1 ms before start.
    (103, "09:00:19.999", 0.0),
    (103, "09:00:25.000", 55.0),
    (103, "09:01:30.000", 65.0),
    (103, "09:02:45.000", 45.0),
    # CAR_104 stops only at exactly end.
    (104, "09:01:05.000", 75.0),
    (104, "09:02:05.000", 85.0),
    (104, "09:03:30.000", 25.0),
    (104, "09:03:40.000", 0.0),
    # CAR_105 has readings only outside the range, and stops only well after it: a range with no
    # upper bound ($gte alone) drops it, a range that includes `end` ($lte) keeps it.
    (105, "08:59:40.000", 110.0),
    (105, "09:03:40.000", 120.0),
    (105, "09:04:20.000", 100.0),
    (105, "09:05:30.000", 0.0),
]


def _at(clock: str) -> datetime:
    hours, minutes, seconds = clock.split(":")
    return EDGE_START.replace(hour=int(hours), minute=int(minutes), second=0, microsecond=0) + timedelta(
        seconds=float(seconds))


def edge_readings() -> list[dict]:
    """The check's readings as `{"car_id", "ms", "speed"}`, oldest first."""
    return sorted(({"car_id": car_id(n), "ms": to_ms(_at(clock)), "speed": speed} for n, clock, speed in _EDGE_READINGS),
                  key=lambda r: (r["ms"], r["car_id"]))


def edge_documents() -> list[dict]:
    """The check's readings as the processor stores them (`labkit.store.mongo.event_document`),
    in a shuffled order: a pipeline without `$sort` does not get them sorted by chance (a server
    whose `$group` keeps the order it meets the groups in, as the local one does, meets the cars
    that never stopped, and the (car, minute) pairs, in an order that is not sorted)."""
    seq: dict[str, int] = defaultdict(int)
    docs = []
    for r in edge_readings():
        seq[r["car_id"]] += 1
        event = {"car_id": r["car_id"], "timestamp": from_ms(r["ms"]), "speed": r["speed"],
                 "rpm": 900.0 + 30 * r["speed"], "engine_temp": 90.0, "fuel_level": 60.0,
                 "latitude": 52.52, "longitude": 13.405, "event_id": f"check06-{r['car_id']}-{r['ms']}",
                 "seq": seq[r["car_id"]]}
        docs.append(event_document(event))
    random.Random(6).shuffle(docs)
    return docs


def fill_edges(db) -> None:
    """(Re)write the scratch collection of 06.1 and 06.3 in `db`."""
    db[EDGES].drop()
    db[EDGES].insert_many(edge_documents())


def _in(lo: int, hi: int, *, start_included: bool = True, end_included: bool = False) -> Callable[[int], bool]:
    return lambda ms: (lo <= ms if start_included else lo < ms) and (ms <= hi if end_included else ms < hi)


def _rows(readings: list[dict], keep: Callable[[int], bool]) -> list[dict]:
    """06.1 computed in Python: the fastest reading per (car, minute) among those `keep` takes."""
    best: dict[tuple[str, int], float] = {}
    for r in readings:
        if keep(r["ms"]):
            key = (r["car_id"], bucket_start(r["ms"], 60_000))
            best[key] = max(best.get(key, r["speed"]), r["speed"])
    return [{"car_id": c, "minute": m, "max_speed": v} for (c, m), v in sorted(best.items())]


def _sorted_rows(rows: list) -> list | None:
    try:
        return sorted(rows, key=lambda r: (str(r["car_id"]), int(r["minute"])))
    except Exception:  # rows without those keys cannot be sorted: no diagnosis from order
        return None


def rows_problem(answer: list, readings: list[dict], lo: int, hi: int) -> str | None:
    """What is wrong with a 06.1 answer over `readings` and the range [lo, hi) (epoch ms), or
    None when it is right: the mistake that gives this answer when one does, else the first
    difference."""
    expected = _rows(readings, _in(lo, hi))
    if exercises.same(answer, expected):
        return None
    in_order = _sorted_rows(answer)
    mistakes = [
        (_in(lo, hi, start_included=True, end_included=True),
         "your rows count the reading at exactly `end`: the range includes its start and excludes its end "
         "($lt, not $lte)"),
        (_in(lo, hi, start_included=False),
         "your rows leave out the reading at exactly `start`: the range includes its start ($gte, not $gt)"),
        (lambda ms: lo <= ms, f"your rows count readings after `end`: only $gte applies ({ONE_DICT})"),
        (lambda ms: ms < hi, f"your rows count readings before `start`: only $lt applies ({ONE_DICT})"),
        (lambda ms: True, "your rows count readings outside the range: $match start <= timestamp < end "
                          "before you group"),
    ]
    if in_order is not None:
        if exercises.same(in_order, expected):
            return "the right rows in the wrong order: sort by car, then by minute"
        for keep, why in mistakes:
            if exercises.same(in_order, _rows(readings, keep)):
                return why
    cars_in_range = {r["car_id"] for r in expected}
    try:
        one_per_car = len(answer) == len(cars_in_range) == len({str(r.get("car_id")) for r in answer})
    except Exception:
        one_per_car = False
    if one_per_car:
        return "one row per car: group by car *and* minute"
    return exercises.describe_difference(answer, expected)


def _never_stopped(readings: list[dict], keep: Callable[[int], bool]) -> list[str]:
    slowest: dict[str, float] = {}
    for r in readings:
        if keep(r["ms"]):
            slowest[r["car_id"]] = min(slowest.get(r["car_id"], r["speed"]), r["speed"])
    return sorted(c for c, v in slowest.items() if v > 0)


def cars_problem(answer: list, readings: list[dict], lo: int, hi: int) -> str | None:
    """What is wrong with a 06.3 answer over `readings` and [lo, hi), or None when it is right:
    the mistake that gives this answer when one does, else which kind of car is wrongly in it
    or wrongly left out."""
    inside = _in(lo, hi)
    expected = _never_stopped(readings, inside)
    if exercises.same(answer, expected):
        return None
    given = set(answer)
    if given == set(expected):
        return ("the right cars, in the wrong order: sort them" if len(answer) == len(given)
                else "some cars appear more than once")
    if not given and expected:
        return "you returned no cars, but in the check's readings some cars never stop in the range"
    if exercises.same(sorted(given), _never_stopped(readings, _in(lo, hi, end_included=True))):
        return ("your list counts the readings at exactly `end`: the range includes its start and excludes "
                "its end ($lt, not $lte)")
    if exercises.same(sorted(given), _never_stopped(readings, lambda ms: lo <= ms)):
        return f"your list counts readings after `end`: only $gte applies ({ONE_DICT})"
    if exercises.same(sorted(given), _never_stopped(readings, lambda ms: ms < hi)):
        return f"your list counts readings before `start`: only $lt applies ({ONE_DICT})"
    if exercises.same(sorted(given), _never_stopped(readings, lambda ms: True)):
        return "your list counts readings outside the range: $match start <= timestamp < end before you group"
    in_range = {r["car_id"] for r in readings if inside(r["ms"])}
    stopped = {r["car_id"] for r in readings if inside(r["ms"]) and r["speed"] == 0}
    problems = []
    extra = given - set(expected)
    if extra & stopped:
        problems.append("your list includes a car whose speed was 0 in the range: keep a car only when "
                        "its slowest reading in the range is above 0")
    if extra - in_range:
        problems.append("your list includes a car with no reading in the range: $match start <= timestamp < end "
                        "first")
    for car in sorted(set(expected) - given):
        mine = [r for r in readings if r["car_id"] == car]
        if any(r["speed"] == 0 and r["ms"] == hi for r in mine):
            problems.append("you left out a car that stopped only at exactly `end`, which the range excludes "
                            "($lt, not $lte)")
        elif any(r["speed"] == 0 and not inside(r["ms"]) for r in mine):
            problems.append("you left out a car that stopped only outside the range: readings outside "
                            "[start, end) do not count")
        else:
            problems.append("you left out a car that crawled but never stopped: stopped means a speed of exactly 0")
    if problems:
        return "; ".join(dict.fromkeys(problems))  # each kind of mistake once
    return exercises.describe_difference(list(answer), expected)


def _readings(db, collection: str, start: datetime, end: datetime) -> list[dict]:
    """The stored readings in [start, end) as `{"car_id", "ms", "speed"}`, read with a plain find."""
    return [{"car_id": r["car_id"], "ms": to_ms(r["timestamp"]), "speed": r["speed"]}
            for r in db[collection].find({"timestamp": {"$gte": start, "$lt": end}},
                                         {"_id": 0, "car_id": 1, "timestamp": 1, "speed": 1})]


def _grouped_by_the_server(name: str, func) -> bool:
    """06.1 asks for an aggregation pipeline: a right answer whose source calls no `.aggregate(`
    is told so (False). 06.3 may be answered either way."""
    if name == MAX_SPEED and exercises.calls_method(func, "aggregate") is False:
        return exercises.wrong(name, "right rows, but the exercise asks for an aggregation pipeline "
                                     "(collection.aggregate([...])): the server groups, and only the rows travel")
    return True


class _RecordingDatabase:
    """The student's database, as it is, except that each pipeline given to a collection's
    `aggregate` is kept in `pipelines` (the check reads the order of its stages)."""

    def __init__(self, db):
        self._db, self.pipelines, self.names = db, [], set()  # names: the collections asked for

    def __getitem__(self, name):
        self.names.add(name)
        return _RecordingCollection(self._db[name], self.pipelines)

    def get_collection(self, name, *args, **kwargs):
        self.names.add(name)
        return _RecordingCollection(self._db.get_collection(name, *args, **kwargs), self.pipelines)

    def __getattr__(self, name):
        return getattr(self._db, name)


class _RecordingCollection:
    def __init__(self, collection, pipelines: list):
        self._collection, self._pipelines = collection, pipelines

    def aggregate(self, pipeline, *args, **kwargs):
        self._pipelines.append(list(pipeline))
        return self._collection.aggregate(pipeline, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._collection, name)


def _sorted_before_grouping(pipelines: list[list]) -> bool:
    """True when a pipeline sorts before its last $group and not after it: the groups then come
    out in whatever order the server gives them."""
    for pipeline in pipelines:
        names = [next(iter(stage), "") if isinstance(stage, dict) else "" for stage in pipeline]
        if "$group" in names:
            last_group = len(names) - 1 - names[::-1].index("$group")
            if "$sort" in names[:last_group] and "$sort" not in names[last_group:]:
                return True
    return False


def _run_on_edges_then_practice(name: str, kind: exercises.Kind, problem: Callable, expected_of: Callable,
                                func, db, collection: str | None, start: datetime | None,
                                end: datetime | None) -> bool:
    """The shared course of 06.1 and 06.3: the check's readings, then the practice dataset."""
    fill_edges(db)
    lo, hi = to_ms(EDGE_START), to_ms(EDGE_END)
    recording = _RecordingDatabase(db)
    answer = exercises.attempt(func, recording, EDGES, EDGE_START, EDGE_END)
    if not exercises.expect_type(name, answer, kind):
        return False
    if _sorted_before_grouping(recording.pipelines):
        return exercises.wrong(name, "your pipeline sorts before its $group and not after it: $group promises no "
                                     "order for the groups it gives (this server happens to keep the order it met "
                                     "them in; MongoDB does not), so put the $sort after the $group")
    why = problem(list(answer), edge_readings(), lo, hi)
    if why is not None:
        return exercises.wrong(name, f"on the check's own readings ({EDGES}, {EDGE_START:%H:%M:%S} to "
                                     f"{EDGE_END:%H:%M:%S}), {why}")
    if collection is None:
        return _grouped_by_the_server(name, func) and exercises.check(name, list(answer),
                                                                      expected_of(edge_readings(), _in(lo, hi)))
    expected = expected_of(_readings(db, collection, start, end), lambda ms: True)
    answer = exercises.attempt(func, db, collection, start, end)
    if not exercises.expect_type(name, answer, kind, case="on the practice dataset"):
        return False
    if exercises.same(list(answer), expected):
        return _grouped_by_the_server(name, func) and exercises.check(name, list(answer), expected)
    return exercises.wrong(name, f"right on the check's readings, but on the practice dataset: "
                                 f"{exercises.describe_difference(list(answer), expected)}")


@exercises.graded(MAX_SPEED)
def max_speed_per_minute(func, db, collection: str | None = None, start: datetime | None = None,
                         end: datetime | None = None) -> bool:
    """06.1: one row per (car, minute) with the highest speed in [start, end), sorted by car then
    minute. Runs `func` on the check's readings first; with `collection`, `start` and `end`,
    then on those too."""
    return _run_on_edges_then_practice(MAX_SPEED, ROWS, rows_problem, _rows, func, db, collection, start, end)


@exercises.graded(NEVER_STOPPED)
def never_stopped(func, db, collection: str | None = None, start: datetime | None = None,
                  end: datetime | None = None) -> bool:
    """06.3: the cars with readings in [start, end) whose speed was never exactly 0 there, sorted.
    Runs `func` on the check's readings first; with `collection`, `start` and `end`, then on
    those too."""
    return _run_on_edges_then_practice(NEVER_STOPPED, CARS, cars_problem, _never_stopped, func, db, collection,
                                       start, end)


# ------------------------------------------------------------------ 06.2: rebuild one rollup

#: The scratch collections of 06.2, in the student's database; emptied by every check.
ROLLUP_READINGS = "check06_readings"
ROLLUP_STORE = "check06_rollups"
ROLLUP_CAR, OTHER_CAR = car_id(201), car_id(202)
ROLLUP_START = datetime(2026, 11, 1, 11, 0, tzinfo=timezone.utc)
ROLLUP_MS = 10_000
ROLLUP_FIELDS = ("count", "sum", "min", "max")

# (car, ms after the bucket's start, speed km/h): the bucket's own readings, the edges, and the
# readings that must stay out of it, each faster or slower than any reading inside.
_ROLLUP_READINGS = [
    (ROLLUP_CAR, -1, 5.0),         # 1 ms before the bucket: the previous bucket's, the slowest of all
    (ROLLUP_CAR, 0, 42.0),         # exactly start_ms: inside
    (ROLLUP_CAR, 2_500, 48.5),
    (ROLLUP_CAR, 5_000, 51.0),
    (ROLLUP_CAR, 7_500, 45.5),
    (ROLLUP_CAR, 9_999, 50.0),     # the bucket's last millisecond: inside
    (ROLLUP_CAR, 10_000, 130.0),   # exactly start_ms + 10 s: the next bucket's, the fastest of all
    (ROLLUP_CAR, 20_000, 60.0),
    (OTHER_CAR, 4_000, 95.0),      # another car, inside the bucket
    (OTHER_CAR, 6_000, 30.0),
]
#: Stored after the first two calls: a late reading of the bucket, its new fastest.
LATE_READING = (ROLLUP_CAR, 8_000, 61.5)

WHY_SUMS = ("counts and sums add up exactly across buckets (a minute's average is its total sum over its total "
            "count); an average of averages does not, whenever the counts differ")
COUNTED_TWICE = ("counted twice: called again on the same readings (a redelivered batch), your document's count "
                 "grew. An update that adds runs again after a redelivery; rebuild from the readings")

# How a bucket's readings can be wrongly chosen, and what each mistake is called.
_ROLLUP_MISTAKES = {
    "end": "counts the reading at exactly start_ms + 10_000, which is the next bucket's: a bucket includes "
           "its start and excludes its end ($lt, not $lte)",
    "start": "leaves out the reading at exactly start_ms: a bucket includes its start ($gte, not $gt)",
    "time": "counts the car's readings outside the bucket: $match start_ms <= timestamp < start_ms + 10_000",
    "only_gte": f"counts the car's readings after the bucket: only $gte applies ({ONE_DICT})",
    "only_lt": f"counts the car's readings before the bucket: only $lt applies ({ONE_DICT})",
    "car": "counts another car's readings in the bucket: $match the car too",
}


def rollup_start_ms() -> int:
    """The check's bucket start, in epoch ms: what the student's function is given."""
    return to_ms(ROLLUP_START)


def rollup_id() -> str:
    """The `_id` the exercise asks for, for the check's car and bucket."""
    return f"{ROLLUP_CAR}:{rollup_start_ms()}"


def _rollup_document(car: str, offset_ms: int, speed: float) -> dict:
    ms = rollup_start_ms() + offset_ms
    return event_document({"car_id": car, "timestamp": from_ms(ms), "speed": speed, "rpm": 900.0 + 30 * speed,
                           "engine_temp": 90.0, "fuel_level": 60.0, "latitude": 52.52, "longitude": 13.405,
                           "event_id": f"check06r-{car}-{ms}", "seq": offset_ms + 2})


def neighbour_rollups() -> list[tuple[str, dict]]:
    """The two rollups the check stores beside its bucket before the first call, each with what it
    is: the car's next bucket, and another car's rollup of the same bucket start (as the readings
    give them, with a note). A write that replaces only its own bucket's document, by its _id,
    leaves them as they are; one that drops or empties the collection, or whose filter matches
    more than that document, does not."""
    def rollup(what: str, car: str, start_ms: int) -> tuple[str, dict]:
        speeds = [speed for c, ms, speed in _ROLLUP_READINGS
                  if c == car and start_ms <= rollup_start_ms() + ms < start_ms + ROLLUP_MS]
        return what, {"_id": f"{car}:{start_ms}", "car_id": car, "start_ms": start_ms, "count": len(speeds),
                      "sum": sum(speeds), "min": min(speeds), "max": max(speeds),
                      "note": "stored by the check: your function must leave it as it is"}

    return [rollup("the car's next bucket", ROLLUP_CAR, rollup_start_ms() + ROLLUP_MS),
            rollup("another car's rollup of this bucket", OTHER_CAR, rollup_start_ms())]


def fill_rollup_readings(db) -> None:
    """(Re)write the scratch readings of 06.2 (without the late one), and its rollups: only the
    two neighbours of the check's bucket."""
    db[ROLLUP_STORE].drop()
    db[ROLLUP_STORE].insert_many([doc for _, doc in neighbour_rollups()])
    db[ROLLUP_READINGS].drop()
    db[ROLLUP_READINGS].insert_many([_rollup_document(*r) for r in _ROLLUP_READINGS])


def add_late_reading(db) -> None:
    """Store the late reading of the check's bucket, as if it arrived after the bucket was rolled up."""
    db[ROLLUP_READINGS].insert_one(_rollup_document(*LATE_READING))


def rollup_stats(readings, *, end: bool = False, start: bool = False, time: bool = False,
                 only_gte: bool = False, only_lt: bool = False, car: bool = False) -> dict:
    """06.2 computed in Python: count, sum, min and max of speed in the check's bucket, from
    `(car, ms after start, speed)` readings. Each flag makes one mistake of `_ROLLUP_MISTAKES`."""
    def keep(c: str, ms: int) -> bool:
        after_start = only_lt or (0 < ms if start else 0 <= ms)
        before_end = only_gte or (ms <= ROLLUP_MS if end else ms < ROLLUP_MS)
        return (time or (after_start and before_end)) and (car or c == ROLLUP_CAR)

    speeds = [speed for c, ms, speed in readings if keep(c, ms)]
    return {"count": len(speeds), "sum": sum(speeds), "min": min(speeds, default=None),
            "max": max(speeds, default=None)}


def _mistake_flags() -> list[dict]:
    """Every combination of the mistakes, the fewest first."""
    times = [{}, {"end": True}, {"start": True}, {"start": True, "end": True}, {"time": True},
             {"only_gte": True}, {"only_lt": True}]
    combos = [dict(t, car=c) for c in (False, True) for t in times]
    return sorted((c for c in combos if any(c.values())), key=lambda c: sum(c.values()))


def _quoted(names) -> str:
    names = [f'"{n}"' for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def rollup_problem(doc: Mapping, readings) -> str | None:
    """What is wrong with the stored 06.2 document `doc`, computed from the check's `readings`
    (`(car, ms after start, speed)`), or None when it is right."""
    expected = rollup_stats(readings)
    missing = [k for k in ("car_id", "start_ms", *ROLLUP_FIELDS) if k not in doc]
    if missing:
        has = [k for k in doc if k != "_id"]
        return (f"your document has no {_quoted(missing)} (it has {_quoted(has) if has else 'only an _id'}): "
                f'store "car_id", "start_ms", and the "count", "sum", "min" and "max" of speed, because {WHY_SUMS}')
    start_ms = doc["start_ms"]
    if doc["car_id"] != ROLLUP_CAR or isinstance(start_ms, bool) or not isinstance(start_ms, (int, float)) \
            or not exercises.same(start_ms, rollup_start_ms()):
        return ("car_id and start_ms are the car and the bucket start the function was given "
                "(start_ms as epoch ms, a number)")
    stats = {k: doc[k] for k in ROLLUP_FIELDS}
    if exercises.same(stats, expected):
        return None
    if not stats["count"]:
        return f"your document counts no readings: {AS_DATES}"
    if exercises.same(stats["sum"], expected["sum"] / expected["count"]):
        return f'your "sum" is the bucket\'s average: store the total of the speeds ($sum), because {WHY_SUMS}'
    for flags in _mistake_flags():
        if exercises.same(stats, rollup_stats(readings, **flags)):
            return "your document " + "; it ".join(_ROLLUP_MISTAKES[k] for k, on in flags.items() if on)
    return f"count, sum, min and max of speed: {exercises.describe_difference(stats, expected)}"


NO_UPSERT = ("a replace_one or update_one without upsert=True changes nothing when no document is stored yet "
             "(called with one already stored, your function does write over it): pass upsert=True, so that the "
             "first call creates the document")


def _stored(db) -> dict | None:
    return db[ROLLUP_STORE].find_one({"_id": rollup_id()})


def _others(db) -> int:
    """How many documents the store holds besides the check's neighbours and the expected one."""
    kept = [rollup_id(), *(doc["_id"] for _, doc in neighbour_rollups())]
    return db[ROLLUP_STORE].count_documents({"_id": {"$nin": kept}})


def _neighbour_problem(db) -> str | None:
    """Which of the check's neighbour rollups the student's write removed or changed, or None."""
    hurt = []
    for what, doc in neighbour_rollups():
        now = db[ROLLUP_STORE].find_one({"_id": doc["_id"]})
        if now != doc:
            hurt.append(f"{doc['_id']}, {what}, {'is gone' if now is None else 'changed'}")
    if not hurt:
        return None
    return (f"your write removed or changed another bucket's rollup ({'; '.join(hurt)}): replace only this "
            "bucket's document, by its _id")


def _nothing_stored(db, returned) -> str:
    """Why no document with the expected `_id` is stored."""
    others = _others(db)
    if others:
        return (f"{ROLLUP_STORE} holds {others} document{'s' if others > 1 else ''} of yours, none with _id "
                f"{rollup_id()!r}: the _id is the car and the bucket start, f\"{{car_id}}:{{start_ms}}\"")
    if isinstance(returned, Mapping):
        return ("your function returned a document but wrote nothing: write it into db[rollups_name] "
                "(the check reads the collection, not what you return)")
    return ("nothing was written to db[rollups_name] (the check reads the collection, not what you return); "
            f"if your $match found no readings: {AS_DATES}")


def _writes_only_over_a_stored_document(func, args, db) -> bool:
    """After a first call that wrote nothing: whether the function, called again with a document
    already stored under the bucket's _id, writes over it (a write without upsert). The stored
    stand-in is removed afterwards."""
    stand_in = {"_id": rollup_id(), "car_id": ROLLUP_CAR, "start_ms": rollup_start_ms(), "count": 0, "sum": 0,
                "min": None, "max": None}
    db[ROLLUP_STORE].insert_one(dict(stand_in))
    exercises.attempt(func, *args)
    now = _stored(db)
    db[ROLLUP_STORE].delete_one({"_id": rollup_id()})
    return now is not None and now != stand_in


def _nothing_written(func, args, db, returned) -> str:
    """Why the first call stored no document with the expected `_id`."""
    if not _others(db) and _writes_only_over_a_stored_document(func, args, db):
        return NO_UPSERT
    return _nothing_stored(db, returned)


def _raised(answer) -> Exception | None:
    """The exception the attempt raised, or None."""
    return getattr(answer, "exc", None) if exercises.not_answered(answer) else None


def _write_error(answer, code: int) -> bool:
    """Whether the attempt raised a write error with this server code: 11000, a duplicate key
    (an insert over a stored _id); 66, an immutable field (a write that would change a stored
    document's _id)."""
    exc = _raised(answer)
    if isinstance(exc, BulkWriteError):
        return any(e.get("code") == code for e in exc.details.get("writeErrors", []))
    return isinstance(exc, OperationFailure) and exc.code == code


def _id_changed(answer) -> str | None:
    """What to say when the attempt raised because a write would change a stored document's _id."""
    if not _write_error(answer, 66):
        return None
    return (f"your code raised {type(_raised(answer)).__name__}: a write cannot change a stored document's _id. "
            "db[rollups_name] holds other buckets' rollups too, and a filter that matches one of them (car_id only, "
            "or {}) would turn it into this bucket's: replace only this bucket's document, by its _id (the same "
            "_id in the filter and in the document)")


def _no_group_row(db, answer) -> str | None:
    """What to say when the attempt raised as code does that takes the first row of an aggregation
    that returned none (`list(rows)[0]`, `next(rows)`, a None indexed) while the bucket does have
    readings: the likely cause is a $match that keeps nothing. None otherwise."""
    exc = _raised(answer)
    if not (isinstance(exc, (IndexError, StopIteration)) or (isinstance(exc, TypeError) and "NoneType" in str(exc))):
        return None
    bucket = {"car_id": ROLLUP_CAR, "timestamp": {"$gte": ROLLUP_START,
                                                  "$lt": ROLLUP_START + timedelta(milliseconds=ROLLUP_MS)}}
    if not db[ROLLUP_READINGS].count_documents(bucket):
        return None
    raised = type(exc).__name__ + (f" ({exc})" if str(exc) else "")
    return (f"your code raised {raised}, and the bucket has readings: a $match that keeps nothing makes $group "
            f"return no row at all: {AS_DATES}")


def _stored_after(returned, db, case: str) -> dict | None:
    """The document a later call (`case` says which) left stored, or None once a wrong answer
    about that call has been reported."""
    if changed := _id_changed(returned):
        exercises.wrong(REBUILD, f"{case}, {changed}")
        return None
    if not exercises.expect_type(REBUILD, returned, exercises.ANYTHING, case=case):
        return None
    stored = _stored(db)
    if stored is None:
        exercises.wrong(REBUILD, f"{case}, {_neighbour_problem(db) or _nothing_stored(db, returned)}")
    return stored


@exercises.graded(REBUILD)
def rebuild_one_rollup(func, db) -> bool:
    """06.2: `func(db, readings_name, rollups_name, car_id, start_ms)` writes into
    `db[rollups_name]` the 10 s rollup of speed `{"_id": f"{car_id}:{start_ms}", "car_id",
    "start_ms", "count", "sum", "min", "max"}` of the car's readings in [start_ms, start_ms + 10 s).
    Called on the check's readings, again on the same readings, then after a late reading; after
    each call, the two other rollups the check stored must be as they were."""
    fill_rollup_readings(db)
    recording = _RecordingDatabase(db)
    args = (recording, ROLLUP_READINGS, ROLLUP_STORE, ROLLUP_CAR, rollup_start_ms())
    where = f"on the check's readings ({ROLLUP_READINGS}, {ROLLUP_CAR}, the bucket from {ROLLUP_START:%H:%M:%S})"
    readings = list(_ROLLUP_READINGS)

    returned = exercises.attempt(func, *args)
    if recording.names - {ROLLUP_STORE} and ROLLUP_READINGS not in recording.names:  # it read another one
        return exercises.wrong(REBUILD, f"your function never read db[readings_name] (here {ROLLUP_READINGS!r}): it "
                                        "must read the collection it is given, not one of the notebook's (such as "
                                        "`telemetry`)")
    why = _id_changed(returned) or _no_group_row(db, returned)
    if why is not None:
        return exercises.wrong(REBUILD, f"{where}, {why}")
    if not exercises.expect_type(REBUILD, returned, exercises.ANYTHING):
        return False
    first = _stored(db)
    if first is None:  # a write that hit a neighbour instead says so first
        why = _neighbour_problem(db) or _nothing_written(func, args, db, returned)
    else:
        why = rollup_problem(first, readings) or _neighbour_problem(db)
    if why is not None:
        return exercises.wrong(REBUILD, f"{where}, {why}")

    case = "called again on the same readings"  # a redelivered batch
    again = exercises.attempt(func, *args)
    if _write_error(again, 11000):
        return exercises.wrong(REBUILD, f"{case} (a redelivered batch), your code raised DuplicateKeyError: an insert "
                                        "cannot run twice with one _id. Replace the stored document, with upsert (so "
                                        "that the first call creates it)")
    second = _stored_after(again, db, case)
    if second is None:
        return False
    before, after = ({k: d.get(k) for k in ROLLUP_FIELDS} for d in (first, second))
    if not exercises.same(after, before):
        if isinstance(after["count"], (int, float)) and isinstance(before["count"], (int, float)) \
                and after["count"] > before["count"]:
            return exercises.wrong(REBUILD, COUNTED_TWICE)
        return exercises.wrong(REBUILD, f"{case} (a redelivered batch), your document changed: rebuild it from the "
                                        "readings, so that running it twice gives the same document")
    if neighbours := _neighbour_problem(db):
        return exercises.wrong(REBUILD, f"{case}, {neighbours}")

    case = "after a late reading"
    add_late_reading(db)
    readings.append(LATE_READING)
    third = _stored_after(exercises.attempt(func, *args), db, case)
    if third is None:
        return False
    if exercises.same({k: third.get(k) for k in ROLLUP_FIELDS}, before):
        return exercises.wrong(REBUILD, "a late reading arrived in the bucket, and your document does not count it: "
                                        "rebuild and replace the stored document every time, even when one is "
                                        "there (not 'skip if it exists', not $setOnInsert)")
    why = rollup_problem(third, readings) or _neighbour_problem(db)
    if why is not None:
        return exercises.wrong(REBUILD, f"{case}, {why}")
    return exercises.check(REBUILD, {k: third[k] for k in ROLLUP_FIELDS}, rollup_stats(readings))


# ------------------------------------------------------------------ 06.4: explain

#: The scratch collection of 06.4, in the student's database; rewritten by every check.
EXPLAINED = "check06_explain"
EXPLAIN_START = datetime(2026, 11, 1, 10, 0, tzinfo=timezone.utc)
#: One car, 20 seconds, in 6 cars x 100 seconds of readings at 1 Hz: 20 of 600 documents.
EXPLAIN_QUERY = {"car_id": car_id(3), "timestamp": {"$gte": EXPLAIN_START + timedelta(seconds=40),
                                                     "$lt": EXPLAIN_START + timedelta(seconds=60)}}
EXPLAIN_INDEX = [("car_id", ASCENDING), ("timestamp", ASCENDING)]


def fill_explained(db) -> None:
    """(Re)write the scratch collection of 06.4: 600 readings, no index but `_id`'s."""
    docs = [event_document({"car_id": car_id(n), "timestamp": EXPLAIN_START + timedelta(seconds=s),
                            "speed": 40.0 + (7 * n + s) % 60, "rpm": 2500.0, "engine_temp": 90.0,
                            "fuel_level": 60.0, "latitude": 52.52, "longitude": 13.405,
                            "event_id": f"check03x-{n}-{s}", "seq": s + 1})
            for n in range(1, 7) for s in range(100)]
    db[EXPLAINED].drop()
    db[EXPLAINED].insert_many(docs)


def server_explain(db, collection: str, query: dict) -> dict | None:
    """The server's explain of `find(query)` in executionStats verbosity; None when the server
    has no explain (mongo-java-server)."""
    try:
        return db.command("explain", {"find": collection, "filter": query}, verbosity="executionStats")
    except OperationFailure:
        return None


def explain_reading(explained: Mapping) -> dict:
    """What 06.4 asks for, read from an explain document: the winning plan's stage names from its
    top down (on MongoDB's slot-based engine, explainVersion "2", the tree is under `queryPlan`)
    and the counts of executionStats (None where the document has none)."""
    plan = explained.get("queryPlanner", {}).get("winningPlan", {})
    plan = plan.get("queryPlan", plan)
    stages = []
    while isinstance(plan, Mapping) and "stage" in plan:
        stages.append(plan["stage"])
        plan = plan.get("inputStage")
    stats = explained.get("executionStats", {})
    return {"stages": stages, "docs_examined": stats.get("totalDocsExamined"),
            "keys_examined": stats.get("totalKeysExamined"), "returned": stats.get("nReturned")}


def explain_problem(answer: Mapping, expected: dict) -> str | None:
    """What is wrong with a 06.4 answer against the server's own reading, or None when right."""
    if exercises.same(answer, expected):
        return None
    if "queryPlanner" in answer or "executionStats" in answer:
        return ("you returned the whole explain document: pick out the four fields asked for, "
                "stages, docs_examined, keys_examined and returned")
    if set(answer) != set(expected):
        return exercises.describe_difference(dict(answer), expected)
    if all(answer[k] is None for k in COUNTS):
        return ("the counts are None: they are in executionStats, which the server adds only when it runs "
                'the query (verbosity "executionStats"); "queryPlanner" only plans it')
    stages = answer["stages"]
    if isinstance(stages, str) or not isinstance(stages, (list, tuple)):
        return (f"stages is {'a string' if isinstance(stages, str) else type(stages).__name__}; expected a "
                "list of stage names, from the winning plan's top stage down")
    stages = list(stages)
    if stages != expected["stages"]:
        if stages == expected["stages"][::-1]:
            return "the stages are upside down: list them from the winning plan's top stage down"
        if stages == expected["stages"][:len(stages)]:
            return "the stages stop too early: follow inputStage down to the stage that reads the data"
        if len(expected["stages"]) > 1 and stages == expected["stages"][-1:]:
            return "you have only the scan stage: list every stage from the top of the winning plan down"
        return "the stages are not the winning plan's: read queryPlanner.winningPlan"
    if (answer["docs_examined"], answer["keys_examined"]) == (expected["keys_examined"], expected["docs_examined"]):
        return ("docs_examined and keys_examined are swapped: totalDocsExamined counts documents read, "
                "totalKeysExamined index entries walked")
    return exercises.describe_difference(dict(answer, stages=stages), expected)


@exercises.graded(EXPLAIN)
def read_explain(func, db) -> bool:
    """06.4: `func(db, collection_name, query)` returns `{"stages", "docs_examined",
    "keys_examined", "returned"}` from the explain of `find(query)`. Called on the check's own
    collection without an index, then with one on car_id + timestamp."""
    fill_explained(db)
    if server_explain(db, EXPLAINED, EXPLAIN_QUERY) is None:
        print(f"⏳ {EXPLAIN}: this server has no explain() (mongo-java-server): run this exercise on the "
              "lab's default server (SecantusDB) or on MongoDB.")
        return False
    answers, expected = [], []
    for with_index, case in ((False, "without an index"), (True, "with an index on car_id + timestamp")):
        if with_index:
            db[EXPLAINED].create_index(EXPLAIN_INDEX, name="car_id_timestamp")
        truth = explain_reading(server_explain(db, EXPLAINED, EXPLAIN_QUERY))
        answer = exercises.attempt(func, db, EXPLAINED, EXPLAIN_QUERY)
        if not exercises.expect_type(EXPLAIN, answer, EXPLAIN_FIELDS, case=case):
            return False
        if isinstance(answer.get("stages"), tuple):  # a tuple of names is as good as a list
            answer = dict(answer, stages=list(answer["stages"]))
        why = explain_problem(answer, truth)
        if why is not None:
            return exercises.wrong(EXPLAIN, f"{case}: {why}")
        answers.append(dict(answer))
        expected.append(truth)
    return exercises.check(EXPLAIN, answers, expected)
