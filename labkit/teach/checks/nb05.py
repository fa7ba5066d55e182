"""Checks for notebook 05's exercises (read dashboards)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from labkit.config import Settings
from labkit.ops import clients, kafka_io
from labkit.teach import exercises


def anomalies_per_type(func, settings: Settings, start: datetime, end: datetime) -> bool:
    """05.1: {type: count} over [start, end), compared with a count made in Python."""
    client = clients.mongo_client(settings)
    try:
        db, name = client[settings.mongodb_db], settings.collections.anomalies
        expected = dict(Counter(a["type"] for a in db[name].find({"timestamp": {"$gte": start, "$lt": end}}, {"type": 1})))
        return exercises.check("05.1 anomalies per type", exercises.attempt(func, db, name, start, end), expected,
                               hint="rows = db[collection].aggregate([{'$match': {'timestamp': {'$gte': start, '$lt': end}}}, "
                                    "{'$group': {'_id': '$type', 'count': {'$sum': 1}}}]); then {r['_id']: r['count'] ...}")
    finally:
        client.close()


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
    expected = sum(kafka_io.consumer_lag(settings, group, topic).values())
    return exercises.check("05.2 total lag", answer, expected,
                           hint="tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]; "
                                "lag = sum(end - (consumer.committed(tp) or 0) for tp, end in consumer.end_offsets(tps).items())")
