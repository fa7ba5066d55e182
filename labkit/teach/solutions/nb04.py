"""Solutions for notebook 04 (the DLQ, anomalies and redelivery)."""

from __future__ import annotations


def choose_threshold(rows: list[dict], min_precision: float) -> float | None:
    """Exercise 04.1: of the sweep's rows whose precision reaches `min_precision`, the threshold
    with the best recall; on equal recall the higher threshold (it flags no more than a lower
    one, so it has no more false alarms). A row that flagged nothing has precision None and
    meets no target. None when no row meets it."""
    meeting = [r for r in rows if r["precision"] is not None and r["precision"] >= min_precision]
    if not meeting:
        return None
    return max(meeting, key=lambda r: (r["recall"], r["threshold"]))["threshold"]


def replay_dlq(values: list[bytes], collection, reason: str, ranges: dict, now) -> int:
    """Exercise 04.2: revalidate the DLQ records rejected for `reason` under `ranges` and store
    the events that now pass, each once (`_id = event_id`); return how many were newly stored."""
    from pymongo.errors import BulkWriteError

    from labkit.process import dlq
    from labkit.process.validation import validate

    events = {}
    for value in values:
        record = dlq.parse(value)
        if record is None or record["reason"] != reason:
            continue
        verdict = validate(dlq.original_bytes(record), now, ranges)
        if verdict.ok:  # a copy delivered twice lands on the same event_id
            events[verdict.event["event_id"]] = dict(verdict.event, _id=verdict.event["event_id"])
    if not events:
        return 0
    try:
        return len(collection.insert_many(list(events.values()), ordered=False).inserted_ids)
    except BulkWriteError as exc:
        errors = exc.details["writeErrors"]
        if any(e["code"] != 11000 for e in errors):
            raise
        return len(events) - len(errors)
