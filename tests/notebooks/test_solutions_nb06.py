"""Notebook 06's checks tell right from wrong: the reference solutions pass them, and each
classic mistake gets a ✘ that names it (or the type expected), never a traceback.

06.1 and 06.3 are checked on readings the check writes itself (`check.EDGES`), at the edges of
the range where the mistakes show; the wrong answers below are the aggregations a student
writes when they make those mistakes. 06.2 is checked on readings of its own too
(`check.ROLLUP_READINGS`), called once, again on the same readings (a redelivery), then after a
late reading; its wrong answers are the writes a student tries, those that drop, empty or
overwrite the two other rollups the check stores beside its bucket included. 06.4 is checked
against the server's own explain, on a collection without an index and then with one."""

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from pymongo import MongoClient

from labkit.contract import car_id, from_ms, to_ms
from labkit.store import queries
from labkit.teach import exercises
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


def max_with_timestamp_twice_only_lt(db, name, start, end):  # Python keeps the last "timestamp": no $gte
    match = {"$match": {"timestamp": {"$gte": start}, "timestamp": {"$lt": end}}}  # noqa: F601
    return _max_rows(db, name, [match, GROUP, SORT])


def max_with_timestamp_twice_only_gte(db, name, start, end):  # Python keeps the last "timestamp": no $lt
    match = {"$match": {"timestamp": {"$lt": end}, "timestamp": {"$gte": start}}}  # noqa: F601
    return _max_rows(db, name, [match, GROUP, SORT])


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


def max_sorted_before_grouping(db, name, start, end):  # in order here only because this server keeps it
    return _max_rows(db, name, [_in_range(start, end), {"$sort": {"car_id": 1, "timestamp": 1}}, GROUP])


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


def test_06_1_solution_passes_on_the_edges_and_on_the_practice_dataset(db, practice):
    assert check.max_speed_per_minute(nb06.max_speed_per_car_per_minute, db)
    assert check.max_speed_per_minute(nb06.max_speed_per_car_per_minute, db, practice, START, END)


def test_06_1_the_stub_is_not_attempted(db, capsys):
    assert check.max_speed_per_minute(_stub, db) is False
    assert capsys.readouterr().out.startswith(f"⏳ {check.MAX_SPEED}")


@pytest.mark.parametrize("student, words", _cases(
    (max_without_match, ["outside the range", "$match"]),
    (max_with_lte_at_the_end, ["exactly `end`", "$lt, not $lte"]),
    (max_with_gt_at_the_start, ["exactly `start`", "$gte"]),
    (max_with_timestamp_twice_only_lt, ["before `start`", "only $lt", '"timestamp" twice', "both bounds go in one dict"]),
    (max_with_timestamp_twice_only_gte, ["after `end`", "only $gte", '"timestamp" twice', "both bounds go in one dict"]),
    (max_grouped_by_car_only, ["one row per car"]),
    (max_unsorted, ["wrong order"]),
    (max_sorted_before_grouping, ["sorts before its $group", "put the $sort after the $group"]),
    (max_cursor, ["you returned a CommandCursor", "expected a list of dicts", "wrap it in list(...)"]),
    (max_set, ["you returned a set", "expected a list of dicts"]),
    (returns_none, ["returned None", "forget `return`"]),
    (max_dataframe, ["you returned a DataFrame", "expected a list of dicts"]),
    (raises, ["your code raised ZeroDivisionError"]),
    (max_in_python, ["right rows, but the exercise asks for an aggregation pipeline"]),
))
def test_06_1_rejects(db, capsys, student, words):
    _rejected(capsys, check.max_speed_per_minute(student, db), *words)


def test_06_1_rejects_an_answer_right_only_on_the_check_readings(db, practice, capsys):
    _rejected(capsys, check.max_speed_per_minute(max_right_only_on_the_check_readings, db, practice, START, END),
              "on the practice dataset")


# --------------------------------------------------------------------------- 06.2

ROLLUP_START_MS = check.rollup_start_ms()


def _bucket_match(car, start_ms, low="$gte", high="$lt"):
    return {"$match": {"car_id": car, "timestamp": {low: from_ms(start_ms), high: from_ms(start_ms + 10_000)}}}


