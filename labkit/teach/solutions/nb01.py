"""Solutions for notebook 01 (simulate)."""

from __future__ import annotations

import json

from kafka.errors import KafkaError


def send_keyed(producer, topic: str, events: list[dict]) -> list[tuple[int, int] | None]:
    """Exercise 01.1: send keyed by car, then ask each future how its message ended (in order):
    (partition, offset) when stored, None when the broker refused it."""
    futures = [producer.send(topic, key=e["car_id"].encode(), value=json.dumps(e).encode()) for e in events]
    producer.flush()
    places = []
    for future in futures:
        try:
            metadata = future.get(timeout=10)
            places.append((metadata.partition, metadata.offset))
        except KafkaError:  # refused (too large, not authorised, ...): this message only
            places.append(None)
    return places


def negative_speed(event: dict) -> bytes:
    """Exercise 01.3: a message the validator must reject with `range:speed`."""
    return json.dumps(dict(event, speed=-abs(event.get("speed", 0)) - 1.0)).encode()


def count_per_partition(consumer, topic: str) -> dict[int, int]:
    """Exercise 01.2: read a whole topic without a group and count per partition."""
    from kafka import TopicPartition

    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(tps)
    consumer.seek_to_beginning()
    ends = consumer.end_offsets(tps)
    counts = {tp.partition: 0 for tp in tps}
    while any(consumer.position(tp) < ends[tp] for tp in tps):
        for tp, messages in consumer.poll(timeout_ms=1000).items():
            counts[tp.partition] += len(messages)
    return counts
