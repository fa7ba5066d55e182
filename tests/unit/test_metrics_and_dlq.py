import base64
import json
from collections import Counter
from datetime import datetime, timezone

from labkit.process import dlq
from labkit.process.metrics import BatchCounts, WindowedMetrics
from labkit.process.validation import validate

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def counts(processed=10, valid=8, invalid=2, latency=5.0):
    return BatchCounts(processed=processed, valid=valid, stored=valid,
                       invalid_by_reason=Counter({"range:speed": invalid}),
                       anomalies_by_type=Counter({"overspeed": 1}), latency_ms=latency)


def test_batches_in_one_window_become_one_record():
    m = WindowedMetrics("p1", window_s=10)
    assert m.add(counts(), now_ms=1_000) == []
    assert m.add(counts(latency=15.0), now_ms=9_999) == []
    [record] = m.add(counts(), now_ms=10_000)  # the next window opens, the first closes
    assert record["_id"] == "p1:0" and record["window_start_ms"] == 0
    assert (record["processed"], record["valid"], record["invalid"]) == (20, 16, 4)
    assert record["invalid_by_reason"] == {"range:speed": 4}
    assert record["anomalies_by_type"] == {"overspeed": 2}
    assert record["batches"] == 2 and record["batch_latency_ms_avg"] == 10.0 and record["batch_latency_ms_max"] == 15.0
    [last] = m.flush()
    assert last["window_start_ms"] == 10_000 and last["processed"] == 10
    assert m.totals.processed == 30


def test_roll_closes_an_idle_window_and_ids_are_stable():
    m = WindowedMetrics("p1", window_s=10)
    m.add(counts(), now_ms=21_000)
    assert m.roll(25_000) == []
    [record] = m.roll(31_000)
    assert record["_id"] == "p1:20000"
    assert m.flush() == []


def test_dlq_envelope_keeps_text_as_text_and_headers_match():
    raw = b'{"car_id": "CAR_001", "speed": "fast"}'
    verdict = validate(raw, NOW)
    value, headers = dlq.envelope(verdict, dlq.Source("car.telemetry.v1", 2, 77, b"CAR_001"), raw, NOW)
    record = dlq.parse(value)
    assert record["reason"] == verdict.reason and record["reason_class"] == "missing_field"
    assert record["source"] == {"topic": "car.telemetry.v1", "partition": 2, "offset": 77, "key": "CAR_001"}
    assert record["original"]["encoding"] == "utf-8"
    assert dlq.original_bytes(record) == raw
    h = dict(headers)
    assert h["dlq.reason"] == verdict.reason.encode() and h["dlq.source.offset"] == b"77"
    assert record["failed_at"].startswith("2026-06-01T12:00:00")


def test_dlq_envelope_keeps_binary_exactly():
    raw = b"\xff\xfe\x00garbage\x80"
    value, _ = dlq.envelope(validate(raw, NOW), dlq.Source("t", 0, 1, None), raw, NOW)
    record = json.loads(value)
    assert record["original"] == {"encoding": "base64", "data": base64.b64encode(raw).decode()}
    assert dlq.original_bytes(record) == raw and record["source"]["key"] is None


def test_parse_rejects_foreign_values():
    assert dlq.parse(b"not json") is None
    assert dlq.parse(b'{"a": 1}') is None


def test_a_window_keeps_the_last_lag_of_each_partition():
    m = WindowedMetrics("p1", window_s=10)
    m.add(BatchCounts(processed=1), now_ms=1_000, lag=9, lag_by_partition={0: 4, 1: 5})
    m.add(BatchCounts(processed=1), now_ms=2_000, lag=4, lag_by_partition={1: 0})  # no figure for partition 0 this time
    record = m.flush()[0]
    assert record["consumer_lag"] == 4 and record["lag_by_partition"] == {"0": 4, "1": 0}
