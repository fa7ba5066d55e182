"""MongoDB writes for the pipeline: idempotent inserts, latest state per car, indexes by code.

Every write here may be repeated safely (the processor retries, Kafka redelivers):
- events are inserted with `_id = event_id`, unordered; "duplicate key" means "already
  stored", so it is counted, not raised;
- the latest-state document of a car is replaced only by a *newer* event (by event time),
  so a late event never overwrites a fresher position;
- the 10 s and one-minute rollups of the touched buckets are rebuilt from what is stored
  (`labkit.store.rollups`), never incremented;
- anomalies use `_id = event_id:type`, dead letters `_id = topic:partition:offset` and
  metrics `_id = processor:window`; the dead letters' counts per reason and hour, and the
  anomalies' counts per 10 s bucket, are rebuilt by counting, like the rollups.

The processor, DLQ replay and `dataset.load_fleet` write through `labkit.store.sinks.MongoStore`,
which calls these functions; `write_events` (= `insert_events` + `update_derived`) does the
same for the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pymongo import ASCENDING, DESCENDING, InsertOne, ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError

from labkit import contract
from labkit.config import Settings
from labkit.store import rollups
from labkit.store.bulk import duplicate_indexes


@dataclass(frozen=True)
class WriteResult:
    inserted: int
    duplicates: int
    refused: tuple[int, ...] = ()  # the positions, in the batch sent, of the duplicates


def ensure_indexes(db, settings: Settings) -> None:
    """Create the indexes the pipeline and the queries rely on. Idempotent."""
    c = settings.collections
    db[c.telemetry].create_index([("car_id", ASCENDING), ("timestamp", ASCENDING)], name="car_id_timestamp")
    db[c.telemetry].create_index([("timestamp", ASCENDING)], name="timestamp")
    db[c.anomalies].create_index([("timestamp", ASCENDING)], name="timestamp")
    db[c.anomalies].create_index([("car_id", ASCENDING), ("timestamp", ASCENDING)], name="car_id_timestamp")
    db[c.metrics].create_index([("window_start_ms", DESCENDING)], name="window_start")
    db[c.rollups].create_index([("car_id", ASCENDING), ("size_ms", ASCENDING), ("start_ms", ASCENDING)],
                               name="car_id_size_start")
    # The processor rebuilds the minutes of the whole fleet at once (rollups.rebuild).
    db[c.rollups].create_index([("size_ms", ASCENDING), ("start_ms", ASCENDING)], name="size_start")
    db[c.dead_letters].create_index([("failed_at", DESCENDING)], name="failed_at")
    db[c.dead_letters].create_index([("reason", ASCENDING), ("failed_at", ASCENDING)], name="reason_failed_at")
    db[c.windows].create_index([("key", ASCENDING), ("start_ms", ASCENDING)], name="key_start")
    db[c.anomaly_counts].create_index([("start_ms", ASCENDING)], name="start")


def event_document(event: dict) -> dict:
    """A validated event as stored: `_id` from event_id, timestamp as a BSON date."""
    return {"_id": event["event_id"], **{name: event[name] for name in contract.FIELDS},
            "schema_version": event.get("schema_version", 1),
            **{name: event[name] for name in contract.OPTIONAL_FIELDS if name in event}}


def insert_idempotent(collection, documents: list[dict]) -> WriteResult:
    """Insert unordered; documents whose `_id` exists already count as duplicates.

    Raises BulkWriteError only for errors other than duplicate keys.
    """
    if not documents:
        return WriteResult(0, 0)
    try:
        collection.bulk_write([InsertOne(d) for d in documents], ordered=False)
        return WriteResult(len(documents), 0)
    except BulkWriteError as exc:
        # Count from the errors, not from nInserted: the errors are what the server refused.
        refused = tuple(duplicate_indexes(exc))
        return WriteResult(len(documents) - len(refused), len(refused), refused)


def update_latest(collection, events: list[dict]) -> int:
    """Move each car's latest-state document forward to its newest event in `events`.

    The filter only matches a document that is older than the event; when the stored one
    is newer, the upsert's insert hits the existing `_id` and fails with a duplicate key,
    which here means "keep what is there". Returns how many cars were updated.

    A whole-document replace, not a `$set`: the local server takes it 1.23 times as fast
    (bench/results/latest.md), and a version-1 event after a version-2 one leaves no stale
    odometer behind without an `$unset`.
    """
    newest: dict[str, dict] = {}
    for event in events:
        best = newest.get(event["car_id"])
        if best is None or event["timestamp"] > best["timestamp"]:
            newest[event["car_id"]] = event
    if not newest:
        return 0
    ops = [ReplaceOne({"_id": car, "timestamp": {"$lt": e["timestamp"]}},
                      {k: v for k, v in event_document(e).items() if k != "_id"}, upsert=True)
           for car, e in newest.items()]
    try:
        collection.bulk_write(ops, ordered=False)
        return len(ops)
    except BulkWriteError as exc:
        return len(ops) - len(duplicate_indexes(exc))


def write_events(db, settings: Settings, events: list[dict]) -> WriteResult:
    """Store validated events: the readings, then what is derived from them. Idempotent as a
    whole, so a failed call can simply be repeated."""
    result = insert_events(db, settings, events)
    update_derived(db, settings, events)
    return result


def insert_events(db, settings: Settings, events: list[dict]) -> WriteResult:
    """The readings themselves, `_id = event_id`: a second copy counts as a duplicate."""
    return insert_idempotent(db[settings.collections.telemetry], [event_document(e) for e in events])


def update_derived(db, settings: Settings, events: list[dict]) -> None:
    """Each car's latest state and the rollups of every bucket the events touch.

    Call it with every event of a batch, duplicates included: the run that stored them may
    have stopped before it got here.
    """
    update_latest(db[settings.collections.latest], events)
    rollups.refresh(db, settings, rollups.event_times(events))


def write_derived(db, settings: Settings, latest: list[dict], buckets: dict[str, set[int]],
                  minutes: dict[str, set[int]] | None = None, known: dict | None = None) -> None:
    """What the processor owed and now writes (labkit.process.derived): each car's latest state
    moved forward to the given readings, then the rollups of the given 10 s buckets and
    minutes (car -> starts; minutes None: those of the buckets), for the whole fleet at once.
    `known`: (car, 10 s start) -> all the readings of that bucket, which need no reading back."""
    update_latest(db[settings.collections.latest], latest)
    rollups.rebuild(db, settings, buckets, minutes, known)


def write_owed(db, settings: Settings, group: str, owner: str, owed: dict[int, int | None],
               claim: bool = False) -> None:
    """Store, per partition of `group`, the time (epoch ms) from which its reader owes derived
    writes (None: nothing), one document per partition. `claim=True` (a processor just given
    the partitions, after rebuilding what was owed) makes `owner` their writer; otherwise only
    the documents `owner` holds are written, so a processor that lost a partition without
    noticing yet (stalled past the group's poll limit) cannot overwrite its new reader's time."""
    if not owed:
        return
    ops = [UpdateOne({"_id": f"{group}:{p}", **({} if claim else {"owner": owner})},
                     {"$set": {"group": group, "partition": p, "owner": owner, "from_ms": t}}, upsert=claim)
           for p, t in owed.items()]
    db[settings.collections.owed].bulk_write(ops, ordered=False)


def owed_since(db, settings: Settings, group: str, partitions) -> int | None:
    """The earliest time from which derived writes were owed for any of `partitions` (None: none)."""
    wanted = set(partitions)
    times = [d["from_ms"] for d in db[settings.collections.owed].find({"group": group})
             if d.get("partition") in wanted and d.get("from_ms") is not None]
    return min(times) if times else None


def recover_derived(db, settings: Settings, since_ms: int) -> None:
    """Rebuild the latest state and the rollups of every car from `since_ms` on, from the stored
    readings: what a processor that stopped owed (labkit.process.derived). Idempotent."""
    newest: dict[str, dict] = {}
    buckets: dict[str, set[int]] = {}
    for doc in db[settings.collections.telemetry].find({"timestamp": {"$gte": contract.from_ms(since_ms)}}):
        doc["timestamp"] = contract.as_utc(doc["timestamp"])
        car = doc["car_id"]
        buckets.setdefault(car, set()).add(contract.bucket_start(contract.to_ms(doc["timestamp"]), rollups.SMALL_MS))
        if car not in newest or doc["timestamp"] > newest[car]["timestamp"]:
            newest[car] = doc
    write_derived(db, settings, list(newest.values()), buckets)


def newest_reading_ms(db, settings: Settings) -> int | None:
    """The event time (epoch ms) of the newest reading stored (None: none), from the
    `timestamp` index."""
    newest = db[settings.collections.telemetry].find_one({}, {"timestamp": 1}, sort=[("timestamp", -1)])
    if newest is None or not isinstance(newest.get("timestamp"), datetime):
        return None
    return contract.to_ms(contract.as_utc(newest["timestamp"]))


HOUR_MS = 3_600_000


def write_dead_letters(db, settings: Settings, documents: list[dict]) -> WriteResult:
    """Store dead-letter documents (`labkit.process.dlq.document`), then rebuild the count of every
    (reason, hour) they fall in by counting what is stored: a dead letter written twice is
    counted once, and /dlq/reasons reads a few count documents instead of every dead letter."""
    c = settings.collections
    result = insert_idempotent(db[c.dead_letters], documents)
    touched = {(d["reason"], d.get("reason_class"), contract.bucket_start(contract.to_ms(d["failed_at"]), HOUR_MS))
               for d in documents}
    ops = []
    for reason, reason_class, hour in touched:
        hour_range = {"$gte": contract.from_ms(hour), "$lt": contract.from_ms(hour + HOUR_MS)}
        count = db[c.dead_letters].count_documents({"reason": reason, "failed_at": hour_range})
        # $max, not $set: two processors may count the same hour at once, and the count that
        # runs last has seen both inserts but may be written first. Dead letters are never
        # deleted (a reset drops the database), so a count only grows.
        ops.append(UpdateOne({"_id": f"{reason}:{hour}"}, {"$set": {"reason": reason, "reason_class": reason_class,
                                                                    "hour_ms": hour}, "$max": {"count": count}},
                             upsert=True))
    if ops:
        db[c.dead_letter_counts].bulk_write(ops, ordered=False)
    return result


def write_anomalies(db, settings: Settings, documents: list[dict]) -> WriteResult:
    """Store anomaly records (`_id` = event id:type), then rebuild the counts per type of
    every 10 s bucket of the runs of buckets they fall in, by counting what is stored: an
    anomaly written twice is counted once, and /series/anomalies reads 90 count documents for
    a 15-minute chart instead of every anomaly (some 17,000 with a thousand cars)."""
    result = insert_idempotent(db[settings.collections.anomalies], documents)
    times = [contract.to_ms(d["timestamp"]) for d in documents]
    recount_anomalies(db, settings, rollups.touched_runs({"fleet": times}, rollups.SMALL_MS)["fleet"])
    return result


def recount_anomalies(db, settings: Settings, runs: list[tuple[int, int]]) -> None:
    """Count the stored anomalies of every 10 s bucket in the given runs [lo, hi) (epoch ms,
    on 10 s boundaries) into `{"_id": start_ms, "start_ms": start_ms, "counts": {type: n}}`.
    Buckets without anomalies get no document. Idempotent."""
    from labkit.store.queries import anomaly_buckets_pipeline

    c = settings.collections
    ops = []
    for lo, hi in runs:
        by_bucket: dict[int, dict[str, int]] = {}
        for r in db[c.anomalies].aggregate(anomaly_buckets_pipeline(contract.from_ms(lo), contract.from_ms(hi),
                                                                     rollups.SMALL_MS)):
            by_bucket.setdefault(int(r["_id"]["t"]), {})[r["_id"]["type"]] = r["count"]
        # One document per 10 s bucket with every type's count in it (computed per bucket, like the rollups): a
        # 15-minute chart reads 90 documents, not one per type and bucket. $max, as for the
        # dead letters: with several processors, the last count may be written first.
        ops += [UpdateOne({"_id": start_ms}, {"$set": {"start_ms": start_ms},
                                              "$max": {f"counts.{kind}": n for kind, n in counts.items()}}, upsert=True)
                for start_ms, counts in by_bucket.items()]
    if ops:
        db[c.anomaly_counts].bulk_write(ops, ordered=False)


def count_stored_anomalies(db, settings: Settings) -> None:
    """Count the anomalies stored before their counts were kept (a lab's data from an older
    labkit), once: nothing happens when there are counts already, or no anomalies."""
    c = settings.collections
    if db[c.anomaly_counts].find_one({}, {"_id": 1}) or not db[c.anomalies].find_one({}, {"_id": 1}):
        return
    for span in db[c.anomalies].aggregate([{"$group": {"_id": None, "first": {"$min": "$timestamp"},
                                                       "last": {"$max": "$timestamp"}}}]):
        first, last = contract.to_ms(contract.as_utc(span["first"])), contract.to_ms(contract.as_utc(span["last"]))
        recount_anomalies(db, settings, [(contract.bucket_start(first, rollups.SMALL_MS),
                                          contract.bucket_start(last, rollups.SMALL_MS) + rollups.SMALL_MS)])


def write_windows(db, settings: Settings, emissions: list, at: datetime) -> None:
    """Publish event-time window results (`labkit.process.windows.Emission`): one document per key
    and window with its newest count, revision and state, and in `history` every time it was
    published (emitted, revised, final), with the watermark that caused it."""
    if not emissions:
        return
    # One write per window, not per emission: a window emitted and made final in the same
    # batch gets both history entries at once (in order), and its newest state on top. A
    # window first emitted in this batch is inserted whole: on the local server an insert
    # costs a seventh of an update, and in a backlog most windows are emitted and final in
    # one batch. Only a window published before (or a batch written again) is updated.
    by_window: dict[str, list] = {}
    for e in emissions:
        by_window.setdefault(f"{e.key}:{e.size_ms}:{e.start_ms}", []).append(e)
    new, updates = [], {}
    for _id, published in by_window.items():
        entries = [{"state": e.state, "revision": e.revision, "count": e.count, "watermark_ms": e.watermark_ms,
                    "at": at} for e in published]
        last = published[-1]
        fields = {"key": last.key, "start_ms": last.start_ms, "size_ms": last.size_ms,
                  "start": contract.from_ms(last.start_ms), **entries[-1]}
        updates[_id] = UpdateOne({"_id": _id}, {"$set": fields, "$push": {"history": {"$each": entries}}}, upsert=True)
        if published[0].state == "emitted":
            new.append({"_id": _id, **fields, "history": entries})
    collection = db[settings.collections.windows]
    inserted = set()
    if new:
        try:
            collection.insert_many(new, ordered=False)
            inserted = {d["_id"] for d in new}
        except BulkWriteError as exc:
            refused = {new[i]["_id"] for i in duplicate_indexes(exc)}
            inserted = {d["_id"] for d in new} - refused
    rest = [op for _id, op in updates.items() if _id not in inserted]
    if rest:
        collection.bulk_write(rest, ordered=False)


def record_too_late(db, settings: Settings, records: list[dict], at: datetime) -> WriteResult:
    """The side output of the event-time windows: one record per reading that arrived after
    its window was final (`_id` = event id, the window start it missed, the watermark then).
    The reading itself is stored in the readings like any other; the final window is not
    changed. Idempotent."""
    return insert_idempotent(db[settings.collections.too_late], [{**r, "recorded_at": at} for r in records])