STATS = {"$group": {"_id": None, "count": {"$sum": 1}, "sum": {"$sum": "$speed"}, "min": {"$min": "$speed"},
                    "max": {"$max": "$speed"}}}


def _bucket_doc(db, readings_name, car, start_ms, match):
    row = next(db[readings_name].aggregate([match, STATS]))
    return {"_id": f"{car}:{start_ms}", "car_id": car, "start_ms": start_ms,
            **{k: row[k] for k in ("count", "sum", "min", "max")}}


def _replace(db, rollups_name, doc):
    db[rollups_name].replace_one({"_id": doc["_id"]}, doc, upsert=True)


def rollup_in_python(db, readings_name, rollups_name, car, start_ms):  # a find and a loop: right too
    speeds = [r["speed"] for r in db[readings_name].find(
        {"car_id": car, "timestamp": {"$gte": from_ms(start_ms), "$lt": from_ms(start_ms + 10_000)}})]
    _replace(db, rollups_name, {"_id": f"{car}:{start_ms}", "car_id": car, "start_ms": start_ms,
                                "count": len(speeds), "sum": sum(speeds), "min": min(speeds), "max": max(speeds)})


def rollup_with_set_upsert(db, readings_name, rollups_name, car, start_ms):  # $set of every field: right too
    doc = _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms))
    db[rollups_name].update_one({"_id": doc["_id"]}, {"$set": {k: v for k, v in doc.items() if k != "_id"}},
                                upsert=True)
    return "done"


def rollup_with_inc(db, readings_name, rollups_name, car, start_ms):
    doc = _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms))
    db[rollups_name].update_one({"_id": doc["_id"]},
                                {"$inc": {"count": doc["count"], "sum": doc["sum"]}, "$min": {"min": doc["min"]},
                                 "$max": {"max": doc["max"]}, "$set": {"car_id": car, "start_ms": start_ms}},
                                upsert=True)


def rollup_with_push(db, readings_name, rollups_name, car, start_ms):
    speeds = [r["speed"] for r in db[readings_name].find(_bucket_match(car, start_ms)["$match"])]
    stored = db[rollups_name].find_one({"_id": f"{car}:{start_ms}"}) or {"speeds": []}
    every = stored["speeds"] + speeds
    db[rollups_name].update_one({"_id": f"{car}:{start_ms}"},
                                {"$push": {"speeds": {"$each": speeds}},
                                 "$set": {"car_id": car, "start_ms": start_ms, "count": len(every), "sum": sum(every),
                                          "min": min(every), "max": max(every)}}, upsert=True)


def rollup_insert_one(db, readings_name, rollups_name, car, start_ms):
    db[rollups_name].insert_one(_bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms)))


def rollup_with_lte(db, readings_name, rollups_name, car, start_ms):
    _replace(db, rollups_name, _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms, high="$lte")))


def rollup_with_gt(db, readings_name, rollups_name, car, start_ms):
    _replace(db, rollups_name, _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms, low="$gt")))


def rollup_of_every_car(db, readings_name, rollups_name, car, start_ms):
    match = _bucket_match(car, start_ms)
    del match["$match"]["car_id"]
    _replace(db, rollups_name, _bucket_doc(db, readings_name, car, start_ms, match))


def rollup_of_every_car_with_lte(db, readings_name, rollups_name, car, start_ms):
    match = _bucket_match(car, start_ms, high="$lte")
    del match["$match"]["car_id"]
    _replace(db, rollups_name, _bucket_doc(db, readings_name, car, start_ms, match))


def rollup_of_every_time(db, readings_name, rollups_name, car, start_ms):
    _replace(db, rollups_name, _bucket_doc(db, readings_name, car, start_ms, {"$match": {"car_id": car}}))


def rollup_with_epoch_ms(db, readings_name, rollups_name, car, start_ms):  # a date is never a number: no reading
    found = list(db[readings_name].find({"car_id": car, "timestamp": {"$gte": start_ms, "$lt": start_ms + 10_000}}))
    _replace(db, rollups_name, {"_id": f"{car}:{start_ms}", "car_id": car, "start_ms": start_ms, "count": len(found),
                                "sum": 0, "min": None, "max": None})


