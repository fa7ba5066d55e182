"""Checks for notebook 05's exercises (read dashboards)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from labkit.config import Settings
from labkit.ops import clients, kafka_io
from labkit.teach import exercises

PER_TYPE = "05.1 anomalies per type"
LAG = "05.2 total lag"

HINTS = exercises.register_hints({
    PER_TYPE: "one aggregation: $match the time range, $group by type counting with {'$sum': 1}, "
              "then turn the rows into a dict",
    LAG: "a partition's lag is its end offset minus the group's committed offset (None: nothing committed "
         "yet, so all of it): consumer.end_offsets() and consumer.committed(), over partitions_for_topic()",
})

COUNTS = exercises.dict_of(exercises.ANYTHING, exercises.INTEGER, "a dict {anomaly type: count}")


@exercises.graded(PER_TYPE)
def anomalies_per_type(func, settings: Settings, start: datetime, end: datetime) -> bool:
    """05.1: {type: count} over [start, end), compared with a count made in Python."""
    client = clients.mongo_client(settings)
    try:
        db, name = client[settings.mongodb_db], settings.collections.anomalies
        expected = dict(Counter(a["type"] for a in db[name].find({"timestamp": {"$gte": start, "$lt": end}}, {"type": 1})))
        answer = exercises.attempt(func, db, name, start, end)
    finally:
        client.close()
    if not exercises.expect_type(PER_TYPE, answer, COUNTS):
        return False
    return exercises.check(PER_TYPE, dict(answer), expected)


@exercises.graded(LAG)
def total_lag(func, settings: Settings, group: str, topic: str) -> bool:
    """05.2: the student's lag equals the broker's end offsets minus the group's commits."""
    # Make some lag first, so that `return 0` cannot pass: messages nobody has processed.
    producer = clients.kafka_producer(settings)
    for i in range(7):
        producer.send(topic, key=f"CAR_{i + 1:03d}".encode(), value=b'{"note": "waiting for a processor"}')
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
