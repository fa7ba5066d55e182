"""In-memory stand-ins for the processor's unit tests: no Kafka, no MongoDB.

`MemoryStore` implements labkit.store.sinks.Store with dicts (same idempotence: a second copy of
an `_id` is a duplicate), `FakeConsumer` answers what the processor asks a consumer between
polls, and `OfflineProcessor` records what it would send and commit to Kafka instead of
opening a transaction. Integration and reliability tests use the real services instead.
"""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime

from kafka import TopicPartition

from labkit.ops.kafka_io import partition_for_key
from labkit.process.processor import Processor
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
        new = [d for d in documents if d["_id"] not in stored]
        stored.update((d["_id"], d) for d in new)
        return WriteResult(inserted=len(new), duplicates=len(documents) - len(new))

    def ids(self, collection: str) -> set:
        return set(self.collections.get(collection, {}))

    def prepare(self) -> None:
        self._call("prepare")

    def insert_events(self, events: list[dict]) -> WriteResult:
        self._call("insert_events")
        return self._insert("telemetry", [event_document(e) for e in events])

    def update_derived(self, events: list[dict]) -> None:
        self._call("update_derived")
        latest = self.collections.setdefault("latest", {})
        for e in events:
            if e["car_id"] not in latest or latest[e["car_id"]]["timestamp"] < e["timestamp"]:
                latest[e["car_id"]] = e

    def insert_anomalies(self, documents: list[dict]) -> WriteResult:
        self._call("insert_anomalies")
        return self._insert("anomalies", documents)

    def insert_dead_letters(self, documents: list[dict]) -> WriteResult:
        self._call("insert_dead_letters")
        return self._insert("dead_letters", documents)

    def set_aside(self, events: list[dict], watermark_ms: int | None, at: datetime) -> WriteResult:
        self._call("set_aside")
        return self._insert("too_late", [event_document(e) for e in events])

    def write_windows(self, emissions: list, at: datetime) -> None:
        self._call("write_windows")
        self.collections.setdefault("windows", {}).update(((e.key, e.start_ms), e) for e in emissions)

    def write_metrics(self, records: list[dict]) -> None:
        self.collections.setdefault("metrics", {}).update((r["_id"], r) for r in records)

    def log_assignment(self, record: dict) -> None:
        self.collections.setdefault("assignments", {})[len(self.collections.get("assignments", {}))] = record


class FakeConsumer:
    """A consumer that owns `partitions` of `topic`; `ends` are the broker's end offsets."""

    def __init__(self, topic: str, partitions, ends: dict[int, int] | None = None):
        self.topic = topic
        self.owned = {TopicPartition(topic, p) for p in partitions}
        self.ends = dict(ends or {})
        self.positions: dict[int, int] = {}
        self.seeks: dict[int, int] = {}

    def delivered(self, records) -> None:
        """Move the positions past `records`, as a poll that returned them would."""
        for r in records:
            self.positions[r.partition] = max(self.positions.get(r.partition, 0), r.offset + 1)
            self.ends[r.partition] = max(self.ends.get(r.partition, 0), r.offset + 1)

    def assignment(self):
        return set(self.owned)

    def highwater(self, tp):
        return self.ends.get(tp.partition)

    def position(self, tp, timeout_ms=None):
        return self.positions.get(tp.partition, 0)

    def seek(self, tp, offset):
        self.seeks[tp.partition] = self.positions[tp.partition] = offset


class OfflineProcessor(Processor):
    """The processor with its Kafka transactions recorded instead of sent. `commits` lists,
    per committed batch, (the store's calls so far, the offsets, the outgoing records);
    `abandon` makes the next commits raise BatchAbandoned (a rebalance took the partitions)."""

    def __init__(self, *args, consumer: FakeConsumer, **kwargs):
        super().__init__(*args, **kwargs)
        self._consumer = consumer
        self.windows = self._new_windows()
        self.commits: list[tuple[int, dict, list]] = []
        self.published_metrics: list = []
        self.abandon = 0

    def _in_transaction(self, outgoing: list, with_offsets: bool) -> None:
        from labkit.process.processor import BatchAbandoned

        if not with_offsets:
            self.published_metrics.extend(outgoing)
            return
        if self.abandon:
            self.abandon -= 1
            raise BatchAbandoned("a rebalance (simulated)")
        offsets = {p: o for (_, p), o in self._uncommitted.items()}
        self.commits.append((len(self._store.calls), offsets, list(outgoing)))
        self._uncommitted.clear()
        self.stats.commits += 1
