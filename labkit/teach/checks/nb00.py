"""Checks for notebook 00's exercises (start here)."""

from __future__ import annotations

from labkit.config import Settings
from labkit.ops import clients
from labkit.ops.kafka_io import Record
from labkit.teach import exercises


def read_at(func, settings: Settings, record: Record) -> bool:
    """00.2: reading the address of a message already read back gives its bytes."""
    consumer = clients.kafka_consumer(settings)
    try:
        answer = exercises.attempt(func, consumer, record.topic, record.partition, record.offset)
    finally:
        consumer.close()
    return exercises.check("00.2 read one message by its address", answer, record.value,
                           hint="tp = TopicPartition(topic, partition); consumer.assign([tp]); consumer.seek(tp, offset); "
                                "then poll(timeout_ms=1000) until tp's list is not empty and return its first .value")