def rollup_set_on_insert(db, readings_name, rollups_name, car, start_ms):
    doc = _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms))
    db[rollups_name].update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)


def rollup_skip_if_exists(db, readings_name, rollups_name, car, start_ms):
    if db[rollups_name].find_one({"_id": f"{car}:{start_ms}"}) is None:
        _replace(db, rollups_name, _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms)))


def rollup_average_only(db, readings_name, rollups_name, car, start_ms):
    doc = _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms))
    doc["avg"] = doc.pop("sum") / doc["count"]
    _replace(db, rollups_name, doc)


def rollup_sum_is_the_average(db, readings_name, rollups_name, car, start_ms):
    doc = _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms))
    _replace(db, rollups_name, dict(doc, sum=doc["sum"] / doc["count"]))


def rollup_like_the_labs(db, readings_name, rollups_name, car, start_ms):  # the lab's _id and nested speed
    doc = _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms))
    speed = {k: doc.pop(k) for k in ("sum", "min", "max")}
    _replace(db, rollups_name, dict(doc, _id=f"{car}:10000:{start_ms}", speed=speed))


def rollup_nested_speed(db, readings_name, rollups_name, car, start_ms):
    doc = _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms))
    speed = {k: doc.pop(k) for k in ("sum", "min", "max")}
    _replace(db, rollups_name, dict(doc, speed=speed))


def rollup_start_as_a_date(db, readings_name, rollups_name, car, start_ms):
    doc = _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms))
    _replace(db, rollups_name, dict(doc, start_ms=from_ms(start_ms)))


def rollup_returned_not_written(db, readings_name, rollups_name, car, start_ms):
    return _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms))


def rollup_by_car_and_start(db, readings_name, rollups_name, car, start_ms):  # a filter on both fields: right too
    doc = _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms))
    db[rollups_name].replace_one({"car_id": car, "start_ms": start_ms}, doc, upsert=True)


def rollup_drop_then_insert(db, readings_name, rollups_name, car, start_ms):
    doc = _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms))
    db[rollups_name].drop()
    db[rollups_name].insert_one(doc)


def rollup_delete_many_then_insert(db, readings_name, rollups_name, car, start_ms):
    doc = _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms))
    db[rollups_name].delete_many({})
    db[rollups_name].insert_one(doc)


def rollup_with_out(db, readings_name, rollups_name, car, start_ms):  # $out replaces the whole collection
    db[readings_name].aggregate([_bucket_match(car, start_ms), dict(STATS, **{"$group": dict(STATS["$group"], _id=f"{car}:{start_ms}")}),
                                 {"$addFields": {"car_id": car, "start_ms": {"$literal": start_ms}}},
                                 {"$out": rollups_name}])


def rollup_replace_any_document(db, readings_name, rollups_name, car, start_ms):
    _bucket = _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms))
    db[rollups_name].replace_one({}, _bucket, upsert=True)


def rollup_filter_on_car_only(db, readings_name, rollups_name, car, start_ms):
    doc = _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms))
    db[rollups_name].replace_one({"car_id": car}, doc, upsert=True)


def rollup_set_by_car_only(db, readings_name, rollups_name, car, start_ms):  # no _id in the $set: no error, a neighbour changes
    doc = _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms))
    db[rollups_name].update_one({"car_id": car}, {"$set": {k: v for k, v in doc.items() if k != "_id"}}, upsert=True)


def rollup_replace_without_upsert(db, readings_name, rollups_name, car, start_ms):
    doc = _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms))
    db[rollups_name].replace_one({"_id": doc["_id"]}, doc)
    return doc


def rollup_set_without_upsert(db, readings_name, rollups_name, car, start_ms):
    doc = _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms))
    db[rollups_name].update_one({"_id": doc["_id"]}, {"$set": {k: v for k, v in doc.items() if k != "_id"}})


def _epoch_ms_match(car, start_ms):  # a date is never a number: this keeps no reading
    return {"$match": {"car_id": car, "timestamp": {"$gte": start_ms, "$lt": start_ms + 10_000}}}


