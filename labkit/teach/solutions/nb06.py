"""Solutions for notebook 06 (query Mongo)."""

from __future__ import annotations

from datetime import datetime

from labkit.contract import from_ms


def max_speed_per_car_per_minute(db, collection: str, start: datetime, end: datetime) -> list[dict]:
    """Exercise 06.1: `{"car_id", "minute" (epoch ms), "max_speed"}`, sorted by car then minute."""
    minute = {"$subtract": [{"$toLong": "$timestamp"}, {"$mod": [{"$toLong": "$timestamp"}, 60_000]}]}
    rows = db[collection].aggregate([
        {"$match": {"timestamp": {"$gte": start, "$lt": end}}},
        {"$group": {"_id": {"car_id": "$car_id", "minute": minute}, "max_speed": {"$max": "$speed"}}},
        {"$sort": {"_id.car_id": 1, "_id.minute": 1}},
    ])
    return [{"car_id": r["_id"]["car_id"], "minute": int(r["_id"]["minute"]), "max_speed": r["max_speed"]} for r in rows]


def rebuild_rollup(db, readings_name: str, rollups_name: str, car_id: str, start_ms: int) -> dict | None:
    """Exercise 06.2: the 10 s rollup of `speed` for one car and the bucket [start_ms, start_ms +
    10 s), rebuilt from the stored readings, never added to: the server counts and sums the
    bucket's readings, and the document replaces the stored one (upsert: the first call creates
    it). Running it again on the same readings (a redelivered batch) writes the same document; a
    late reading is counted the next time it runs. Returns the document (None for an empty bucket,
    which writes nothing)."""
    rows = list(db[readings_name].aggregate([
        {"$match": {"car_id": car_id, "timestamp": {"$gte": from_ms(start_ms), "$lt": from_ms(start_ms + 10_000)}}},
        {"$group": {"_id": None, "count": {"$sum": 1}, "sum": {"$sum": "$speed"},
                    "min": {"$min": "$speed"}, "max": {"$max": "$speed"}}},
    ]))
    if not rows:
        return None
    doc = {"_id": f"{car_id}:{start_ms}", "car_id": car_id, "start_ms": start_ms,
           **{k: rows[0][k] for k in ("count", "sum", "min", "max")}}
    db[rollups_name].replace_one({"_id": doc["_id"]}, doc, upsert=True)
    return doc


def cars_that_never_stopped(db, collection: str, start: datetime, end: datetime) -> list[str]:
    """Exercise 06.3: cars with readings in the range whose speed was never 0, sorted."""
    rows = db[collection].aggregate([
        {"$match": {"timestamp": {"$gte": start, "$lt": end}}},
        {"$group": {"_id": "$car_id", "slowest": {"$min": "$speed"}}},
        {"$match": {"slowest": {"$gt": 0}}},
        {"$sort": {"_id": 1}},
    ])
    return [r["_id"] for r in rows]


def explain_counts(db, collection: str, query: dict) -> dict:
    """Exercise 06.4: `{"stages", "docs_examined", "keys_examined", "returned"}` from the server's
    explain of `find(query)`, run in executionStats verbosity (the server runs the query and
    counts; `db[collection].find(query).explain()` works too: pymongo asks for
    allPlansExecution, which holds executionStats)."""
    explained = db.command("explain", {"find": collection, "filter": query}, verbosity="executionStats")
    winning = explained["queryPlanner"]["winningPlan"]
    # explainVersion "2" (MongoDB's slot-based engine) puts the tree under queryPlan
    stages, stage = [], winning.get("queryPlan", winning)
    while stage is not None:  # each stage reads from its inputStage; the last one reads the data
        stages.append(stage["stage"])
        stage = stage.get("inputStage")
    stats = explained["executionStats"]
    return {"stages": stages, "docs_examined": stats["totalDocsExamined"],
            "keys_examined": stats["totalKeysExamined"], "returned": stats["nReturned"]}
