"""The rollups' pure parts: which buckets a batch touches, where a chart reads from,
and merging partial aggregates."""

import random
from datetime import datetime, timedelta, timezone

import pytest

from labkit.contract import METRICS
from labkit.store import rollups
from labkit.store.rollups import Partial

pytestmark = pytest.mark.unit

T = 1_764_230_400_000  # a whole minute, epoch ms


def test_touched_buckets_form_runs_and_a_very_late_event_gets_its_own():
    times = {"CAR_001": [T + 1_000, T + 9_999, T + 10_000, T + 25_000], "CAR_002": [T + 5_000, T - 3_600_000]}
    runs = rollups.touched_runs(times, 10_000)
    assert runs["CAR_001"] == [(T, T + 30_000)]
    assert runs["CAR_002"] == [(T - 3_600_000, T - 3_590_000), (T, T + 10_000)]


def test_widen_moves_runs_to_the_minutes_they_touch():
    assert rollups.widen([(T + 50_000, T + 70_000)], 60_000) == [(T, T + 120_000)]
    assert rollups.widen([(T, T + 10_000), (T + 30_000, T + 40_000)], 60_000) == [(T, T + 60_000)]
    assert rollups.widen([(T, T + 10_000), (T + 600_000, T + 610_000)], 60_000) == [(T, T + 60_000), (T + 600_000, T + 660_000)]


@pytest.mark.parametrize("bucket", [1_000, 5_000, 10_000, 30_000, 60_000, 300_000])
def test_a_plan_covers_the_range_exactly_once_with_whole_rollups_only(bucket):
    rng = random.Random(bucket)
    for _ in range(500):
        start = T + rng.randrange(-200_000, 200_000)
        end = start + rng.randrange(1, 4_000_000)
        parts = rollups.plan(start, end, bucket)
        assert parts[0][1] == start and parts[-1][2] == end
        assert all(a[2] == b[1] for a, b in zip(parts, parts[1:])), "contiguous, no overlap"
        assert sum(p[0] == "rollups" for p in parts) <= 1, "every rollup in one query"
        for source, lo, hi, size in parts:
            assert lo < hi
            if source == "rollups":
                assert size == 60_000 and lo % 10_000 == 0 and hi % 10_000 == 0
            else:
                assert size == 0
                # raw readings only at the edges (under 10 s) or when no rollup fits
                assert bucket % 10_000 != 0 or hi - lo < 10_000 or len(parts) == 1


def test_a_bucket_that_is_not_a_multiple_of_ten_seconds_reads_the_readings():
    assert rollups.plan(T, T + 3_600_000, 5_000) == [("readings", T, T + 3_600_000, 0)]
    assert rollups.plan(T + 1, T + 9_000, 10_000) == [("readings", T + 1, T + 9_000, 0)]


def test_whole_ten_seconds_come_from_the_minute_documents_and_the_edges_from_the_readings():
    assert rollups.plan(T, T + 600_000, 300_000) == [("rollups", T, T + 600_000, 60_000)]
    assert rollups.plan(T, T + 600_000, 10_000) == [("rollups", T, T + 600_000, 60_000)]
    assert rollups.plan(T - 13_000, T + 65_000, 10_000) == [
        ("readings", T - 13_000, T - 10_000, 0), ("rollups", T - 10_000, T + 60_000, 60_000),
        ("readings", T + 60_000, T + 65_000, 0)]
    assert rollups.plan(T + 5_000, T + 45_000, 10_000) == [
        ("readings", T + 5_000, T + 10_000, 0), ("rollups", T + 10_000, T + 40_000, 60_000),
        ("readings", T + 40_000, T + 45_000, 0)]
    # the minute documents that overlap a part: from the minute its start falls in
    assert rollups.minutes_of(T - 10_000, T + 60_000) == (T - 60_000, T + 60_000)
    assert rollups.minutes_of(T, T + 600_000) == (T, T + 600_000)


def test_minute_documents_at_a_charts_edges_count_only_their_tens_inside_the_range():
    tens = [{"_id": f"t{i}", "car_id": "C", "size_ms": 10_000, "start_ms": T + i * 10_000, "count": 10,
             **{m: {"sum": 10.0 * i, "min": float(i), "max": float(i)} for m in METRICS}} for i in range(-6, 12)]
    minutes = rollups.minute_documents("C", tens)  # T - 60 s, T and T + 60 s
    lo, hi = T - 20_000, T + 70_000  # the last two tens of the first minute, the first of the third
    inside = [d for d in tens if lo <= d["start_ms"] < hi]
    for bucket in (10_000, 30_000, 60_000):
        assert (rollups.stored_partials(minutes, "rpm", bucket, lo, hi)
                == rollups.stored_partials(inside, "rpm", bucket)), bucket
    # with no range, every ten counts
    assert rollups.stored_partials(minutes, "rpm", 10_000) == rollups.stored_partials(tens, "rpm", 10_000)
    # a minute without its tens cannot be cut at the edges
    bare = [{k: v for k, v in d.items() if k != "tens"} for d in minutes]
    assert rollups.stored_partials(bare, "rpm", 60_000, T, T + 60_000) == rollups.stored_partials(bare[1:2], "rpm", 60_000)
    with pytest.raises(ValueError):
        rollups.stored_partials(bare, "rpm", 60_000, lo, hi)