def rollup_epoch_ms_first_of_list(db, readings_name, rollups_name, car, start_ms):
    row = list(db[readings_name].aggregate([_epoch_ms_match(car, start_ms), STATS]))[0]
    _replace(db, rollups_name, {"_id": f"{car}:{start_ms}", "car_id": car, "start_ms": start_ms,
                                **{k: row[k] for k in ("count", "sum", "min", "max")}})


def rollup_epoch_ms_next(db, readings_name, rollups_name, car, start_ms):
    _replace(db, rollups_name, _bucket_doc(db, readings_name, car, start_ms, _epoch_ms_match(car, start_ms)))


def rollup_epoch_ms_none_indexed(db, readings_name, rollups_name, car, start_ms):
    row = next(db[readings_name].aggregate([_epoch_ms_match(car, start_ms), STATS]), None)
    _replace(db, rollups_name, {"_id": f"{car}:{start_ms}", "car_id": car, "start_ms": start_ms, "count": row["count"],
                                "sum": row["sum"], "min": row["min"], "max": row["max"]})


def rollup_type_error_elsewhere(db, readings_name, rollups_name, car, start_ms):  # not a missing row: no dates advice
    return car + start_ms


def rollup_timestamp_twice_only_lt(db, readings_name, rollups_name, car, start_ms):
    match = {"$match": {"car_id": car, "timestamp": {"$gte": from_ms(start_ms)},
                        "timestamp": {"$lt": from_ms(start_ms + 10_000)}}}  # noqa: F601
    _replace(db, rollups_name, _bucket_doc(db, readings_name, car, start_ms, match))


def rollup_timestamp_twice_only_gte(db, readings_name, rollups_name, car, start_ms):
    match = {"$match": {"car_id": car, "timestamp": {"$lt": from_ms(start_ms + 10_000)},
                        "timestamp": {"$gte": from_ms(start_ms)}}}  # noqa: F601
    _replace(db, rollups_name, _bucket_doc(db, readings_name, car, start_ms, match))


def rollup_drop_then_insert_with_lte(db, readings_name, rollups_name, car, start_ms):  # the range is said first
    doc = _bucket_doc(db, readings_name, car, start_ms, _bucket_match(car, start_ms, high="$lte"))
    db[rollups_name].drop()
    db[rollups_name].insert_one(doc)


NEIGHBOUR = ["removed or changed another bucket's rollup", "replace only this bucket's document, by its _id"]


def test_06_2_solution_passes_and_the_check_runs_again(db):
    assert check.rebuild_one_rollup(nb06.rebuild_rollup, db)
    assert check.rebuild_one_rollup(nb06.rebuild_rollup, db)


@pytest.mark.parametrize("student", [rollup_in_python, rollup_with_set_upsert, rollup_by_car_and_start],
                         ids=lambda f: f.__name__)
def test_06_2_other_right_answers_pass(db, student):
    assert check.rebuild_one_rollup(student, db)


def test_06_2_the_stub_is_not_attempted(db, capsys):
    assert check.rebuild_one_rollup(_stub, db) is False
    assert capsys.readouterr().out.startswith(f"⏳ {check.REBUILD}")


