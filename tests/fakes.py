"""In-memory stand-ins for the processor's unit tests: no Kafka, no MongoDB.

The processor takes its collaborators as arguments, and these stand in for them:
`MemoryStore` implements labkit.store.sinks.Store with dicts (same idempotence: a second copy of
an `_id` is a duplicate), `FakeSource` is a consumer group of one that hands out queued
batches, and `RecordingDelivery` records what would be sent and committed to Kafka instead of
opening a transaction. Integration and reliability tests use the real services instead.
"""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime

from labkit.contract import to_ms
from labkit.ops.kafka_io import partition_for_key
from labkit.process.delivery import BatchAbandoned
from labkit.store.mongo import WriteResult, event_document

#: The fields of a kafka-python ConsumerRecord that the processor reads.
Record = namedtuple("Record", "topic partition offset key value")


def records_for(messages, topic: str, partitions: int, first_offsets: dict[int, int] | None = None) -> list[Record]:
    """Simulator messages as the consumer would deliver them: partitioned by key, with offsets."""
    next_offset = dict(first_offsets or {})
    out = []
    for m in messages:
        p = partition_for_key(m.key, partitions)
        offset = next_offset.get(p, 0)
        next_offset[p] = offset + 1
        out.append(Record(topic, p, offset, m.key, m.value))
    return out


class MemoryStore:
    """labkit.store.sinks.Store in memory. `fail[name] = [exc, ...]` makes the next calls of method
    `name` raise those, one per call; `calls` lists every call in order, `sent` every `_id`
    each collection was handed (stored or not)."""

    def __init__(self):
        self.collections: dict[str, dict] = {}
        self.sent: dict[str, list] = {}
        self.calls: list[str] = []
        self.fail: dict[str, list[BaseException]] = {}

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.fail.get(name):
            raise self.fail[name].pop(0)

    def _insert(self, collection: str, documents: list[dict]) -> WriteResult:
        self.sent.setdefault(collection, []).extend(d["_id"] for d in documents)
        stored = self.collections.setdefault(collection, {})
        refused = tuple(i for i, d in enumerate(documents) if d["_id"] in stored)
        new = [d for d in documents if d["_id"] not in stored]
        stored.update((d["_id"], d) for d in new)
        return WriteResult(inserted=len(new), duplicates=len(refused), refused=refused)

    def ids(self, collection: str) -> set:
        return set(self.collections.get(collection, {}))

    def prepare(self) -> None:
        self._call("prepare")

    def insert_events(self, events: list[dict]) -> WriteResult:
        self._call("insert_events")
        return self._insert("telemetry", [event_document(e) for e in events])

    def update_derived(self, events: list[dict]) -> None:
        self._call("update_derived")
        self._latest(events)

    def _latest(self, events: list[dict]) -> None:
        latest = self.collections.setdefault("latest", {})
        for e in events:
            if e["car_id"] not in latest or latest[e["car_id"]]["timestamp"] < e["timestamp"]:
                latest[e["car_id"]] = e

    def write_derived(self, due) -> None:
        """Latest states as update_derived; the buckets whose rollups were rebuilt, in `rebuilt`."""
        self._call("write_derived")
        self._latest(due.latest)
        rebuilt = self.collections.setdefault("rebuilt", {})
        for car, starts in due.buckets.items():
            for start in starts:
                rebuilt[(car, start)] = rebuilt.get((car, start), 0) + 1

    def write_owed(self, group: str, owner: str, owed: dict, claim: bool = False) -> None:
        self._call("write_owed")
        owners = self.collections.setdefault("owners", {}).setdefault(group, {})
        stored = self.collections.setdefault("owed", {}).setdefault(group, {})
        for p, t in owed.items():
            if claim:
                owners[p] = owner
            if owners.get(p) == owner:
                stored[p] = t

    def owed_since(self, group: str, partitions) -> int | None:
        times = [t for p, t in self.collections.get("owed", {}).get(group, {}).items() if p in partitions and t is not None]
        return min(times) if times else None

    def recover_derived(self, since_ms: int) -> None:
        self._call("recover_derived")
        self.collections.setdefault("recovered_from", {})[len(self.collections.get("recovered_from", {}))] = since_ms

    def newest_reading_ms(self) -> int | None:
        times = [to_ms(d["timestamp"]) for d in self.collections.get("telemetry", {}).values()]
        return max(times, default=None)

    def insert_anomalies(self, documents: list[dict]) -> WriteResult:
        self._call("insert_anomalies")
        return self._insert("anomalies", documents)

    def insert_dead_letters(self, documents: list[dict]) -> WriteResult:
        self._call("insert_dead_letters")
        return self._insert("dead_letters", documents)

    def record_too_late(self, records: list[dict], at: datetime) -> WriteResult:
        self._call("record_too_late")
        return self._insert("too_late", [dict(r, recorded_at=at) for r in records])

    def write_windows(self, emissions: list, at: datetime) -> None:
        self._call("write_windows")
        self.collections.setdefault("windows", {}).update(((e.key, e.start_ms), e) for e in emissions)

    def write_metrics(self, records: list[dict]) -> None:
        self.collections.setdefault("metrics", {}).update((r["_id"], r) for r in records)

    def log_assignment(self, record: dict) -> None:
        self.collections.setdefault("assignments", {})[len(self.collections.get("assignments", {}))] = record


