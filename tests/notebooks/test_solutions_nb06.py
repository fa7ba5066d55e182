"""Notebook 06's checks tell right from wrong: the reference solutions pass them, and each
classic mistake gets a ✘ that names it (or the type expected), never a traceback.

06.1 and 06.2 are checked on readings the check writes itself (`check.EDGES`), at the edges of
the range where the mistakes show; the wrong answers below are the aggregations a student
writes when they make those mistakes. 06.3 is checked against the server's own explain, on a
collection without an index and then with one."""

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from pymongo import MongoClient

from labkit.contract import to_ms
from labkit.store import queries
from labkit.teach.checks import nb06 as check
from labkit.teach.solutions import nb06
from tests.wrong_answers import assert_rejected

START = datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc)
END = START + timedelta(seconds=180)


@pytest.fixture
def db(pipeline):
    client = MongoClient(pipeline.mongodb_uri, tz_aware=True)
    yield client[pipeline.mongodb_db]
    client.close()


@pytest.fixture
def practice(db, pipeline):
    """The notebook's practice dataset, small: 3 cars x 180 s."""
    from labkit.scenarios.dataset import load_fleet

    assert load_fleet(db, pipeline, 3, 180, START, seed=3) == 540
    return pipeline.collections.telemetry


def _rejected(capsys, verdict, *words):
    assert_rejected(capsys, verdict, *words, no_traceback=True)


def _cases(*pairs):
    """(wrong answer, words its ✘ line must hold) pairs, each case named after its function."""
    return [pytest.param(student, words, id=student.__name__) for student, words in pairs]


def _stub(*args):
    raise NotImplementedError


def returns_none(*args):
    return None


def raises(*args):
    return 1 / 0


# --------------------------------------------------------------------------- 06.1

MINUTE = queries.bucket_expression(60_000)
GROUP = {"$group": {"_id": {"car_id": "$car_id", "minute": MINUTE}, "max_speed": {"$max": "$speed"}}}
SORT = {"$sort": {"_id.car_id": 1, "_id.minute": 1}}


def _in_range(start, end, low="$gte", high="$lt"):
    return {"$match": {"timestamp": {low: start, high: end}}}


def _max_rows(db, name, stages):
    return [{"car_id": r["_id"]["car_id"], "minute": int(r["_id"]["minute"]), "max_speed": r["max_speed"]}
            for r in db[name].aggregate(stages)]


def max_without_match(db, name, start, end):
    return _max_rows(db, name, [GROUP, SORT])


def max_with_lte_at_the_end(db, name, start, end):
    return _max_rows(db, name, [_in_range(start, end, high="$lte"), GROUP, SORT])


def max_with_gt_at_the_start(db, name, start, end):
    return _max_rows(db, name, [_in_range(start, end, low="$gt"), GROUP, SORT])


def max_grouped_by_car_only(db, name, start, end):
    rows = db[name].aggregate([_in_range(start, end),
                               {"$group": {"_id": "$car_id", "max_speed": {"$max": "$speed"}, "minute": {"$min": MINUTE}}},
                               {"$sort": {"_id": 1}}])
    return [{"car_id": r["_id"], "minute": int(r["minute"]), "max_speed": r["max_speed"]} for r in rows]