@pytest.mark.parametrize("student, words", _cases(
    (rollup_with_inc, ["counted twice", "redelivered", "rebuild from the readings"]),
    (rollup_with_push, ["counted twice", "rebuild from the readings"]),
    (rollup_insert_one, ["DuplicateKeyError", "Replace the stored document", "upsert"]),
    (rollup_with_lte, ["exactly start_ms + 10_000", "$lt, not $lte"]),
    (rollup_with_gt, ["exactly start_ms", "$gte, not $gt"]),
    (rollup_of_every_car, ["another car's readings", "$match the car"]),
    (rollup_of_every_car_with_lte, ["$lt, not $lte", "another car's readings"]),
    (rollup_of_every_time, ["outside the bucket"]),
    (rollup_with_epoch_ms, ["counts no readings", "contract.from_ms", "datetime.fromtimestamp(ms / 1000, tz=timezone.utc)",
                            "without tz it is local time"]),
    (rollup_set_on_insert, ["late reading", "does not count it", "$setOnInsert"]),
    (rollup_skip_if_exists, ["late reading", "does not count it", "skip if it exists"]),
    (rollup_average_only, ['no "sum"', '"avg"', "average of averages"]),
    (rollup_sum_is_the_average, ["average", "$sum", "average of averages"]),
    (rollup_like_the_labs, ["none with _id", "{car_id}:{start_ms}"]),
    (rollup_nested_speed, ['no "sum", "min" and "max"', '"speed"']),
    (rollup_start_as_a_date, ["start_ms as epoch ms"]),
    (rollup_returned_not_written, ["returned a document but wrote nothing"]),
    (returns_none, ["nothing was written", "reads the collection"]),
    (raises, ["your code raised ZeroDivisionError"]),
    (rollup_drop_then_insert, [*NEIGHBOUR, "is gone"]),
    (rollup_delete_many_then_insert, [*NEIGHBOUR, "is gone"]),
    (rollup_with_out, [*NEIGHBOUR, "is gone"]),
    (rollup_set_by_car_only, [*NEIGHBOUR, "the car's next bucket, changed"]),
    (rollup_replace_any_document, ["raised WriteError", "cannot change a stored document's _id", "other buckets' rollups",
                                   "replace only this bucket's document, by its _id"]),
    (rollup_filter_on_car_only, ["raised WriteError", "car_id only", "replace only this bucket's document, by its _id"]),
    (rollup_drop_then_insert_with_lte, ["$lt, not $lte"]),
    (rollup_replace_without_upsert, ["without upsert=True changes nothing when no document is stored yet"]),
    (rollup_set_without_upsert, ["without upsert=True changes nothing when no document is stored yet"]),
    (rollup_epoch_ms_first_of_list, ["your code raised IndexError", "no row at all", "contract.from_ms"]),
    (rollup_epoch_ms_next, ["your code raised StopIteration", "no row at all", "contract.from_ms"]),
    (rollup_epoch_ms_none_indexed, ["your code raised TypeError", "no row at all", "contract.from_ms"]),
    (rollup_timestamp_twice_only_lt, ["before the bucket", "only $lt", '"timestamp" twice', "both bounds go in one dict"]),
    (rollup_timestamp_twice_only_gte, ["after the bucket", "only $gte", '"timestamp" twice', "both bounds go in one dict"]),
))
def test_06_2_rejects(db, capsys, student, words):
    _rejected(capsys, check.rebuild_one_rollup(student, db), *words)


def test_06_2_the_advice_on_dates_comes_only_for_a_missing_row_of_a_bucket_with_readings(db, capsys):
    assert check.rebuild_one_rollup(rollup_type_error_elsewhere, db) is False
    out = capsys.readouterr().out
    assert "your code raised TypeError" in out and "no row at all" not in out, out
    db[check.ROLLUP_READINGS].delete_many({})  # the bucket has no readings now: an empty $group is no sign of a mistake
    raised = exercises.attempt(rollup_epoch_ms_next, db, check.ROLLUP_READINGS, check.ROLLUP_STORE, check.ROLLUP_CAR,
                               ROLLUP_START_MS)
    assert isinstance(raised.exc, StopIteration) and check._no_group_row(db, raised) is None


def test_06_2_the_neighbours_are_left_as_they_were_by_the_solution(db):
    assert check.rebuild_one_rollup(nb06.rebuild_rollup, db)
    for _, doc in check.neighbour_rollups():
        assert db[check.ROLLUP_STORE].find_one({"_id": doc["_id"]}) == doc
    assert db[check.ROLLUP_STORE].count_documents({}) == 3


def test_06_2_each_mistake_of_the_range_gives_its_own_document():
    """The first mistake that matches names the document, so no two may give the same one."""
    for readings in (check._ROLLUP_READINGS, [*check._ROLLUP_READINGS, check.LATE_READING]):
        stats = [tuple(check.rollup_stats(readings, **flags).items()) for flags in [{}, *check._mistake_flags()]]
        assert len(set(stats)) == len(stats)