def test_minute_documents_hold_the_totals_and_their_ten_second_rollups():
    rng = random.Random(5)
    tens, values = [], []
    for i in range(12):  # two minutes of 10 s rollups, some empty, given out of order
        inside = [rng.uniform(0, 200) for _ in range(rng.randrange(0, 4))]
        values += [(T + i * 10_000, v) for v in inside]
        tens.append({"_id": f"CAR_001:10000:{T + i * 10_000}", "start_ms": T + i * 10_000, "count": len(inside),
                     **{m: {"sum": sum(inside), "min": min(inside, default=None), "max": max(inside, default=None)}
                        for m in rollups.METRICS}})
    rng.shuffle(tens)
    minutes = rollups.minute_documents("CAR_001", tens)
    assert [d["_id"] for d in minutes] == [f"CAR_001:60000:{T}", f"CAR_001:60000:{T + 60_000}"]
    for doc in minutes:
        inside = [v for t, v in values if doc["start_ms"] <= t < doc["start_ms"] + 60_000]
        assert doc["count"] == len(inside) and doc["size_ms"] == 60_000
        assert doc["speed"]["min"] == min(inside) and doc["speed"]["max"] == max(inside)
        assert doc["speed"]["sum"] == pytest.approx(sum(inside), rel=1e-12)
        assert [s["start_ms"] for s in doc["tens"]] == [doc["start_ms"] + k * 10_000 for k in range(6)]
    # Read for 10 s buckets, the minutes give back exactly the 10 s rollups they were made of.
    assert rollups.stored_partials(minutes, "rpm", 10_000) == rollups.stored_partials(tens, "rpm", 10_000)
    whole, merged = rollups.stored_partials(minutes, "rpm", 60_000), rollups.stored_partials(tens, "rpm", 60_000)
    assert whole.keys() == merged.keys()
    for t, p in whole.items():  # the same numbers, summed in another order
        assert (p.count, p.min, p.max) == (merged[t].count, merged[t].min, merged[t].max)
        assert p.sum == pytest.approx(merged[t].sum, rel=1e-12)


def test_a_minute_document_without_its_tens_cannot_be_split():
    old = {"_id": f"CAR_001:60000:{T}", "size_ms": 60_000, "start_ms": T, "count": 1,
           "speed": {"sum": 1.0, "min": 1.0, "max": 1.0}}
    assert rollups.stored_partials([old], "speed", 60_000)[T] == Partial(1, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="tens"):
        rollups.stored_partials([old], "speed", 10_000)


def test_merged_partials_equal_the_aggregate_of_all_values():
    rng = random.Random(7)
    values = [(T + rng.randrange(0, 120_000), rng.uniform(0, 200)) for _ in range(300)]
    pieces = [{}, {}, {}]
    for t, v in values:  # split at random among three sources, as plan() splits a range
        part, start = pieces[rng.randrange(3)], t - t % 60_000
        p = Partial(1, v, v, v)
        part[start] = part[start].merge(p) if start in part else p
    rows = rollups.combine(*pieces)
    for row in rows:
        inside = [v for t, v in values if t - t % 60_000 == int(row["t"].timestamp() * 1000)]
        assert row["count"] == len(inside) and row["min"] == min(inside) and row["max"] == max(inside)
        assert row["avg"] == pytest.approx(sum(inside) / len(inside), rel=1e-12)
    assert [r["t"] for r in rows] == sorted(r["t"] for r in rows)


def test_a_malformed_stored_value_does_not_break_the_merge():
    rows = [{"_id": T, "count": 2, "speed_sum": 10.0, "speed_min": "fast", "speed_max": 10.0}]
    merged = rollups.combine(rollups.partials(rows, "speed"), {T: Partial(1, 4.0, 4.0, 4.0)})
    assert merged[0]["min"] == 4.0 and merged[0]["max"] == 10.0 and merged[0]["count"] == 3


def test_rollup_documents_are_keyed_by_car_size_and_start():
    row = {"_id": T, "count": 3, **{f"{m}_{k}": 1.0 for m in rollups.METRICS for k in ("sum", "min", "max")}}
    doc = rollups.rollup_document("CAR_001", 10_000, row)
    assert doc["_id"] == f"CAR_001:10000:{T}" and doc["start_ms"] == T and doc["count"] == 3
    assert doc["speed"] == {"sum": 1.0, "min": 1.0, "max": 1.0}