class FakeSource:
    """A group consumer that owns `partitions` of `topic` and hands out the batches queued with
    `queue()`, one per poll. `ends` are the broker's end offsets; `rewind` puts records back."""

    def __init__(self, topic: str, partitions, ends: dict[int, int] | None = None):
        self.topic, self.partitions = topic, sorted(partitions)
        self.ends = dict(ends or {})
        self.positions: dict[int, int] = {}
        self.seeks: dict[int, int] = {}
        self.batches: list[list] = []

    def queue(self, records) -> None:
        self.batches.append(list(records))
        for r in records:
            self.ends[r.partition] = max(self.ends.get(r.partition, 0), r.offset + 1)

    def open(self, on_assigned, on_revoked) -> None:
        on_assigned(self.partitions)

    def poll(self, timeout_ms: int, max_records: int) -> list:
        if not self.batches:
            return []
        batch = self.batches.pop(0)
        for r in batch:
            self.positions[r.partition] = max(self.positions.get(r.partition, 0), r.offset + 1)
        return batch

    def assignment(self) -> list[int]:
        return list(self.partitions)

    def rewind(self, records) -> None:
        first = {}
        for r in records:
            first.setdefault(r.partition, r.offset)
        self.seeks.update(first)
        self.positions.update(first)
        self.batches.insert(0, list(records))

    def lags(self) -> dict[int, int | None]:
        return {p: self.ends.get(p, 0) - self.positions.get(p, 0) if p in self.ends else None for p in self.partitions}

    def backlogged(self) -> list[int]:
        return [p for p, lag in self.lags().items() if lag != 0]

    def caught_up(self) -> bool:
        return not self.batches

    def close(self) -> None:
        pass


class RecordingDelivery:
    """Records each committed batch as (the store's calls so far, {partition: offset}, the
    outgoing records) in `commits`, and metrics records in `published_metrics`. `abandon`
    makes the next commits raise BatchAbandoned (a rebalance took the partitions);
    `fail` and `fail_metrics` hold exceptions the next batch or metrics publishes raise, one each."""

    def __init__(self, store: MemoryStore):
        self.store = store
        self.commits: list[tuple[int, dict, list]] = []
        self.published_metrics: list = []
        self.abandon = 0
        self.fail: list[BaseException] = []
        self.fail_metrics: list[BaseException] = []

    def open(self) -> None:
        pass

    def publish(self, outgoing: list, offsets: dict) -> None:
        failures = self.fail if offsets else self.fail_metrics
        if failures:
            raise failures.pop(0)
        if not offsets:
            self.published_metrics.extend(outgoing)
            return
        if self.abandon:
            self.abandon -= 1
            raise BatchAbandoned("a rebalance (simulated)")
        self.commits.append((len(self.store.calls), {p: o for (_, p), o in offsets.items()}, list(outgoing)))

    def close(self) -> None:
        pass