def max_in_python(db, name, start, end):  # right rows, but every reading travels to Python
    best = {}
    for r in db[name].find({"timestamp": {"$gte": start, "$lt": end}}):
        key = (r["car_id"], to_ms(r["timestamp"]) // 60_000 * 60_000)
        best[key] = max(best.get(key, r["speed"]), r["speed"])
    return [{"car_id": car, "minute": minute, "max_speed": speed} for (car, minute), speed in sorted(best.items())]


def max_unsorted(db, name, start, end):
    return nb06.max_speed_per_car_per_minute(db, name, start, end)[::-1]


def max_cursor(db, name, start, end):
    return db[name].aggregate([_in_range(start, end), GROUP, SORT])


def max_set(db, name, start, end):
    return {tuple(r.values()) for r in nb06.max_speed_per_car_per_minute(db, name, start, end)}


def max_dataframe(db, name, start, end):
    return pd.DataFrame(nb06.max_speed_per_car_per_minute(db, name, start, end))


def max_right_only_on_the_check_readings(db, name, start, end):
    rows = nb06.max_speed_per_car_per_minute(db, name, start, end)
    return rows if name == check.EDGES else rows[1:]


def test_03_1_solution_passes_on_the_edges_and_on_the_practice_dataset(db, practice):
    assert check.max_speed_per_minute(nb06.max_speed_per_car_per_minute, db)
    assert check.max_speed_per_minute(nb06.max_speed_per_car_per_minute, db, practice, START, END)


def test_03_1_the_stub_is_not_attempted(db, capsys):
    assert check.max_speed_per_minute(_stub, db) is False
    assert capsys.readouterr().out.startswith(f"⏳ {check.MAX_SPEED}")


@pytest.mark.parametrize("student, words", _cases(
    (max_without_match, ["outside the range", "$match"]),
    (max_with_lte_at_the_end, ["exactly `end`", "$lt, not $lte"]),
    (max_with_gt_at_the_start, ["exactly `start`", "$gte"]),
    (max_grouped_by_car_only, ["one row per car"]),
    (max_unsorted, ["wrong order"]),
    (max_cursor, ["you returned a CommandCursor", "expected a list of dicts", "wrap it in list(...)"]),
    (max_set, ["you returned a set", "expected a list of dicts"]),
    (returns_none, ["returned None", "forget `return`"]),
    (max_dataframe, ["you returned a DataFrame", "expected a list of dicts"]),
    (raises, ["your code raised ZeroDivisionError"]),
    (max_in_python, ["right rows, but the exercise asks for an aggregation pipeline"]),
))
def test_03_1_rejects(db, capsys, student, words):
    _rejected(capsys, check.max_speed_per_minute(student, db), *words)


def test_03_1_rejects_an_answer_right_only_on_the_check_readings(db, practice, capsys):
    _rejected(capsys, check.max_speed_per_minute(max_right_only_on_the_check_readings, db, practice, START, END),
              "on the practice dataset")


# --------------------------------------------------------------------------- 06.2


def _cars(db, name, stages):
    return [r["_id"] for r in db[name].aggregate(stages)]


def _slowest(start, end, low="$gte", high="$lt"):
    return [_in_range(start, end, low, high), {"$group": {"_id": "$car_id", "slowest": {"$min": "$speed"}}}]


def cars_without_match(db, name, start, end):
    return _cars(db, name, [{"$group": {"_id": "$car_id", "slowest": {"$min": "$speed"}}},
                            {"$match": {"slowest": {"$gt": 0}}}, {"$sort": {"_id": 1}}])


def cars_with_lte_at_the_end(db, name, start, end):
    return _cars(db, name, [*_slowest(start, end, high="$lte"), {"$match": {"slowest": {"$gt": 0}}}, {"$sort": {"_id": 1}}])


def cars_with_gte_zero(db, name, start, end):
    return _cars(db, name, [*_slowest(start, end), {"$match": {"slowest": {"$gte": 0}}}, {"$sort": {"_id": 1}}])


def cars_with_max(db, name, start, end):
    return _cars(db, name, [_in_range(start, end), {"$group": {"_id": "$car_id", "fastest": {"$max": "$speed"}}},
                            {"$match": {"fastest": {"$gt": 0}}}, {"$sort": {"_id": 1}}])


def cars_above_one_kmh(db, name, start, end):
    return _cars(db, name, [*_slowest(start, end), {"$match": {"slowest": {"$gte": 1}}}, {"$sort": {"_id": 1}}])


def every_car(db, name, start, end):
    return sorted(db[name].distinct("car_id"))


def returns_empty(db, name, start, end):
    return []


def cars_unsorted(db, name, start, end):
    return nb06.cars_that_never_stopped(db, name, start, end)[::-1]


def cars_cursor(db, name, start, end):
    return db[name].aggregate([*_slowest(start, end), {"$match": {"slowest": {"$gt": 0}}}])


def cars_set(db, name, start, end):
    return set(nb06.cars_that_never_stopped(db, name, start, end))


def cars_dataframe(db, name, start, end):
    return pd.DataFrame({"car_id": nb06.cars_that_never_stopped(db, name, start, end)})


def test_03_2_solution_passes_on_the_edges_and_on_the_practice_dataset(db, practice):
    assert check.never_stopped(nb06.cars_that_never_stopped, db)
    assert check.never_stopped(nb06.cars_that_never_stopped, db, practice, START, END)


def test_03_2_the_stub_is_not_attempted(db, capsys):
    assert check.never_stopped(_stub, db) is False
    assert capsys.readouterr().out.startswith(f"⏳ {check.NEVER_STOPPED}")


@pytest.mark.parametrize("student, words", _cases(
    (cars_without_match, ["outside the range", "$match"]),
    (cars_with_lte_at_the_end, ["exactly `end`", "$lt, not $lte"]),
    (cars_with_gte_zero, ["speed was 0 in the range"]),
    (cars_with_max, ["speed was 0 in the range"]),
    (cars_above_one_kmh, ["crawled but never stopped"]),
    (returns_empty, ["no cars", "never stop"]),
    (every_car, ["speed was 0 in the range", "no reading in the range"]),
    (cars_unsorted, ["wrong order"]),
    (cars_cursor, ["you returned a CommandCursor", "expected a list of car ids", "wrap it in list(...)"]),
    (cars_set, ["you returned a set", "expected a list of car ids"]),
    (returns_none, ["returned None", "forget `return`"]),
    (cars_dataframe, ["you returned a DataFrame", "expected a list of car ids"]),
    (raises, ["your code raised ZeroDivisionError"]),
))
def test_03_2_rejects(db, capsys, student, words):
    _rejected(capsys, check.never_stopped(student, db), *words)


def test_03_2_the_check_readings_need_an_answer_that_is_neither_empty_nor_every_car():
    lo, hi = to_ms(check.EDGE_START), to_ms(check.EDGE_END)
    readings = [r for r in check.edge_readings() if lo <= r["ms"] < hi]
    never_stopped = {r["car_id"] for r in readings} - {r["car_id"] for r in readings if r["speed"] == 0}
    assert never_stopped and never_stopped < {r["car_id"] for r in readings} < {r["car_id"] for r in check.edge_readings()}


# --------------------------------------------------------------------------- 06.3


def _explain(db, name, query, verbosity="executionStats"):
    return db.command("explain", {"find": name, "filter": query}, verbosity=verbosity)


def explain_with_find(db, name, query):
    """pymongo's cursor.explain(): verbosity allPlansExecution, which holds executionStats."""
    explained = db[name].find(query).explain()
    stats, plan, stages = explained["executionStats"], explained["queryPlanner"]["winningPlan"], []
    while plan:
        stages.append(plan["stage"])
        plan = plan.get("inputStage")
    return {"stages": stages, "docs_examined": stats["totalDocsExamined"], "keys_examined": stats["totalKeysExamined"],
            "returned": stats["nReturned"]}


def explain_whole(db, name, query):
    return _explain(db, name, query)


def explain_swapped(db, name, query):
    right = nb06.explain_counts(db, name, query)
    return dict(right, docs_examined=right["keys_examined"], keys_examined=right["docs_examined"])


def explain_query_planner_only(db, name, query):
    explained = _explain(db, name, query, verbosity="queryPlanner")
    stats = explained.get("executionStats", {})
    return {"stages": nb06.explain_counts(db, name, query)["stages"], "docs_examined": stats.get("totalDocsExamined"),
            "keys_examined": stats.get("totalKeysExamined"), "returned": stats.get("nReturned")}


def explain_query_planner_indexed(db, name, query):
    stats = _explain(db, name, query, verbosity="queryPlanner")["executionStats"]
    return {"docs_examined": stats["totalDocsExamined"]}


def explain_top_stage_only(db, name, query):
    right = nb06.explain_counts(db, name, query)
    return dict(right, stages=right["stages"][:1])


def explain_upside_down(db, name, query):
    right = nb06.explain_counts(db, name, query)
    return dict(right, stages=right["stages"][::-1])


def returns_a_plan_name(db, name, query):
    return "COLLSCAN"


def explain_summary(db, name, query):
    return queries.plan_summary(_explain(db, name, query))


def test_03_3_solution_passes(db):
    assert check.read_explain(nb06.explain_counts, db)
    assert check.read_explain(explain_with_find, db)


def test_03_3_the_stub_is_not_attempted(db, capsys):
    assert check.read_explain(_stub, db) is False
    assert capsys.readouterr().out.startswith(f"⏳ {check.EXPLAIN}")


@pytest.mark.parametrize("student, words", _cases(
    (explain_whole, ["whole explain document"]),
    (explain_swapped, ["swapped"]),
    (explain_query_planner_only, ["counts are None", "executionStats"]),
    (explain_query_planner_indexed, ["your code raised KeyError"]),
    (explain_top_stage_only, ["stop too early", "inputStage"]),
    (explain_upside_down, ["upside down"]),
    (explain_summary, ["missing keys", "stages"]),
    (returns_none, ["returned None", "forget `return`"]),
    (returns_a_plan_name, ["you returned a string", 'expected a dict {"stages"']),
    (raises, ["your code raised ZeroDivisionError"]),
))
def test_03_3_rejects(db, capsys, student, words):
    _rejected(capsys, check.read_explain(student, db), *words)


def test_03_3_the_index_changes_the_plan_and_the_documents_examined(db):
    check.fill_explained(db)
    without = check.explain_reading(check.server_explain(db, check.EXPLAINED, check.EXPLAIN_QUERY))
    db[check.EXPLAINED].create_index(check.EXPLAIN_INDEX)
    with_index = check.explain_reading(check.server_explain(db, check.EXPLAINED, check.EXPLAIN_QUERY))
    assert without == {"stages": ["COLLSCAN"], "docs_examined": 600, "keys_examined": 0, "returned": 20}
    assert with_index == {"stages": ["FETCH", "IXSCAN"], "docs_examined": 20, "keys_examined": 20, "returned": 20}
