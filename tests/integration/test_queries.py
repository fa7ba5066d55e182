"""Every query on a small seeded dataset with exact expected answers."""

from datetime import datetime, timedelta, timezone

import pytest

from labkit.contract import to_ms
from labkit.ops import clients
from labkit.store import queries
from labkit.store.mongo import update_latest, write_anomalies, write_events

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def ev(car, second, speed, **extra):
    base = {"car_id": car, "event_id": f"{car}-{second}", "seq": second + 1, "timestamp": T0 + timedelta(seconds=second),
            "speed": float(speed), "rpm": 2000, "engine_temp": 90.0, "fuel_level": 50.0, "latitude": 52.5, "longitude": 13.4}
    base.update(extra)
    return base


@pytest.fixture
def db(db, pipeline):
    """The shared fixture's database (tests/integration/conftest.py), seeded."""
    # CAR_001: speeds 0..29 over seconds 0..29, inserted out of order (newest first).
    events = [ev("CAR_001", s, s) for s in range(30)][::-1]
    events += [ev("CAR_002", 5, 100, fuel_level=4.0), ev("CAR_002", 15, 120)]
    write_events(db, pipeline, events)
    update_latest(db[pipeline.collections.latest], [ev("CAR_002", 1, 1)])  # a late event: ignored
    write_anomalies(db, pipeline, [
        {"_id": f"a{i}", "type": t, "car_id": c, "timestamp": T0 + timedelta(seconds=s)}
        for i, (t, c, s) in enumerate([("overspeed", "CAR_001", 0), ("overspeed", "CAR_001", 9.999),
                                       ("low_fuel", "CAR_002", 10), ("overspeed", "CAR_002", 25)])
    ])
    db[pipeline.collections.metrics].insert_many([
        {"_id": "p:0", "window_start_ms": to_ms(T0), "processed": 100, "valid": 90, "stored": 88,
         "invalid": 10, "duplicates": 2, "anomalies": 3, "invalid_by_reason": {"not_json": 6, "range:speed": 4},
         "anomalies_by_type": {"overspeed": 3}, "batches": 2, "batch_latency_ms_avg": 10.0, "consumer_lag": 7,
         "newest_event_ms": to_ms(T0 + timedelta(seconds=9))},
        {"_id": "p:10000", "window_start_ms": to_ms(T0) + 10_000, "processed": 50, "valid": 50, "stored": 50,
         "invalid": 0, "duplicates": 0, "anomalies": 1, "invalid_by_reason": {}, "anomalies_by_type": {"low_fuel": 1},
         "batches": 1, "batch_latency_ms_avg": 40.0, "consumer_lag": 0,
         "newest_event_ms": to_ms(T0 + timedelta(seconds=19))},
    ])
    return db


def test_a_cars_latest_state_only_moves_forward_and_keeps_no_stale_field(db, pipeline):
    latest = db[pipeline.collections.latest]
    v2 = ev("CAR_009", 1, 50, schema_version=2, odometer_km=1200.5, battery_v=12.6)
    assert update_latest(latest, [v2]) == 1
    assert latest.find_one({"_id": "CAR_009"})["odometer_km"] == 1200.5
    # A newer version-1 event replaces it whole: no odometer of the older event stays behind.
    assert update_latest(latest, [ev("CAR_009", 2, 60, schema_version=1)]) == 1
    stored = latest.find_one({"_id": "CAR_009"})
    assert (stored["speed"], stored["schema_version"]) == (60.0, 1)
    assert "odometer_km" not in stored and "battery_v" not in stored
    # An older event, and the same one again, leave it as it is.
    assert update_latest(latest, [ev("CAR_009", 0, 10), ev("CAR_009", 2, 70)]) == 0
    assert latest.find_one({"_id": "CAR_009"})["speed"] == 60.0


def test_series_buckets_with_exact_edges(db, pipeline):
    rows = queries.series(db, pipeline, "CAR_001", "speed", T0, T0 + timedelta(seconds=30), bucket_ms=10_000)
    assert [(r["t"], r["count"], r["min"], r["max"], r["avg"]) for r in rows] == [
        (T0, 10, 0.0, 9.0, 4.5),
        (T0 + timedelta(seconds=10), 10, 10.0, 19.0, 14.5),
        (T0 + timedelta(seconds=20), 10, 20.0, 29.0, 24.5),
    ]


def test_series_range_is_half_open_and_raw_is_sorted(db, pipeline):
    rows = queries.series(db, pipeline, "CAR_001", "speed", T0 + timedelta(seconds=10), T0 + timedelta(seconds=20), raw=True)
    assert [r["value"] for r in rows] == [float(s) for s in range(10, 20)]  # 20 excluded, order fixed
    assert queries.series(db, pipeline, "CAR_001", "speed", T0, T0 + timedelta(seconds=30), raw=True, max_points=3)[-1]["value"] == 2.0


