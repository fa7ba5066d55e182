"""Checks for notebook 07's exercises (read dashboards)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from labkit.config import Settings
from labkit.ops import clients, kafka_io
from labkit.ops.waiting import wait_until
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


#: 07.2's own topic: messages per partition, and the group's committed offset (None: never committed).
LAG_TOPIC_MESSAGES = {0: 5, 1: 3, 2: 0, 3: 2}
LAG_COMMITTED = {0: 2, 1: 3, 2: None, 3: None}


@exercises.graded(LAG)
def total_lag(func, settings: Settings, group: str, topic: str) -> bool:
    """07.2: the student's lag equals the broker's end offsets minus the group's commits, on a
    topic of the check's own (`topic` + ".exercise-07-2", made fresh: the notebook's topic is
    left as it is) where one partition is behind, one is caught up, one is empty and one was
    never committed (it counts whole), so that `return 0` and "end offsets only" cannot pass."""
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    from labkit.ops.infra.topics import ensure_topics

    own_topic, own_group = f"{topic}.exercise-07-2", f"{group}.exercise-07-2"
    _delete_topic(settings, own_topic)
    ensure_topics(settings, {own_topic: len(LAG_TOPIC_MESSAGES)})
    producer = clients.kafka_producer(settings)
    for partition, count in LAG_TOPIC_MESSAGES.items():
        for _ in range(count):
            producer.send(own_topic, partition=partition, value=b'{"note": "waiting for a processor"}')
    producer.flush()
    producer.close()
    committer = clients.kafka_consumer(settings, group_id=own_group)
    try:
        committer.commit({TopicPartition(own_topic, p): OffsetAndMetadata(offset, "", -1)
                          for p, offset in LAG_COMMITTED.items() if offset is not None})
    finally:
        committer.close(autocommit=False)
    consumer = clients.kafka_consumer(settings, group_id=own_group)
    try:
        answer = exercises.attempt(func, consumer, own_topic)
    finally:
        consumer.close(autocommit=False)
    if not exercises.expect_type(LAG, answer, exercises.of_type(float, what="a number (the lag summed over partitions)")):
        return False
    expected = sum(kafka_io.consumer_lag(settings, own_group, own_topic).values())
    return exercises.check(LAG, answer, expected)


def _delete_topic(settings: Settings, topic: str) -> None:
    """Delete `topic` if it exists (a rerun of the check starts from nothing)."""
    admin = clients.kafka_admin(settings)
    try:
        if topic in admin.list_topics():
            admin.delete_topics([topic])
            wait_until(lambda: topic not in admin.list_topics(), 30, 0.2, what=f"topic {topic} to be deleted")
    finally:
        admin.close()
