"""The processor against the real broker and MongoDB-wire server.

Conservation: every message read ends up in exactly one place. Valid events are stored
once each (duplicates absorbed), invalid ones are in the DLQ with their reason, and the
committed offsets cover exactly what was processed.
"""

import uuid
from collections import Counter

from pymongo import MongoClient

from labkit.contract import METRICS
from labkit.ops import clients, kafka_io
from labkit.process.processor import Processor, ProcessorConfig
from tests.pipeline_helpers import committed_offsets, distinct_sources, dlq_records, expected, send_batch, stored_ids


def run(settings, group, **kwargs):
    return Processor(settings, ProcessorConfig(group_id=group, **kwargs)).run(idle_timeout_s=3)


def test_conservation_produced_equals_stored_plus_dead_lettered(pipeline):
    messages = send_batch(pipeline, 3000)
    valid_ids, invalid_count = expected(messages)
    group = f"g-{uuid.uuid4().hex[:6]}"
    stats = run(pipeline, group)

    assert stats.processed == 3000
    ids = stored_ids(pipeline)
    assert len(ids) == len(set(ids)) and set(ids) == valid_ids
    assert stats.invalid == invalid_count
    assert stats.valid == 3000 - invalid_count
    assert stats.stored + stats.duplicates == stats.valid
    records = dlq_records(pipeline)
    assert len(records) == invalid_count == len(distinct_sources(records))

    # Every DLQ record points at the message it came from, with that message's reason class.
    by_position = {}
    for r in kafka_io.read_topic(pipeline, pipeline.topics.telemetry, max_messages=10_000):
        by_position[(r.partition, r.offset)] = r.value
    truth = {m.value: m for m in messages}
    for record in records:
        source = (record["source"]["partition"], record["source"]["offset"])
        message = truth[by_position[source]]
        assert f"invalid:{record['reason_class']}" in message.labels
        assert record["_headers"]["dlq.reason"].decode() == record["reason"]

    # Offsets committed up to the end of every partition.
    ends = kafka_io.end_offsets(pipeline, pipeline.topics.telemetry)
    assert committed_offsets(pipeline, group) == ends

    # MongoDB holds one dead letter per rejected message, and rollups that count every
    # stored event exactly once (duplicates and late events included in the stream).
    with MongoClient(pipeline.mongodb_uri) as client:
        db = client[pipeline.mongodb_db]
        dead = list(db[pipeline.collections.dead_letters].find())
        counted = {size: sum(r["count"] for r in db[pipeline.collections.rollups].find({"size_ms": size}))
                   for size in (10_000, 60_000)}
    assert {d["_id"] for d in dead} == distinct_sources(records)
    assert counted == {10_000: len(ids), 60_000: len(ids)}, "rollups count every stored event once"


def test_latest_state_holds_the_newest_event_per_car(pipeline):
    messages = send_batch(pipeline, 1500, seed=3)
    run(pipeline, f"g-{uuid.uuid4().hex[:6]}")
    client = MongoClient(pipeline.mongodb_uri, tz_aware=True)
    db = client[pipeline.mongodb_db]
    newest = {}
    for doc in db[pipeline.collections.telemetry].find():
        if doc["car_id"] not in newest or doc["timestamp"] > newest[doc["car_id"]]["timestamp"]:
            newest[doc["car_id"]] = doc
    latest = {d["_id"]: d for d in db[pipeline.collections.latest].find()}
    client.close()
    assert set(latest) == set(newest)
    for car, doc in newest.items():
        assert latest[car]["event_id"] == doc["event_id"], car  # late events never won
    assert any("late" in m.labels for m in messages)


def test_anomalies_and_metrics_are_stored(pipeline):
    send_batch(pipeline, 2000, seed=5)
    stats = run(pipeline, f"g-{uuid.uuid4().hex[:6]}")
    client = MongoClient(pipeline.mongodb_uri, tz_aware=True)
    db = client[pipeline.mongodb_db]
    anomalies = list(db[pipeline.collections.anomalies].find())
    metrics = list(db[pipeline.collections.metrics].find())
    client.close()
    assert Counter(a["type"] for a in anomalies) == stats.anomalies_by_type
    assert sum(m["processed"] for m in metrics) == 2000
    assert sum(m["invalid"] for m in metrics) == stats.invalid
    assert all(m["window_s"] == 10 for m in metrics)
    anomaly_topic = kafka_io.read_topic(pipeline, pipeline.topics.anomaly, max_messages=100_000)
    assert len(anomaly_topic) == len(anomalies)
    metric_topic = kafka_io.read_topic(pipeline, pipeline.topics.metrics, max_messages=1000)
    assert len(metric_topic) == len(metrics)