def test_empty_range_and_unknown_car_give_nothing(db, pipeline):
    later = T0 + timedelta(hours=1)
    assert queries.series(db, pipeline, "CAR_001", "speed", later, later + timedelta(minutes=1)) == []
    assert queries.series(db, pipeline, "CAR_999", "rpm", T0, later) == []


def test_bad_parameters_raise_query_errors(db, pipeline):
    with pytest.raises(queries.QueryError, match="unknown metric"):
        queries.series(db, pipeline, "CAR_001", "altitude", T0, T0 + timedelta(seconds=1))
    with pytest.raises(queries.QueryError, match="reversed"):
        queries.series(db, pipeline, "CAR_001", "speed", T0 + timedelta(seconds=1), T0)
    with pytest.raises(queries.QueryError, match="too small"):
        queries.series(db, pipeline, "CAR_001", "speed", T0, T0 + timedelta(days=30), bucket_ms=1000)


def test_latest_and_fleet_use_event_time_and_status(db, pipeline):
    now = T0 + timedelta(seconds=40)
    fleet = queries.fleet_latest(db, pipeline, now=now)
    assert [(r["car_id"], r["event_id"], r["status"], r["alerts"]) for r in fleet] == [
        ("CAR_001", "CAR_001-29", "ok", []),
        ("CAR_002", "CAR_002-15", "ok", []),  # the late event at second 1 did not win
    ]
    assert queries.latest(db, pipeline, "CAR_002", now=T0 + timedelta(minutes=5))["status"] == "offline"
    assert queries.latest(db, pipeline, "CAR_404") is None
    assert queries.cars(db, pipeline) == ["CAR_001", "CAR_002"]


def test_anomaly_buckets_count_every_type_per_10_seconds(db, pipeline):
    rows = queries.anomaly_buckets(db, pipeline, T0, T0 + timedelta(seconds=30))
    assert [(r["t"], r["type"], r["count"]) for r in rows] == [
        (T0, "overspeed", 2),  # 0 s and 9.999 s share the first bucket
        (T0 + timedelta(seconds=10), "low_fuel", 1),
        (T0 + timedelta(seconds=20), "overspeed", 1),
    ]
    assert [r["count"] for r in queries.anomaly_buckets(db, pipeline, T0, T0 + timedelta(seconds=30), car_id="CAR_002")] == [1, 1]
    # Every bucket that overlaps the range counts whole, from the kept counts and from the anomalies alike.
    for use_counts in (True, False):
        assert queries.anomaly_buckets(db, pipeline, T0 + timedelta(seconds=5), T0 + timedelta(seconds=21),
                                       use_counts=use_counts) == rows
    assert queries.anomaly_buckets(db, pipeline, T0 + timedelta(seconds=10), T0 + timedelta(seconds=20)) == rows[1:2]


def test_pipeline_health_from_windows(db, pipeline):
    health = queries.pipeline_health(db, pipeline, T0, T0 + timedelta(seconds=20), now=T0 + timedelta(seconds=29))
    assert (health["processed"], health["invalid"], health["windows"]) == (150, 10, 2)
    assert health["events_per_s"] == 7.5 and health["invalid_ratio"] == round(10 / 150, 4)
    assert health["invalid_by_reason"] == {"not_json": 6, "range:speed": 4}
    assert health["consumer_lag"] == 0 and health["batch_latency_ms_avg"] == 20.0
    assert health["freshness_s"] == 10.0
    empty = queries.pipeline_health(db, pipeline, T0 - timedelta(hours=1), T0)
    assert empty["processed"] == 0 and empty["freshness_s"] is None


def test_dlq_summary_counts_by_reason_and_dedupes(pipeline, db):

    producer = clients.kafka_producer(pipeline)
    for value in (b"not json", b"[1]", b"still not json"):
        producer.send(pipeline.topics.telemetry, key=b"CAR_001", value=value)
    producer.flush()
    producer.close()
    from labkit.process.processor import Processor, ProcessorConfig

    Processor(pipeline, ProcessorConfig(group_id="q-dlq")).run(idle_timeout_s=3)
    Processor(pipeline, ProcessorConfig(group_id="q-dlq-again")).run(idle_timeout_s=3)  # DLQ gets copies
    summary = queries.dlq_summary(db, pipeline)
    assert summary["total"] == 3
    assert summary["by_class"] == {"not_json": 2, "not_object": 1}
    assert len(summary["recent"]) == 3 and {"partition", "offset", "reason", "original"} <= set(summary["recent"][0])
