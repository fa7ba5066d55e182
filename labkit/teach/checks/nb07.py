"""Checks for notebook 07's exercises (read dashboards)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from labkit.config import Settings
from labkit.ops import clients, kafka_io
from labkit.teach import exercises

PER_TYPE = "07.1 anomalies per type"
LAG = "07.2 total lag"

HINTS = exercises.register_hints({
    PER_TYPE: "let the database count: an aggregation that keeps the range and groups by the anomaly type, "
              "counting each document once ($sum), gives one row per type to turn into a dict",
    LAG: "a partition's lag is its end offset minus the group's committed offset (None: nothing committed "
         "yet, so all of it): consumer.end_offsets() and consumer.committed(), over partitions_for_topic()",
})

COUNTS = exercises.dict_of(exercises.ANYTHING, exercises.INTEGER, "a dict {anomaly type: count}")


def _scratch_anomalies(start: datetime, end: datetime) -> list[dict]:
    """Anomalies inside [start, end) and just outside it: before `start`, exactly at `end`
    (which `$lt` leaves out) and after, with one type found only outside, so an aggregation
    without the range filter, or with `$lte`, gives other counts."""
    inside = [("overspeed", 5), ("engine_overheat", 3), ("low_fuel", 1)]
    outside = [("overspeed", start - timedelta(seconds=1)), ("engine_overheat", end), ("gps_jump", end),
               ("low_fuel", end + timedelta(minutes=1)), ("overspeed", start - timedelta(hours=1))]
    step = (end - start) / 20
    docs = [{"type": kind, "car_id": f"CAR_{i % 3 + 1:03d}", "timestamp": start + i * step}
            for kind, count in inside for i in range(count)]
    docs += [{"type": kind, "car_id": "CAR_001", "timestamp": moment} for kind, moment in outside]
    return docs


@exercises.graded(PER_TYPE)
def anomalies_per_type(func, settings: Settings, start: datetime, end: datetime) -> bool:
    """07.1: {type: count} over [start, end), on a scratch collection the check fills with
    anomalies inside the range and just outside it; compared with a count made in Python."""
    client = clients.mongo_client(settings)
    try:
        db, name = client[settings.mongodb_db], f"{settings.collections.anomalies}_check_07_1"
        docs = _scratch_anomalies(start, end)
        db[name].drop()
        db[name].insert_many([dict(d) for d in docs])
        expected = dict(Counter(d["type"] for d in docs if start <= d["timestamp"] < end))
        answer = exercises.attempt(func, db, name, start, end)
        db[name].drop()
    finally:
        client.close()
    if not exercises.expect_type(PER_TYPE, answer, COUNTS):
        return False
    return exercises.check(PER_TYPE, dict(answer), expected)


@exercises.graded(LAG)
def total_lag(func, settings: Settings, group: str, topic: str) -> bool:
    """07.2: the student's lag equals the broker's end offsets minus the group's commits."""
    # Make some lag first, so that `return 0` cannot pass: messages nobody has processed, two in
    # every partition, so a partition the group never committed has some (it counts whole).
    producer = clients.kafka_producer(settings)
    for partition in sorted(kafka_io.end_offsets(settings, topic)):
        for _ in range(2):
            producer.send(topic, partition=partition, value=b'{"note": "waiting for a processor"}')
    producer.flush()
    producer.close()
    consumer = clients.kafka_consumer(settings, group_id=group)
    try:
        answer = exercises.attempt(func, consumer, topic)
    finally:
        consumer.close(autocommit=False)
    if not exercises.expect_type(LAG, answer, exercises.of_type(float, what="a number (the lag summed over partitions)")):
        return False
    expected = sum(kafka_io.consumer_lag(settings, group, topic).values())
    return exercises.check(LAG, answer, expected)