def test_06_2_the_solution_agrees_with_the_labs_rollup_on_the_practice_dataset(db, practice, pipeline):
    """What the notebook shows once 06.2 passes: the student's document beside the lab's."""
    car, start_ms = car_id(2), to_ms(START) + 30_000
    mine = nb06.rebuild_rollup(db, practice, "my_rollups", car, start_ms)
    labs = db[pipeline.collections.rollups].find_one({"car_id": car, "size_ms": 10_000, "start_ms": start_ms})
    assert mine == db["my_rollups"].find_one({"_id": f"{car}:{start_ms}"})
    assert mine["count"] == labs["count"] == 10
    assert [mine[k] for k in ("sum", "min", "max")] == pytest.approx([labs["speed"][k] for k in ("sum", "min", "max")])


# --------------------------------------------------------------------------- 06.3


def _cars(db, name, stages):
    return [r["_id"] for r in db[name].aggregate(stages)]


def _slowest(start, end, low="$gte", high="$lt"):
    return [_in_range(start, end, low, high), {"$group": {"_id": "$car_id", "slowest": {"$min": "$speed"}}}]


def cars_without_match(db, name, start, end):
    return _cars(db, name, [{"$group": {"_id": "$car_id", "slowest": {"$min": "$speed"}}},
                            {"$match": {"slowest": {"$gt": 0}}}, {"$sort": {"_id": 1}}])


def cars_with_lte_at_the_end(db, name, start, end):
    return _cars(db, name, [*_slowest(start, end, high="$lte"), {"$match": {"slowest": {"$gt": 0}}}, {"$sort": {"_id": 1}}])


def cars_with_timestamp_twice_only_gte(db, name, start, end):  # Python keeps the last "timestamp": no $lt
    match = {"$match": {"timestamp": {"$lt": end}, "timestamp": {"$gte": start}}}  # noqa: F601
    return _cars(db, name, [match, {"$group": {"_id": "$car_id", "slowest": {"$min": "$speed"}}},
                            {"$match": {"slowest": {"$gt": 0}}}, {"$sort": {"_id": 1}}])


def cars_with_timestamp_twice_only_lt(db, name, start, end):  # Python keeps the last "timestamp": no $gte
    match = {"$match": {"timestamp": {"$gte": start}, "timestamp": {"$lt": end}}}  # noqa: F601
    return _cars(db, name, [match, {"$group": {"_id": "$car_id", "slowest": {"$min": "$speed"}}},
                            {"$match": {"slowest": {"$gt": 0}}}, {"$sort": {"_id": 1}}])


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


def test_06_3_solution_passes_on_the_edges_and_on_the_practice_dataset(db, practice):
    assert check.never_stopped(nb06.cars_that_never_stopped, db)
    assert check.never_stopped(nb06.cars_that_never_stopped, db, practice, START, END)


def test_06_3_the_stub_is_not_attempted(db, capsys):
    assert check.never_stopped(_stub, db) is False
    assert capsys.readouterr().out.startswith(f"⏳ {check.NEVER_STOPPED}")


