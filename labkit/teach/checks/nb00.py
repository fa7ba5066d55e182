"""Checks for notebook 00's exercises (start here)."""

from __future__ import annotations

from labkit.config import Settings
from labkit.ops import clients
from labkit.ops.kafka_io import Record
from labkit.teach import exercises

PARTITIONS = "00.1 partitions"  # checked in the notebook itself: exercises.check(...)
READ_AT = "00.2 read one message by its address"

HINTS = exercises.register_hints({
    PARTITIONS: "a KafkaConsumer made with bootstrap_servers=settings.kafka_bootstrap_servers can "
                "list a topic's partitions; close it when done",
    READ_AT: "no group: you point the consumer yourself with assign() and seek(), then poll() until "
             "that TopicPartition's list of records is not empty; a record's .value is its bytes",
})


@exercises.graded(READ_AT)
def read_at(func, settings: Settings, record: Record) -> bool:
    """00.2: reading the address of a message already read back gives its bytes."""
    consumer = clients.kafka_consumer(settings)
    try:
        answer = exercises.attempt(func, consumer, record.topic, record.partition, record.offset)
    finally:
        consumer.close()
    if not exercises.expect_type(READ_AT, answer, exercises.of_type(bytes, what="bytes (the record's .value)")):
        return False
    return exercises.check(READ_AT, answer, record.value)
