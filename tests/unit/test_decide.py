"""`decide`: one batch's meaning, computed without I/O and without fakes: plain records in,
a Decision out."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from labkit.config import Settings
from labkit.process.decide import decide
from labkit.process.detectors import AnomalyDetector
from labkit.process.validation import validate
from labkit.process.windows import EventTimeWindows
from tests.fakes import Record

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
TOPICS = Settings().topics


def event(seq: int, at: datetime, car: str = "CAR_001", **changes) -> bytes:
    body = {"car_id": car, "timestamp": at.isoformat(), "speed": 50.0, "rpm": 2000.0, "engine_temp": 90.0,
            "fuel_level": 60.0, "latitude": 52.5, "longitude": 13.4, "event_id": f"{car}-{seq}", "seq": seq}
    return json.dumps({**body, **changes}).encode()


def judge(values: list[bytes], windows=None, detector=None, start_offset: int = 0):
    records = [Record(TOPICS.telemetry, 0, start_offset + i, b"CAR_001", v) for i, v in enumerate(values)]
    windows = windows or EventTimeWindows(size_ms=10_000, delay_ms=0, allowed_lateness_ms=10_000)
    windows.assign([0], 0)
    return decide(records, [validate(r.value, NOW) for r in records], detector or AnomalyDetector(), windows, NOW)


def test_each_message_goes_to_exactly_one_place():
    t = NOW - timedelta(seconds=30)
    d = judge([event(1, t), b"not json", event(2, t + timedelta(seconds=1), speed=999), event(1, t),
               event(3, t + timedelta(seconds=2), speed=200)])
    assert [e["event_id"] for e in d.readings] == ["CAR_001-1", "CAR_001-3"]
    assert d.counts.duplicates == 1 and d.counts.valid == 3 and d.counts.processed == 5
    assert dict(d.counts.invalid_by_reason) == {"not_json": 1, "range:speed": 1}
    assert [json.loads(v)["source"]["offset"] for v, _ in d.dead] == [1, 2]
    assert [a.type for a in d.anomalies] == ["overspeed"] and d.counts.anomalies_by_type == {"overspeed": 1}


def test_the_outgoing_records_are_the_dead_letters_then_the_anomalies_keyed_by_car():
    t = NOW - timedelta(seconds=30)
    d = judge([b"{}", event(1, t, speed=200)])
    out = d.outgoing(TOPICS)
    assert [o[0] for o in out] == [TOPICS.dlq, TOPICS.anomaly]
    assert out[1][3] == b"CAR_001" and dict(out[1][2]) == {"anomaly.type": b"overspeed"}
    [document] = d.dead_letter_documents()
    assert document["reason"] == json.loads(d.dead[0][0])["reason"] and document["reason"].startswith("missing_field")


def test_a_reading_ten_minutes_behind_the_watermark_is_stored_and_recorded_against_its_final_window():
    windows = EventTimeWindows(size_ms=10_000, delay_ms=0, allowed_lateness_ms=10_000)
    judge([event(i, NOW - timedelta(seconds=60 - i)) for i in range(1, 60)], windows=windows)
    old_at = NOW - timedelta(minutes=10, seconds=3)
    d = judge([event(100, old_at)], windows=windows, start_offset=59)
    assert [e["event_id"] for e in d.readings] == ["CAR_001-100"]  # stored like any reading
    [late] = d.too_late
    old_ms = int(old_at.timestamp() * 1000)
    assert late["_id"] == "CAR_001-100" and late["window_start_ms"] == old_ms - old_ms % 10_000
    assert late["watermark_ms"] >= late["window_start_ms"] + 20_000  # the window was final
    assert d.counts.too_late == 1 and not d.emissions  # no final window is published again


def test_a_redelivered_event_the_detector_saw_is_a_duplicate_not_a_reading():
    detector = AnomalyDetector()
    t = NOW - timedelta(seconds=30)
    judge([event(1, t)], detector=detector)
    d = judge([event(1, t)], detector=detector)
    assert d.readings == [] and d.counts.duplicates == 1
