"""Solutions for notebook 02 (consume and validate)."""

from __future__ import annotations

from datetime import datetime

from pymongo.errors import BulkWriteError

from labkit.process.validation import Verdict, validate

DUPLICATE_KEY = 11000


def validate_with_city_limit(raw: bytes, now: datetime, limit_kmh: float = 200.0) -> Verdict:
    """Exercise 02.1: a new rule on top of the contract: in the city, over 200 km/h is a
    broken sensor, not driving. Rejected with the reason `range:speed`."""
    verdict = validate(raw, now)
    if verdict.ok and verdict.event["speed"] > limit_kmh:
        return Verdict(False, "range:speed", f"speed={verdict.event['speed']} over the city limit {limit_kmh:g}")
    return verdict


def store_events(collection, raws: list[bytes], now: datetime) -> int:
    """Exercise 02.2: insert the valid events under `_id = event_id`; a duplicate key means
    "already stored". Returns how many documents are new."""
    docs = []
    for raw in raws:
        verdict = validate(raw, now)
        if verdict.ok:
            docs.append(dict(verdict.event, _id=verdict.event["event_id"]))
    if not docs:
        return 0
    try:
        collection.insert_many(docs, ordered=False)
        return len(docs)
    except BulkWriteError as exc:
        errors = exc.details["writeErrors"]
        if any(e["code"] != DUPLICATE_KEY for e in errors):
            raise
        return len(docs) - len(errors)


def consume_all(consumer, collection, now: datetime) -> int:
    """Exercise 02.3: poll until nothing more comes, store each poll, then commit it.
    Returns the number of records read."""
    read = 0
    while True:
        records = [r for rs in consumer.poll(timeout_ms=1000).values() for r in rs]
        if not records:
            return read
        store_events(collection, [r.value for r in records], now)
        consumer.commit()  # after the write: a crash before this line means redelivery, not loss
        read += len(records)