def test_stored_rollups_merge_into_larger_buckets_exactly():
    rng = random.Random(11)
    docs, values = [], []
    for i in range(18):  # three minutes of 10 s rollups, one of them empty
        inside = [rng.uniform(0, 200) for _ in range(rng.randrange(0, 4))]
        values += [(T + i * 10_000, v) for v in inside]
        docs.append({"start_ms": T + i * 10_000, "count": len(inside),
                     "speed": {"sum": sum(inside), "min": min(inside, default=None), "max": max(inside, default=None)}})
    rows = rollups.combine(rollups.stored_partials(docs, "speed", 60_000))
    for row in rows:
        start = int(row["t"].timestamp() * 1000)
        inside = [v for t, v in values if start <= t < start + 60_000]
        assert row["count"] == len(inside) and row["min"] == min(inside) and row["max"] == max(inside)
        assert row["avg"] == pytest.approx(sum(inside) / len(inside), rel=1e-12)
    assert len(rows) == len({(t - T) // 60_000 for t, _ in values})


def test_a_stored_rollup_without_the_metric_counts_but_has_no_value():
    docs = [{"start_ms": T, "count": 2, "speed": {"sum": None, "min": None, "max": None}},
            {"start_ms": T + 10_000, "count": 1, "speed": {"sum": 5.0, "min": 5.0, "max": 5.0}}, {"start_ms": T}]
    merged = rollups.combine(rollups.stored_partials(docs, "speed", 60_000))
    assert merged == [{"t": merged[0]["t"], "avg": 5.0 / 3, "min": 5.0, "max": 5.0, "count": 3}]


def test_write_forward_keeps_the_rollup_built_from_more_readings_when_its_insert_collides():
    """Two writers find no rollup and both insert; the second insert collides (duplicate key).
    Then ours replaces the stored one only if it was built from no more readings."""
    from pymongo.errors import BulkWriteError

    class RacingCollection:
        """A collection in which another writer inserted "a" (count 2) and "b" (count 9) just before us."""

        def __init__(self):
            self.stored, self.calls = {"a": {"_id": "a", "count": 2}, "b": {"_id": "b", "count": 9}}, []

        def insert_many(self, documents, ordered):
            self.calls.append("insert_many")
            errors = [{"index": i, "code": 11000} for i, d in enumerate(documents) if d["_id"] in self.stored]
            self.stored.update((d["_id"], dict(d)) for d in documents if d["_id"] not in self.stored)
            if errors:
                raise BulkWriteError({"writeErrors": errors, "writeConcernErrors": []})

        def bulk_write(self, ops, ordered):
            self.calls.append([bool(op._upsert) for op in ops])
            for op in ops:
                doc = self.stored.get(op._filter["_id"])
                if doc is not None and doc["count"] <= op._filter["count"]["$lte"]:
                    doc.update(op._doc["$set"])

    collection = RacingCollection()
    rollups.write_forward(collection, [{"_id": "a", "count": 3}, {"_id": "b", "count": 4}, {"_id": "c", "count": 1}])
    assert collection.calls == ["insert_many", [False, False]], "the collided ones updated, never upserted"
    assert {k: d["count"] for k, d in collection.stored.items()} == {"a": 3, "b": 9, "c": 1}


def test_rows_from_readings_group_by_car_and_bucket_as_the_pipeline_does_for_numbers():
    t0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
    readings = [
        {"car_id": "B", "timestamp": t0 + timedelta(seconds=12), "speed": 30.0, "rpm": 1000},
        {"car_id": "A", "timestamp": t0 + timedelta(seconds=1), "speed": 50.0, "rpm": 2000},
        {"car_id": "A", "timestamp": t0 + timedelta(seconds=9), "speed": 70.0, "rpm": "fast"},  # around the validator
        {"car_id": "A", "timestamp": (t0 + timedelta(seconds=10)).replace(tzinfo=None), "speed": 10.0, "rpm": 900},
    ]
    rows = rollups.rows_from_readings(readings, metrics=("speed", "rpm"))
    start = int(t0.timestamp() * 1000)
    assert sorted(rows) == ["A", "B"]
    assert [(r["_id"], r["count"]) for r in rows["A"]] == [(start, 2), (start + 10_000, 1)], "naive times are UTC"
    first = rows["A"][0]
    assert (first["speed_sum"], first["speed_min"], first["speed_max"]) == (120.0, 50.0, 70.0)
    assert (first["rpm_sum"], first["rpm_min"], first["rpm_max"]) == (2000, 2000, 2000), "a string is no number"
    assert rows["B"][0]["_id"] == start + 10_000


def test_the_last_buckets_that_may_not_be_rolled_up_yet_come_from_the_readings():
    assert rollups.plan(T, T + 600_000, 10_000, fresh_from_ms=T + 575_000) == [
        ("rollups", T, T + 540_000, 60_000), ("readings", T + 540_000, T + 600_000, 0)]
    assert rollups.plan(T, T + 600_000, 60_000, fresh_from_ms=T - 1) == [("readings", T, T + 600_000, 0)]
    assert rollups.plan(T, T + 600_000, 10_000, fresh_from_ms=T + 900_000) == [("rollups", T, T + 600_000, 60_000)]
