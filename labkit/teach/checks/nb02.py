"""Checks for notebook 02's exercises (consume and validate)."""

from __future__ import annotations

import json
from datetime import datetime

from labkit.config import Settings
from labkit.ops import clients, kafka_io
from labkit.process.validation import validate
from labkit.teach import exercises


def _distinct_valid(raws: list[bytes], now: datetime) -> int:
    return len({v.event["event_id"] for v in (validate(raw, now) for raw in raws) if v.ok})


def city_rule(rule, good: dict, now: datetime) -> bool:
    """02.1: slow and exactly-200 events pass, 230 km/h is range:speed, garbage keeps its reason."""
    cases = {"59 km/h": (json.dumps(good).encode(), None),
             "exactly 200 km/h": (json.dumps(dict(good, speed=200.0)).encode(), None),
             "230 km/h": (json.dumps(dict(good, speed=230.0)).encode(), "range:speed"),
             "binary garbage": (b"\xff", "not_json")}
    answers = {}
    for name, (raw, _) in cases.items():
        verdict = exercises.attempt(rule, raw, now)
        if exercises.gave_up(verdict):
            return exercises.check("02.1 city speed rule", verdict, None)
        answers[name] = getattr(verdict, "reason", verdict)
    return exercises.check("02.1 city speed rule", answers, {n: reason for n, (_, reason) in cases.items()},
                           hint="call validate(raw, now) first and return its verdict unless it is ok and "
                                "verdict.event['speed'] > 200; 'faster than 200' means 200 itself passes")


def idempotent_store(store, collection, raws: list[bytes], now: datetime) -> bool:
    """02.2: two calls with the same messages: all distinct valid events stored, then 0 new."""
    collection.drop()
    first = exercises.attempt(store, collection, raws, now)
    if exercises.gave_up(first):
        return exercises.check("02.2 idempotent store", first, None)
    second = exercises.attempt(store, collection, raws, now)
    distinct = _distinct_valid(raws, now)
    answer = {"first call returned": first, "second call returned": second,
              "documents in the collection": collection.count_documents({})}
    expected = {"first call returned": distinct, "second call returned": 0, "documents in the collection": distinct}
    return exercises.check("02.2 idempotent store", answer, expected,
                           hint="catch pymongo.errors.BulkWriteError; exc.details['writeErrors'] lists the refused "
                                "documents (code 11000 = duplicate key), and the rest were inserted")


def consume_loop(consume, settings: Settings, topic: str, group: str, collection, batch, now: datetime) -> bool:
    """02.3: after the student's loop, MongoDB holds every distinct valid event once and the
    group's committed offset is the end of the (one-partition) topic."""
    import uuid

    from kafka import TopicPartition

    collection.drop()
    group = f"{group}.{uuid.uuid4().hex[:6]}"  # a new group per try: an earlier attempt's commits must not count
    consumer = clients.kafka_consumer(settings, group_id=group, auto_offset_reset="earliest")
    consumer.assign([TopicPartition(topic, 0)])
    try:
        result = exercises.attempt(consume, consumer, collection, now)
    finally:
        consumer.close(autocommit=False)
    if exercises.gave_up(result):
        return exercises.check("02.3 commit after the write", result, None)
    end = kafka_io.end_offsets(settings, topic)[0]
    answer = {"documents in MongoDB": collection.count_documents({}),
              "committed offset": kafka_io.committed_offsets(settings, group, topic)[0]}
    expected = {"documents in MongoDB": _distinct_valid([m.value for m in batch], now), "committed offset": end}
    return exercises.check("02.3 commit after the write", answer, expected,
                           hint="loop: records = [r for rs in consumer.poll(timeout_ms=1000).values() for r in rs]; "
                                "stop when empty; store_events(collection, [r.value for r in records], now); "
                                "then consumer.commit()")