@pytest.mark.parametrize("student, words", _cases(
    (cars_without_match, ["outside the range", "$match"]),
    (cars_with_lte_at_the_end, ["exactly `end`", "$lt, not $lte"]),
    (cars_with_timestamp_twice_only_gte, ["after `end`", "only $gte", '"timestamp" twice', "both bounds go in one dict"]),
    (cars_with_timestamp_twice_only_lt, ["before `start`", "only $lt", '"timestamp" twice', "both bounds go in one dict"]),
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
def test_06_3_rejects(db, capsys, student, words):
    _rejected(capsys, check.never_stopped(student, db), *words)


def test_06_3_the_check_readings_need_an_answer_that_is_neither_empty_nor_every_car():
    lo, hi = to_ms(check.EDGE_START), to_ms(check.EDGE_END)
    readings = [r for r in check.edge_readings() if lo <= r["ms"] < hi]
    never_stopped = {r["car_id"] for r in readings} - {r["car_id"] for r in readings if r["speed"] == 0}
    assert never_stopped and never_stopped < {r["car_id"] for r in readings} < {r["car_id"] for r in check.edge_readings()}


def test_the_check_readings_tell_each_range_mistake_from_the_others():
    """A range with $lte, with only $gte, with only $lt and with no bound at all each give
    answers of their own, in 06.1 and in 06.3 ($gt at the start shows in 06.1 only)."""
    lo, hi = to_ms(check.EDGE_START), to_ms(check.EDGE_END)
    ranges = [lambda ms: lo <= ms < hi, lambda ms: lo <= ms <= hi, lambda ms: lo <= ms, lambda ms: ms < hi,
              lambda ms: True]
    for answer in (check._rows, check._never_stopped):
        answers = [repr(answer(check.edge_readings(), keep)) for keep in ranges]
        assert len(set(answers)) == len(answers)


# --------------------------------------------------------------------------- 06.4


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


def explain_scan_stage_only(db, name, query):  # plan_summary's stage, as a list
    return dict(nb06.explain_counts(db, name, query), stages=[queries.plan_summary(_explain(db, name, query))["stage"]])


def explain_upside_down(db, name, query):
    right = nb06.explain_counts(db, name, query)
    return dict(right, stages=right["stages"][::-1])


def returns_a_plan_name(db, name, query):
    return "COLLSCAN"


def explain_summary(db, name, query):
    return queries.plan_summary(_explain(db, name, query))


def test_06_4_solution_passes(db):
    assert check.read_explain(nb06.explain_counts, db)
    assert check.read_explain(explain_with_find, db)


def test_06_4_the_stub_is_not_attempted(db, capsys):
    assert check.read_explain(_stub, db) is False
    assert capsys.readouterr().out.startswith(f"⏳ {check.EXPLAIN}")


@pytest.mark.parametrize("student, words", _cases(
    (explain_whole, ["whole explain document"]),
    (explain_swapped, ["swapped"]),
    (explain_query_planner_only, ["counts are None", "executionStats"]),
    (explain_query_planner_indexed, ["your code raised KeyError"]),
    (explain_top_stage_only, ["stop too early", "inputStage"]),
    (explain_upside_down, ["upside down"]),
    (explain_scan_stage_only, ["with an index", "you have only the scan stage",
                               "list every stage from the top of the winning plan down"]),
    (explain_summary, ["missing keys", "stages"]),
    (returns_none, ["returned None", "forget `return`"]),
    (returns_a_plan_name, ["you returned a string", 'expected a dict {"stages"']),
    (raises, ["your code raised ZeroDivisionError"]),
))
def test_06_4_rejects(db, capsys, student, words):
    _rejected(capsys, check.read_explain(student, db), *words)


def test_06_4_the_index_changes_the_plan_and_the_documents_examined(db):
    check.fill_explained(db)
    without = check.explain_reading(check.server_explain(db, check.EXPLAINED, check.EXPLAIN_QUERY))
    db[check.EXPLAINED].create_index(check.EXPLAIN_INDEX)
    with_index = check.explain_reading(check.server_explain(db, check.EXPLAINED, check.EXPLAIN_QUERY))
    assert without == {"stages": ["COLLSCAN"], "docs_examined": 600, "keys_examined": 0, "returned": 20}
    assert with_index == {"stages": ["FETCH", "IXSCAN"], "docs_examined": 20, "keys_examined": 20, "returned": 20}


def test_the_edges_are_met_in_an_order_that_is_not_sorted():
    """A pipeline without `$sort` on a server whose `$group` keeps the order it meets the groups
    in must not come out sorted by chance, in 06.1 or in 06.3."""
    lo, hi = to_ms(check.EDGE_START), to_ms(check.EDGE_END)
    met = [d for d in check.edge_documents() if lo <= to_ms(d["timestamp"]) < hi]
    cars = list(dict.fromkeys(d["car_id"] for d in met))
    never_stopped = [c for c in cars if c in check._never_stopped(check.edge_readings(), check._in(lo, hi))]
    pairs = list(dict.fromkeys((d["car_id"], to_ms(d["timestamp"]) // 60_000) for d in met))
    assert never_stopped != sorted(never_stopped) and pairs != sorted(pairs)


def test_06_2_names_a_function_that_reads_another_collection(db, capsys):
    def reads_the_notebooks_collection(db, readings_name, rollups_name, car_id, start_ms):
        return nb06.rebuild_rollup(db, "telemetry", rollups_name, car_id, start_ms)

    _rejected(capsys, check.rebuild_one_rollup(reads_the_notebooks_collection, db), "never read db[readings_name]")
