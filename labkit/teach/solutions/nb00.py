"""Solutions for notebook 00 (start here)."""

from __future__ import annotations

from labkit.config import Settings


def telemetry_partition_count(settings: Settings) -> int:
    """Exercise 00.1: how many partitions does the telemetry topic have?"""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, **settings.kafka_auth)
    try:
        return len(consumer.partitions_for_topic(settings.topics.telemetry))
    finally:
        consumer.close()


def read_at(consumer, topic: str, partition: int, offset: int) -> bytes:
    """Exercise 00.2: the value at (topic, partition, offset), read without a group."""
    from kafka import TopicPartition

    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    consumer.seek(tp, offset)
    for _ in range(10):  # bounded: ten polls of a second at most
        batch = consumer.poll(timeout_ms=1000).get(tp)
        if batch:
            return batch[0].value
    raise LookupError(f"nothing at {topic}/{partition}/{offset}")


def count_between(collection, start, end) -> int:
    """Exercise 00.3: the documents with start <= timestamp < end. The aware datetimes go to the
    server as they are: pymongo turns each into a BSON date, the same instant in UTC."""
    return collection.count_documents({"timestamp": {"$gte": start, "$lt": end}})
