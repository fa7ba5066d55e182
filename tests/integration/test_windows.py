"""The processor's event-time windows against the real broker and MongoDB-wire server:
one car's stream with a late event and a too-late one, as labkit.process.windows describes."""

import dataclasses
import json
import uuid
from datetime import datetime, timedelta, timezone

from pymongo import MongoClient

from labkit.contract import to_ms
from labkit.ops import clients
from labkit.ops.infra.topics import ensure_topics
from labkit.process.processor import Processor, ProcessorConfig
from labkit.store import queries


def event(car: str, at: datetime, n: int) -> dict:
    return {"car_id": car, "event_id": f"{car}-w{n}", "seq": n + 1, "timestamp": at.isoformat(), "speed": 50.0,
            "rpm": 2000, "engine_temp": 90.0, "fuel_level": 50.0, "latitude": 52.5, "longitude": 13.4}


def test_a_window_is_emitted_revised_and_final_and_too_late_readings_are_stored_and_recorded(pipeline):
    car = f"CAR_{uuid.uuid4().int % 900_000 + 100_000}"
    t0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=10)
    t0 -= timedelta(seconds=t0.second % 10)  # a window starts at t0
    # 5: late, within the lateness; 3: too late; -600: ten minutes older than the watermark
    seconds = [*range(30), 5, *range(30, 100), 3, -600]
    # One partition, as in notebook 10: the watermark follows this car's stream alone (the
    # holding back by other partitions is tested in tests/unit/test_windows_pure.py).
    one = pipeline.topics.telemetry.replace("telemetry", "one-partition")
    ensure_topics(pipeline, {one: 1})
    pipeline = pipeline.replace(topics=dataclasses.replace(pipeline.topics, telemetry=one))
    producer = clients.kafka_producer(pipeline)
    for n, s in enumerate(seconds):
        producer.send(pipeline.topics.telemetry, key=car.encode(),
                      value=json.dumps(event(car, t0 + timedelta(seconds=s), n)).encode())
    producer.flush()
    producer.close()

    config = ProcessorConfig(group_id=f"g-{uuid.uuid4().hex[:6]}", batch_size=10, watermark_delay_ms=1_000,
                             allowed_lateness_ms=20_000)
    stats = Processor(pipeline, config).run(idle_timeout_s=3)

    assert (stats.valid, stats.late, stats.too_late) == (len(seconds), 1, 2)
    assert stats.stored == stats.valid  # valid readings are never hidden
    with MongoClient(pipeline.mongodb_uri, tz_aware=True) as client:
        db = client[pipeline.mongodb_db]
        first = queries.event_windows(db, pipeline, car, t0, t0 + timedelta(seconds=10))
        aside = list(db[pipeline.collections.too_late].find({"car_id": car}))
        stored = db[pipeline.collections.telemetry].count_documents({"car_id": car})
        fleet = queries.event_windows(db, pipeline, "fleet", t0, t0 + timedelta(seconds=10))
        rollup = db[pipeline.collections.rollups].find_one({"car_id": car, "size_ms": 10_000, "start_ms": to_ms(t0)})
        old = t0 - timedelta(seconds=600)
        old_rollup = db[pipeline.collections.rollups].find_one({"car_id": car, "size_ms": 10_000, "start_ms": to_ms(old)})
        old_series = queries.series(db, pipeline, car, "speed", old, old + timedelta(seconds=10), 10_000)
    assert [(h["state"], h["revision"], h["count"]) for h in first[0]["history"]] == [
        ("emitted", 0, 10), ("revised", 1, 11), ("final", 1, 11)]
    assert (first[0]["state"], first[0]["count"]) == ("final", 11)
    assert sorted(a["_id"] for a in aside) == sorted(f"{car}-w{len(seconds) - n}" for n in (1, 2))
    assert {a["window_start_ms"] for a in aside} == {to_ms(t0), to_ms(t0 - timedelta(seconds=600))}
    assert stored == len(seconds)  # the too-late readings are readings
    # The final window stays as published (11); the rollups, rebuilt from the stored
    # readings, converge on the truth: the too-late reading of [t0, t0 + 10 s) is in them.
    assert rollup["count"] == first[0]["count"] + 1 == 12
    assert old_rollup["count"] == 1 and [p["count"] for p in old_series] == [1]
    assert fleet and fleet[0]["count"] == 11  # the fleet window counts every car's events
