from datetime import datetime, timedelta, timezone

import pytest

from labkit.contract import from_ms, to_ms
from labkit.store import queries

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("span, expected", [
    (timedelta(minutes=5), 1_000),      # 300 points at 1 s
    (timedelta(hours=1), 2_000),        # 1800 points
    (timedelta(hours=6), 20_000),
    (timedelta(days=1), 60_000),
    (timedelta(days=400), 21_600_000),
    (timedelta(days=10_000), 86_400_000),  # capped at one day
])
def test_bucket_size_keeps_charts_under_the_point_limit(span, expected):
    assert queries.choose_bucket_ms(T0, T0 + span) == expected
    if span < timedelta(days=100):
        assert span.total_seconds() * 1000 / expected <= queries.MAX_POINTS


def test_a_chart_bucket_can_have_a_floor():
    assert queries.choose_bucket_ms(T0, T0 + timedelta(minutes=15), smallest=10_000) == 10_000
    assert queries.choose_bucket_ms(T0, T0 + timedelta(days=1), smallest=10_000) == 60_000
    assert all(size % 10_000 == 0 for size in queries.NICE_BUCKETS_MS if size >= 10_000)


def test_series_pipeline_matches_then_groups_by_epoch_ms_buckets():
    pipeline = queries.series_pipeline("CAR_001", "speed", T0, T0 + timedelta(minutes=1), 10_000)
    assert pipeline[0] == {"$match": {"car_id": "CAR_001", "timestamp": {"$gte": T0, "$lt": T0 + timedelta(minutes=1)}}}
    group = pipeline[1]["$group"]
    assert group["_id"] == {"$subtract": [{"$toLong": "$timestamp"}, {"$mod": [{"$toLong": "$timestamp"}, 10_000]}]}
    assert set(group) == {"_id", "avg", "min", "max", "count"}
    assert pipeline[2] == {"$sort": {"_id": 1}}
    assert "$dateTrunc" not in repr(pipeline)  # runs on the local server too


def test_anomaly_pipeline_optionally_filters_a_car():
    fleet = queries.anomaly_buckets_pipeline(T0, T0 + timedelta(minutes=1), 10_000)
    one = queries.anomaly_buckets_pipeline(T0, T0 + timedelta(minutes=1), 10_000, car_id="CAR_002")
    assert "car_id" not in fleet[0]["$match"] and one[0]["$match"]["car_id"] == "CAR_002"
    assert fleet[1]["$group"]["_id"]["type"] == "$type"


def test_car_status_uses_shared_thresholds_and_offline_age():
    doc = {"timestamp": T0, "speed": 50.0, "engine_temp": 90.0, "fuel_level": 40.0, "rpm": 2000}
    assert queries.car_status(doc, T0 + timedelta(seconds=30)) == ("ok", [])
    assert queries.car_status(dict(doc, fuel_level=5.0), T0) == ("alert", ["low_fuel"])
    assert queries.car_status(doc, T0 + timedelta(seconds=61)) == ("offline", [])
    assert queries.car_status(doc, T0 + timedelta(seconds=61), offline_after_s=120)[0] == "ok"


@pytest.mark.parametrize("start, end", [(T0, T0), (T0 + timedelta(seconds=1), T0), (T0.replace(tzinfo=None), T0)])
def test_bad_ranges_are_query_errors(start, end):
    with pytest.raises(queries.QueryError):
        queries.check_range(start, end)


def test_ms_conversions_round_trip():
    assert from_ms(to_ms(T0)) == T0


def test_plan_summary_reads_find_and_aggregate_explains():
    find_explain = {"queryPlanner": {"winningPlan": {"stage": "FETCH", "inputStage": {
        "stage": "IXSCAN", "indexName": "car_id_timestamp"}}},
        "executionStats": {"nReturned": 120, "totalKeysExamined": 120, "totalDocsExamined": 120}}
    assert queries.plan_summary(find_explain) == {"stage": "IXSCAN", "index": "car_id_timestamp", "keys_examined": 120,
                                                  "docs_examined": 120, "returned": 120}
    aggregate_explain = {"stages": [{"$cursor": {"queryPlanner": {"winningPlan": {"stage": "COLLSCAN"}},
                                                 "executionStats": {"totalDocsExamined": 24000, "nReturned": 600,
                                                                    "totalKeysExamined": 0}}}, {"$group": {}}]}
    summary = queries.plan_summary(aggregate_explain)
    assert (summary["stage"], summary["index"], summary["docs_examined"]) == ("COLLSCAN", None, 24000)
    assert queries.plan_summary({"ok": 1})["stage"] is None


def test_lag_over_time_comes_from_the_metrics_windows():
    windows = [{"window_start_ms": 0, "consumer_lag": 7, "lag_by_partition": {"1": 7, "0": 0, "10": 0}},
               {"window_start_ms": 10_000, "consumer_lag": None},  # no figure: no row
               {"window_start_ms": 20_000, "consumer_lag": 3}]
    rows = queries.lag_of(windows, partitions=3)
    assert [list(r) for r in rows] == [["t", "total", "p0", "p1", "p2", "p10"]] * 2
    assert (rows[0]["total"], rows[0]["p1"], rows[0]["p2"], rows[1]["total"], rows[1]["p1"]) == (7, 7, None, 3, None)
    assert rows[1]["t"] == from_ms(20_000)


def test_windows_of_two_runs_or_processors_are_merged_into_one_per_start():
    from labkit.store.queries import merge_windows

    a = {"window_start_ms": 10_000, "processor_id": "p1", "processed": 600, "stored": 580, "invalid": 20,
         "invalid_by_reason": {"range:speed": 20}, "anomalies_by_type": {}, "batches": 2, "batch_latency_ms_avg": 10.0,
         "batch_latency_ms_max": 12.0, "lag_by_partition": {"0": 5, "1": 0}, "consumer_lag": 5, "newest_event_ms": 100}
    b = {"window_start_ms": 10_000, "processor_id": "p2", "processed": 40, "stored": 0, "invalid": 40,
         "invalid_by_reason": {"missing_field:timestamp": 40}, "anomalies_by_type": {}, "batches": 1,
         "batch_latency_ms_avg": 40.0, "batch_latency_ms_max": 40.0, "lag_by_partition": {"0": 0}, "consumer_lag": 0,
         "newest_event_ms": 200}
    c = {"window_start_ms": 20_000, "processor_id": "p2", "processed": 50, "batches": 1, "consumer_lag": 0}
    merged = merge_windows([c, a, b])
    assert [w["window_start_ms"] for w in merged] == [10_000, 20_000] and merged[1] is c
    one = merged[0]
    assert (one["processed"], one["stored"], one["invalid"], one["batches"]) == (640, 580, 60, 3)
    assert one["invalid_by_reason"] == {"range:speed": 20, "missing_field:timestamp": 40}
    assert one["batch_latency_ms_avg"] == 20.0 and one["batch_latency_ms_max"] == 40.0
    assert one["lag_by_partition"] == {"0": 0, "1": 0} and one["consumer_lag"] == 0  # the newest word on partition 0
    assert one["newest_event_ms"] == 200
