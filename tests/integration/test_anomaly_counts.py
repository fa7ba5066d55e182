"""Anomalies at fleet scale against the real server: the kept counts answer exactly what the
anomalies' aggregation does, however the records arrived (in batches, twice, late), and the
newest-first records read in slices are those of one sorted query."""

import random
from datetime import datetime, timedelta, timezone

import pytest

from labkit.store import mongo, queries
from labkit.store.sinks import MongoStore

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 12, 0, 3, tzinfo=timezone.utc)  # not on a bucket edge on purpose
TYPES = ("overspeed", "engine_overheat", "low_fuel", "high_rpm")


def anomalies(n: int, seed: int, seconds: int = 1200) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        at = T0 + timedelta(milliseconds=rng.randrange(seconds * 1000))
        kind = rng.choice(TYPES)
        out.append({"_id": f"CAR_{i % 20:03d}-{i}:{kind}", "event_id": f"CAR_{i % 20:03d}-{i}", "car_id": f"CAR_{i % 20:03d}",
                    "timestamp": at, "type": kind, "value": 1.0, "threshold": 0.0, "detector": "rule"})
    return out


def write_like_the_processor(db, settings, records: list[dict], seed: int = 2) -> None:
    """Batches of 40, a few late ones, one batch written twice (redelivery)."""
    rng = random.Random(seed)
    order = sorted(records, key=lambda r: r["timestamp"] + timedelta(seconds=rng.choice([0, 0, 0, 30, 300])))
    batches = [order[i:i + 40] for i in range(0, len(order), 40)]
    for i, batch in enumerate(batches):
        mongo.write_anomalies(db, settings, batch)
        if i == 2:
            mongo.write_anomalies(db, settings, batch)


def test_anomaly_counts_answer_what_the_anomalies_aggregation_does(db, pipeline):
    write_like_the_processor(db, pipeline, anomalies(1500, seed=1))
    rng = random.Random(3)
    cases = [(T0 - timedelta(seconds=3), T0 + timedelta(minutes=20), b) for b in (10_000, 30_000, 60_000)]
    cases += [(T0 + timedelta(seconds=rng.randrange(0, 900), milliseconds=rng.randrange(1000)),
               timedelta(seconds=rng.randrange(1, 900), milliseconds=rng.randrange(1000)),
               rng.choice([10_000, 20_000, 60_000, 300_000])) for _ in range(30)]
    for start, end, bucket in cases:
        end = start + end if isinstance(end, timedelta) else end
        kept = queries.anomaly_buckets(db, pipeline, start, end, bucket_ms=bucket)
        counted = queries.anomaly_buckets(db, pipeline, start, end, bucket_ms=bucket, use_counts=False)
        assert kept == counted, (start, end, bucket)
        assert kept or end - start < timedelta(seconds=30), "the ranges hold anomalies: 1,500 in 20 minutes"
    total = sum(sum(d["counts"].values()) for d in db[pipeline.collections.anomaly_counts].find())
    assert total == 1500, "a redelivered batch is counted once"


def test_anomalies_stored_before_their_counts_existed_are_counted_once_when_the_store_prepares(db, pipeline):
    records = anomalies(300, seed=4)
    db[pipeline.collections.anomalies].insert_many(records)  # as an older labkit stored them: no counts
    start, end = T0, T0 + timedelta(minutes=20)
    counted = queries.anomaly_buckets(db, pipeline, start, end, use_counts=False)
    assert queries.anomaly_buckets(db, pipeline, start, end) != counted
    MongoStore(db, pipeline).prepare()
    assert queries.anomaly_buckets(db, pipeline, start, end) == counted
    # Once: when counts exist, anomalies written around the store later are not counted.
    db[pipeline.collections.anomalies].insert_many([{**d, "_id": "later-" + d["_id"]} for d in anomalies(10, seed=6)])
    MongoStore(db, pipeline).prepare()
    assert sum(sum(d["counts"].values()) for d in db[pipeline.collections.anomaly_counts].find()) == 300


def test_two_processors_counting_the_same_bucket_keep_the_larger_count(db, pipeline):
    """A count written late by a processor that counted early never lowers the count."""
    first = anomalies(2, seed=7, seconds=1)
    second = [{**d, "_id": "other-" + d["_id"]} for d in first]  # the same types, other events
    mongo.write_anomalies(db, pipeline, first + second)  # as the last count sees them: 4
    db[pipeline.collections.anomalies].delete_many({"_id": {"$in": [d["_id"] for d in second]}})
    mongo.write_anomalies(db, pipeline, first)  # the early count, written last: 2
    assert sum(sum(d["counts"].values()) for d in db[pipeline.collections.anomaly_counts].find()) == 4


@pytest.mark.parametrize("limit", [1, 7, 100, 1000])
def test_the_newest_anomalies_read_in_slices_are_those_of_one_sorted_query(db, pipeline, limit):
    mongo.write_anomalies(db, pipeline, anomalies(400, seed=5))
    rng = random.Random(limit)
    for _ in range(10):
        start = T0 + timedelta(seconds=rng.randrange(0, 600))
        end = start + timedelta(seconds=rng.randrange(1, 900))
        for car, kind in ((None, None), ("CAR_003", None), (None, "low_fuel")):
            match = {"timestamp": {"$gte": start, "$lt": end}}
            match.update({k: v for k, v in (("car_id", car), ("type", kind)) if v})
            one_query = list(db[pipeline.collections.anomalies].find(match, {"_id": 0}).sort("timestamp", -1).limit(limit))
            sliced = queries.anomaly_records(db, pipeline, start, end, car_id=car, kind=kind, limit=limit)
            assert [d["timestamp"] for d in sliced] == [d["timestamp"] for d in one_query]
            assert len(sliced) == min(limit, db[pipeline.collections.anomalies].count_documents(match))
