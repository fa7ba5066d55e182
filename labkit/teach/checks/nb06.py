"""Checks for notebook 06's exercises (query Mongo).

06.1 and 06.2 first run the student's function on readings the check writes itself, into a
scratch collection (`EDGES`), because the practice dataset cannot tell right from wrong: its
readings fill the range, so an aggregation without `$match` gives the same answer, and every
car in it stops, so `return []` is right there. The check's readings sit where the classic
mistakes show: just outside the range on both sides (faster than any reading inside, and one
at exactly `end`, which `$lt` excludes), on both sides of a minute boundary, and they have cars
that stop only outside the range, a car that crawls but never stops, and a car with no reading
in the range. The expected answers are computed in Python from the same readings, a different
route from the student's pipeline; a wrong answer is named by the mistake that gives it when
one does. Given the notebook's collection and range too, the check then runs the function on
the practice dataset.

06.3 runs the student's function on a scratch collection of its own (`EXPLAINED`), without an
index and then with one, and compares what it read with the server's own explain of that find.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone

from pymongo import ASCENDING
from pymongo.errors import OperationFailure

from labkit.contract import bucket_start, car_id, from_ms, to_ms
from labkit.store.mongo import event_document
from labkit.teach import exercises

MAX_SPEED = "06.1 max speed per car per minute"
NEVER_STOPPED = "06.2 cars that never stopped"
EXPLAIN = "06.3 read an explain"

HINTS = exercises.register_hints({
    MAX_SPEED: "an aggregation pipeline: keep the readings in the range (start included, end excluded), group "
               "them by car and minute (queries.bucket_expression builds the minute) with an accumulator that "
               "keeps the largest speed, then order and reshape the rows",
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
EXPLAIN_FIELDS = exercises.Kind('a dict {"stages", "docs_examined", "keys_examined", "returned"}',
                                lambda x: isinstance(x, Mapping))

# ------------------------------------------------------------------ 06.1 and 06.2: the edges

#: The scratch collection of 06.1 and 06.2, in the student's database; emptied by every check.
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
    # CAR_105 has readings only outside the range, and never stops.
    (105, "08:59:40.000", 110.0),
    (105, "09:03:40.000", 120.0),
    (105, "09:04:20.000", 100.0),
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
    in a shuffled order: a pipeline without `$sort` does not get them sorted by chance."""
    seq: dict[str, int] = defaultdict(int)
    docs = []
    for r in edge_readings():
        seq[r["car_id"]] += 1
        event = {"car_id": r["car_id"], "timestamp": from_ms(r["ms"]), "speed": r["speed"],
                 "rpm": 900.0 + 30 * r["speed"], "engine_temp": 90.0, "fuel_level": 60.0,
                 "latitude": 52.52, "longitude": 13.405, "event_id": f"check06-{r['car_id']}-{r['ms']}",
                 "seq": seq[r["car_id"]]}
        docs.append(event_document(event))
    random.Random(3).shuffle(docs)
    return docs


def fill_edges(db) -> None:
    """(Re)write the scratch collection of 06.1 and 06.2 in `db`."""
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
    """What is wrong with a 06.2 answer over `readings` and [lo, hi), or None when it is right:
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
    is told so (False). 06.2 may be answered either way."""
    if name == MAX_SPEED and exercises.calls_method(func, "aggregate") is False:
        return exercises.wrong(name, "right rows, but the exercise asks for an aggregation pipeline "
                                     "(collection.aggregate([...])): the server groups, and only the rows travel")
    return True


def _run_on_edges_then_practice(name: str, kind: exercises.Kind, problem: Callable, expected_of: Callable,
                                func, db, collection: str | None, start: datetime | None,
                                end: datetime | None) -> bool:
    """The shared course of 06.1 and 06.2: the check's readings, then the practice dataset."""
    fill_edges(db)
    lo, hi = to_ms(EDGE_START), to_ms(EDGE_END)
    answer = exercises.attempt(func, db, EDGES, EDGE_START, EDGE_END)
    if not exercises.expect_type(name, answer, kind):
        return False
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
    """06.2: the cars with readings in [start, end) whose speed was never exactly 0 there, sorted.
    Runs `func` on the check's readings first; with `collection`, `start` and `end`, then on
    those too."""
    return _run_on_edges_then_practice(NEVER_STOPPED, CARS, cars_problem, _never_stopped, func, db, collection,
                                       start, end)


# ------------------------------------------------------------------ 06.3: explain

#: The scratch collection of 06.3, in the student's database; rewritten by every check.
EXPLAINED = "check06_explain"
EXPLAIN_START = datetime(2026, 11, 1, 10, 0, tzinfo=timezone.utc)
#: One car, 20 seconds, in 6 cars x 100 seconds of readings at 1 Hz: 20 of 600 documents.
EXPLAIN_QUERY = {"car_id": car_id(3), "timestamp": {"$gte": EXPLAIN_START + timedelta(seconds=40),
                                                     "$lt": EXPLAIN_START + timedelta(seconds=60)}}
EXPLAIN_INDEX = [("car_id", ASCENDING), ("timestamp", ASCENDING)]


def fill_explained(db) -> None:
    """(Re)write the scratch collection of 06.3: 600 readings, no index but `_id`'s."""
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
    """What 06.3 asks for, read from an explain document: the winning plan's stage names from its
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
    """What is wrong with a 06.3 answer against the server's own reading, or None when right."""
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
        return "the stages are not the winning plan's: read queryPlanner.winningPlan"
    if (answer["docs_examined"], answer["keys_examined"]) == (expected["keys_examined"], expected["docs_examined"]):
        return ("docs_examined and keys_examined are swapped: totalDocsExamined counts documents read, "
                "totalKeysExamined index entries walked")
    return exercises.describe_difference(dict(answer, stages=stages), expected)


@exercises.graded(EXPLAIN)
def read_explain(func, db) -> bool:
    """06.3: `func(db, collection_name, query)` returns `{"stages", "docs_examined",
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
