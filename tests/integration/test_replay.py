"""DLQ replay: dry run writes nothing, a relaxed rule re-ingests, replaying twice stores nothing twice."""

import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

from pymongo import MongoClient

from labkit import contract
from labkit.ops import clients
from labkit.process.processor import Processor, ProcessorConfig
from labkit.process.replay import replay
from labkit.simulate.faults import FaultRates
from tests.pipeline_helpers import dlq_records, pipeline_env, send_batch, stored_ids


def test_replay_after_relaxing_a_rule(pipeline):
    messages = send_batch(pipeline, 300, seed=21, rates=FaultRates.none())
    # Ten fast but real events that today's speed limit (260) rejects.
    producer = clients.kafka_producer(pipeline)
    fast_ids = []
    for m in messages[:10]:
        event = json.loads(m.value)
        event.update(speed=275.0, event_id=event["event_id"] + "-fast")
        fast_ids.append(event["event_id"])
        producer.send(pipeline.topics.telemetry, key=m.key, value=json.dumps(event).encode())
    producer.send(pipeline.topics.telemetry, key=b"CAR_001", value=b"not json at all")
    producer.flush()
    producer.close()
    Processor(pipeline, ProcessorConfig(group_id=f"g-{uuid.uuid4().hex[:6]}")).run(idle_timeout_s=3)
    before = set(stored_ids(pipeline))
    assert not before & set(fast_ids)

    unchanged = replay(pipeline, dry_run=True)
    assert (unchanged.examined, unchanged.now_valid) == (11, 0)

    relaxed = dict(contract.RANGES, speed=(0.0, 300.0))
    dry = replay(pipeline, reasons=["range"], ranges=relaxed, dry_run=True)
    assert (dry.matched, dry.now_valid, dry.inserted) == (10, 10, 0)
    assert dry.anomalies >= 10 and not _anomaly_ids(pipeline) & {f"{i}:overspeed" for i in fast_ids}
    assert set(stored_ids(pipeline)) == before  # a dry run writes nothing

    done = replay(pipeline, reasons=["range:speed"], ranges=relaxed, dry_run=False)
    assert (done.now_valid, done.inserted, done.already_stored) == (10, 10, 0)
    assert done.anomalies >= 10  # each replayed event is an overspeed, as the processor would find
    assert {f"{event_id}:overspeed" for event_id in fast_ids} <= _anomaly_ids(pipeline)
    assert set(stored_ids(pipeline)) == before | set(fast_ids)

    again = replay(pipeline, reasons=["range:speed"], ranges=relaxed, dry_run=False)
    assert (again.inserted, again.already_stored, again.anomalies) == (0, 10, 0)
    assert len(stored_ids(pipeline)) == len(before) + 10
    assert len(dlq_records(pipeline)) == 11  # replay never deletes: the DLQ keeps its history


def test_time_filter_and_cli(pipeline):
    send_batch(pipeline, 200, seed=22, rates=FaultRates(invalid=0.2))
    Processor(pipeline, ProcessorConfig(group_id=f"g-{uuid.uuid4().hex[:6]}", max_invalid_ratio=None)).run(idle_timeout_s=3)
    total = len(dlq_records(pipeline))
    assert total > 10
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    assert replay(pipeline, since=future).matched == 0
    assert replay(pipeline, until=future).matched == total
    result = subprocess.run([sys.executable, "-m", "labkit", "dlq", "replay", "--dry-run", "--reason", "not_json"],
                            env=pipeline_env(pipeline), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("DRY RUN: examined")
    bad = subprocess.run([sys.executable, "-m", "labkit", "dlq", "replay", "--since", "yesterday"],
                         env=pipeline_env(pipeline), capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "ISO-8601" in bad.stderr


def _anomaly_ids(settings) -> set[str]:
    client = MongoClient(settings.mongodb_uri, serverSelectionTimeoutMS=5000)
    try:
        return {d["_id"] for d in client[settings.mongodb_db][settings.collections.anomalies].find({}, {"_id": 1})}
    finally:
        client.close()
