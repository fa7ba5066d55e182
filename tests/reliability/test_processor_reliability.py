"""The processor survives crashes, a database outage and hostile input without losing or
duplicating anything."""

import json
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from labkit.ops import clients, infra, kafka_io
from labkit.ops.infra import local
from labkit.ops.infra.readiness import mongodb_ready
from labkit.ops.waiting import wait_until
from labkit.process.dlq import DLQGuardTripped
from labkit.process.processor import Processor, ProcessorConfig
from tests.pipeline_helpers import committed_offsets, distinct_sources, dlq_records, expected, pipeline_env, send_batch, stored_ids


@pytest.mark.timeout(720)  # its own bounded waits add up to ~570 s (three kills of up to 90 s, a 300 s final run)
def test_sigkill_mid_stream_several_times_loses_and_duplicates_nothing(pipeline):
    messages = send_batch(pipeline, 12_000, seed=11)
    valid_ids, invalid_count = expected(messages)
    group = f"g-{uuid.uuid4().hex[:6]}"
    command = [sys.executable, "-m", "labkit", "process", "--group", group, "--batch-size", "200"]
    kills, stored_before = 0, 0
    for pause in (0.1, 0.4, 0.25):
        process = subprocess.Popen(command, env=pipeline_env(pipeline), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        # Kill it mid-stream: once it has visibly made progress, not at a fixed time.
        deadline = time.monotonic() + 90
        while len(stored_ids(pipeline)) < stored_before + 500 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(pause)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)  # no chance to commit, flush or close
            kills += 1
        process.wait()
        stored_before = len(stored_ids(pipeline))
    assert kills == 3
    partial = len(stored_ids(pipeline))
    assert 0 < partial < len(valid_ids), "the kills really happened mid-stream"

    final = subprocess.run(command + ["--idle-timeout", "5"], env=pipeline_env(pipeline),
                           capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    ids = stored_ids(pipeline)
    assert len(ids) == len(valid_ids) and set(ids) == valid_ids
    assert len(distinct_sources(dlq_records(pipeline))) == invalid_count
    assert committed_offsets(pipeline, group) == kafka_io.end_offsets(pipeline, pipeline.topics.telemetry)


@pytest.mark.timeout(480)  # its own bounded waits add up to ~340 s (60 + 10 + 90 + 180)
def test_mongodb_outage_of_ten_seconds_mid_stream_loses_nothing(pipeline):
    assert infra.mode(pipeline) == "local"
    mongo = next(s for s in local.services(pipeline) if s.name == "mongo")
    messages = send_batch(pipeline, 8000, seed=12)
    valid_ids, invalid_count = expected(messages)
    processor = Processor(pipeline, ProcessorConfig(group_id=f"g-{uuid.uuid4().hex[:6]}", batch_size=200))
    result = {}
    # While MongoDB is down the processor retries inside the batch, so the outage never counts
    # as idle time; the run ends 8 s after it has read everything.
    worker = threading.Thread(target=lambda: result.update(stats=processor.run(idle_timeout_s=8)))
    worker.start()
    try:
        wait_until(lambda: len(stored_ids(pipeline)) > 0, 60, what="the first stored batch")  # mid-stream
        assert local.stop(mongo, pipeline.lab_home), "MongoDB was running and is now stopped"
        time.sleep(10)
        assert worker.is_alive(), "the processor waits for MongoDB instead of giving up"
    finally:
        local.start(mongo, pipeline, pipeline.lab_home)
        local.wait_ready(mongo, pipeline.lab_home, lambda: mongodb_ready(pipeline))
    worker.join(timeout=180)
    assert not worker.is_alive()
    stats = result["stats"]
    assert stats.retries > 0, "it did meet the outage"
    ids = stored_ids(pipeline)
    assert len(ids) == len(valid_ids) and set(ids) == valid_ids
    assert len(distinct_sources(dlq_records(pipeline))) == invalid_count


HOSTILE = [
    b"", b" ", b"\n", b"\x00" * 64, b"\xef\xbb\xbf{}", bytes(range(256)), b"\xff" * 1000,
    b"{" * 3000, b"[" * 3000 + b"]" * 3000, b'{"a":' * 2000 + b"1" + b"}" * 2000,
    b"9" * 10_000, b"-0", b"1e999", b"NaN", b'{"speed": NaN}', b'{"speed": -Infinity}',
    b"true", b"false", b"null", b'"\\ud800"', b"[]", b"{}", b'{"car_id": null}',
    b'{"car_id": "CAR_001", "car_id": "CAR_002"}', b"A" * 20_000,
    json.dumps({"car_id": "CAR_001", "x": "y" * 17_000}).encode(),
    b"<telemetry><speed>50</speed></telemetry>", b"speed=50&rpm=2000", b"DROP TABLE car_telemetry;",
    b'{"$where": "sleep(1000)"}', b'{"car_id": {"$gt": ""}}', "{\"car_id\": \"🚗\"}".encode(),
]


def hostile_variants(valid: bytes) -> list[bytes]:
    """Near-misses built from a valid event: the kind that slips past loose validators."""
    event = json.loads(valid)
    out = []
    for field, bad in [("speed", "59.8"), ("speed", True), ("rpm", None), ("rpm", [2000]), ("seq", 1.5),
                       ("seq", -1), ("latitude", 1e308), ("timestamp", "2999-01-01T00:00:00+00:00"),
                       ("timestamp", "2026-02-30T00:00:00+00:00"), ("timestamp", "2026-02-25T21:28:17"),
                       ("event_id", {"$ne": None}), ("car_id", "CAR_001; DROP"), ("engine_temp", -273.15)]:
        out.append(json.dumps(dict(event, **{field: bad})).encode())
    return out


def test_hostile_corpus_goes_to_the_dlq_with_reasons_and_the_processor_lives(pipeline):
    from labkit.simulate.faults import FaultRates

    messages = send_batch(pipeline, 400, seed=13, rates=FaultRates.none())
    corpus = HOSTILE + hostile_variants(messages[0].value)
    producer = clients.kafka_producer(pipeline, max_request_size=2_000_000)
    for value in corpus:
        producer.send(pipeline.topics.telemetry, key=b"CAR_666", value=value).get(timeout=15)
    producer.close()

    stats = Processor(pipeline, ProcessorConfig(group_id=f"g-{uuid.uuid4().hex[:6]}")).run(idle_timeout_s=3)
    assert stats.processed == 400 + len(corpus)
    assert stats.invalid == len(corpus)
    assert set(stored_ids(pipeline)) == {m.event_id for m in messages}
    records = dlq_records(pipeline)
    assert len(records) == len(corpus)
    assert all(r["reason"] and r["detail"] for r in records)
    from labkit.process import dlq

    assert sorted(dlq.original_bytes(r) for r in records) == sorted(corpus)  # byte for byte


def test_dlq_guard_stops_a_broken_producer_before_writing_or_committing(pipeline):
    producer = clients.kafka_producer(pipeline)
    for i in range(600):
        producer.send(pipeline.topics.telemetry, key=b"CAR_001", value=b"garbage %d" % i)
    producer.flush()
    producer.close()
    group = f"g-{uuid.uuid4().hex[:6]}"
    processor = Processor(pipeline, ProcessorConfig(group_id=group, batch_size=250))
    with pytest.raises(DLQGuardTripped, match="of the last"):
        processor.run(idle_timeout_s=3)
    # The first batch (250 < guard_min... no: 250 >= 200) trips the guard before any write.
    assert dlq_records(pipeline) == []
    assert all(offset is None for offset in committed_offsets(pipeline, group).values())
