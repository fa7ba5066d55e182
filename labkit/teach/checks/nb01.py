"""Checks for notebook 01's exercises (simulate)."""

from __future__ import annotations

import json

from labkit.config import Settings
from labkit.ops import clients, kafka_io
from labkit.teach import exercises


def send_keyed(send, settings: Settings, topic: str, events: list[dict]) -> bool:
    """01.1: every returned (partition, offset) holds that event, in its key's partition."""
    producer = clients.kafka_producer(settings)
    try:
        where = exercises.attempt(send, producer, topic, events)
    finally:
        producer.close()
    if exercises.gave_up(where):
        return exercises.check("01.1 send and confirm", where, None)
    partitions = len(kafka_io.end_offsets(settings, topic))
    answer, expected = [], []
    for event, spot in zip(events, list(where) if isinstance(where, (list, tuple)) else []):
        partition, offset = spot
        [back] = kafka_io.read_topic(settings, topic, max_messages=1, partitions=[partition],
                                     start_offsets={partition: offset}) or [None]
        answer.append({"partition": partition, "same event there": back is not None and json.loads(back.value) == event})
        expected.append({"partition": kafka_io.partition_for_key(event["car_id"].encode(), partitions),
                         "same event there": True})
    if len(answer) != len(events):
        return exercises.check("01.1 send and confirm", where, [(0, 0)] * len(events),
                               hint="return one (metadata.partition, metadata.offset) per event")
    return exercises.check("01.1 send and confirm", answer, expected,
                           hint="future = producer.send(topic, key=..., value=json.dumps(event).encode()); "
                                "metadata = future.get(timeout=10) gives .partition and .offset")


def negative_speed(fault, example: dict) -> bool:
    """01.2: JSON bytes, speed < 0, every other field unchanged."""
    produced = exercises.attempt(fault, dict(example))
    if exercises.gave_up(produced):
        return exercises.check("01.2 negative speed fault", produced, None)
    if not isinstance(produced, bytes):
        return exercises.check("01.2 negative speed fault", type(produced).__name__, "bytes",
                               hint="json.dumps(...) gives text; .encode() turns it into bytes")
    back = json.loads(produced)
    def others(event: dict) -> dict:
        return {k: v for k, v in event.items() if k != "speed"}

    answer = {"speed is negative": back.get("speed", 0) < 0, "other fields unchanged": others(back) == others(example)}
    return exercises.check("01.2 negative speed fault", answer, {"speed is negative": True, "other fields unchanged": True},
                           hint="copy the event with dict(event, speed=-abs(event['speed']) - 1)")


def count_per_partition(count, settings: Settings, topic: str) -> bool:
    """01.3: the counts equal the end offsets (a fresh topic starts at offset 0)."""
    consumer = clients.kafka_consumer(settings)
    try:
        answer = exercises.attempt(count, consumer, topic)
    finally:
        consumer.close()
    expected = {p: n for p, n in kafka_io.end_offsets(settings, topic).items() if n}
    if isinstance(answer, dict):
        answer = {p: n for p, n in answer.items() if n}
    return exercises.check("01.3 read it all back", answer, expected,
                           hint="tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]; "
                                "consumer.assign(tps); consumer.seek_to_beginning(); ends = consumer.end_offsets(tps)")