def test_rerun_is_a_no_op_and_full_redelivery_stores_nothing_twice(pipeline):
    messages = send_batch(pipeline, 1000, seed=9)
    valid_ids, invalid_count = expected(messages)
    group = f"g-{uuid.uuid4().hex[:6]}"
    run(pipeline, group)
    again = run(pipeline, group)
    assert again.processed == 0  # everything was committed

    redelivered = run(pipeline, f"g-{uuid.uuid4().hex[:6]}")  # a new group reads it all again
    assert redelivered.processed == 1000 and redelivered.stored == 0
    assert set(stored_ids(pipeline)) == valid_ids and len(stored_ids(pipeline)) == len(valid_ids)
    records = dlq_records(pipeline)
    assert len(records) == 2 * invalid_count  # the DLQ is at-least-once...
    assert len(distinct_sources(records)) == invalid_count  # ...and exact by source


def test_a_stopped_processor_can_run_again_and_continues_where_it_stopped(pipeline):
    messages = send_batch(pipeline, 1200, seed=41)
    valid_ids, _ = expected(messages)
    processor = Processor(pipeline, ProcessorConfig(group_id=f"g-{uuid.uuid4().hex[:6]}", batch_size=200))
    processor.stop()  # requested before the run: that run ends at once
    first = processor.run(idle_timeout_s=3)
    assert (first.processed, first.stopped_because) == (0, "stop requested")
    second = processor.run(idle_timeout_s=3)
    assert second.processed == 1200
    assert set(stored_ids(pipeline)) == valid_ids


def test_a_tripped_guard_leaves_no_detector_state_so_a_rerun_stores_everything(pipeline):
    """The guard fires on validation alone, before the detector sees the batch: after the
    producer is fixed (here: the guard relaxed), the same Processor stores every valid event
    of that batch instead of taking them for duplicates."""
    import pytest

    from labkit.process.dlq import DLQGuardTripped

    producer = clients.kafka_producer(pipeline)
    for i in range(300):
        producer.send(pipeline.topics.telemetry, key=b"CAR_001", value=b"garbage %d" % i)
    producer.flush()
    producer.close()
    from labkit.simulate.faults import FaultRates

    messages = send_batch(pipeline, 200, seed=42, cars=1, rates=FaultRates.none())  # same partition, after the garbage
    group = f"g-{uuid.uuid4().hex[:6]}"
    processor = Processor(pipeline, ProcessorConfig(group_id=group, batch_size=500))
    with pytest.raises(DLQGuardTripped):
        processor.run(idle_timeout_s=3)
    assert processor.detector.cars == {}, "the detector saw nothing of the refused batch"
    relaxed = Processor(pipeline, ProcessorConfig(group_id=group, batch_size=500, max_invalid_ratio=None),
                        detector=processor.detector)
    stats = relaxed.run(idle_timeout_s=3)
    assert stats.duplicates == 0 and set(stored_ids(pipeline)) == {m.event_id for m in messages}


def rollups_against_readings(settings) -> list[str]:
    """Every stored rollup beside the same summary computed from the stored readings: the
    differences found (count, sum, min or max of a metric), as text."""
    from labkit.store import rollups

    with MongoClient(settings.mongodb_uri, tz_aware=True) as client:
        db = client[settings.mongodb_db]
        readings = list(db[settings.collections.telemetry].find())
        stored = {d["_id"]: d for d in db[settings.collections.rollups].find()}
    wrong = []
    for size in (10_000, 60_000):
        truth = {f"{car}:{size}:{row['_id']}": row
                 for car, rows in rollups.rows_from_readings(readings, size).items() for row in rows}
        missing = set(truth) - {key for key, d in stored.items() if d["size_ms"] == size}
        wrong += [f"{key}: no rollup" for key in sorted(missing)]
        for key, row in truth.items():
            doc = stored.get(key)
            if doc is None:
                continue
            if doc["count"] != row["count"]:
                wrong.append(f"{key}: count {doc['count']}, readings {row['count']}")
            for m in METRICS:
                mine, theirs = doc[m], {part: row[f"{m}_{part}"] for part in ("sum", "min", "max")}
                off_by = abs(mine["sum"] - theirs["sum"])
                if (mine["min"], mine["max"]) != (theirs["min"], theirs["max"]) or off_by > 1e-6 * max(1, abs(theirs["sum"])):
                    wrong.append(f"{key} {m}: {mine} vs readings {theirs}")
    return wrong


def test_rollups_equal_the_readings_after_a_restart_a_rewind_and_an_overlapping_batch(pipeline):
    # The processor rolls up from memory the buckets whose readings it stored itself, and
    # reads back the others: a batch read again (every reading refused as stored), and a
    # second batch whose readings share buckets with readings a previous run stored.
    group = f"g-{uuid.uuid4().hex[:6]}"
    send_batch(pipeline, 1200, seed=5, cars=6)
    run(pipeline, group)
    assert rollups_against_readings(pipeline) == []

    kafka_io.rewind_group(pipeline, group, pipeline.topics.telemetry,
                          {p: 0 for p in range(pipeline.telemetry_partitions)})
    again = run(pipeline, group)
    assert again.stored == 0 and again.duplicates > 0
    assert rollups_against_readings(pipeline) == []

    send_batch(pipeline, 1200, seed=6, cars=6)  # same cars, over the same minutes
    later = run(pipeline, group)
    assert later.stored > 0
    assert rollups_against_readings(pipeline) == []
