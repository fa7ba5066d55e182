"""Where the processor stores a batch's results: a small interface, and MongoDB behind it.

The processor decides (validation, duplicates, event-time windows, anomalies); a `Store`
keeps what it decided. In the lab the store is MongoDB (`MongoStore`, the idempotent writes
of labkit.store.mongo). Because the processor only knows this interface, its batch step can be
unit-tested with an in-memory store (tests/fakes.py) and no database.

Contract of every method: idempotent (the processor repeats a call that failed, and Kafka
may deliver a batch again), and durable when it returns (the offsets are committed after).
A transient failure raises (labkit.ops.transient decides which); the processor retries it.
Two records of what happened are the exceptions, repeated when repeated: a window's
`history` (a publication retried shows twice) and the assignment log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from labkit.config import Settings
from labkit.store import mongo
from labkit.store.mongo import WriteResult


class Store(Protocol):
    def prepare(self) -> None:
        """Create what the writes rely on (indexes; counts of anomalies stored before they were kept)."""

    def insert_events(self, events: list[dict]) -> WriteResult:
        """Store valid events; one already stored counts as a duplicate."""

    def update_derived(self, events: list[dict]) -> None:
        """Move each car's latest state and the rollups forward (duplicates included)."""

    def write_derived(self, due) -> None:
        """Write what the processor owed (a labkit.process.derived.Due): latest states, rollups."""

    def write_owed(self, group: str, owner: str, owed: dict[int, int | None], claim: bool = False) -> None:
        """Per partition, from when derived writes are owed (None: nothing); only by the
        partition's owner, which `claim=True` makes `owner`."""

    def owed_since(self, group: str, partitions: list[int]) -> int | None:
        """The earliest time from which derived writes are owed for any of `partitions`."""

    def recover_derived(self, since_ms: int) -> None:
        """Rebuild every car's latest state and rollups from `since_ms` on."""

    def newest_reading_ms(self) -> int | None:
        """The event time (epoch ms) of the newest reading stored (None: none)."""

    def insert_anomalies(self, documents: list[dict]) -> WriteResult: ...

    def insert_dead_letters(self, documents: list[dict]) -> WriteResult: ...

    def record_too_late(self, records: list[dict], at: datetime) -> WriteResult:
        """Record readings that came after their window was final (stored as readings too)."""

    def write_windows(self, emissions: list, at: datetime) -> None: ...

    def write_metrics(self, records: list[dict]) -> None:
        """Pipeline metrics windows, one document per processor and window (best effort)."""

    def log_assignment(self, record: dict) -> None:
        """One partition assignment change (best effort)."""


class MongoStore:
    """The lab's store: one MongoDB database, written as labkit.store.mongo describes."""

    def __init__(self, db, settings: Settings):
        self.db, self.settings = db, settings
        self.names = settings.collections

    def prepare(self) -> None:
        mongo.ensure_indexes(self.db, self.settings)
        mongo.count_stored_anomalies(self.db, self.settings)

    def insert_events(self, events: list[dict]) -> WriteResult:
        return mongo.insert_events(self.db, self.settings, events)

    def update_derived(self, events: list[dict]) -> None:
        mongo.update_derived(self.db, self.settings, events)

    def write_derived(self, due) -> None:
        mongo.write_derived(self.db, self.settings, due.latest, due.buckets, due.minutes, due.known)

    def write_owed(self, group: str, owner: str, owed: dict[int, int | None], claim: bool = False) -> None:
        mongo.write_owed(self.db, self.settings, group, owner, owed, claim)

    def owed_since(self, group: str, partitions: list[int]) -> int | None:
        return mongo.owed_since(self.db, self.settings, group, partitions)

    def recover_derived(self, since_ms: int) -> None:
        mongo.recover_derived(self.db, self.settings, since_ms)

    def newest_reading_ms(self) -> int | None:
        return mongo.newest_reading_ms(self.db, self.settings)

    def insert_anomalies(self, documents: list[dict]) -> WriteResult:
        return mongo.write_anomalies(self.db, self.settings, documents)

    def insert_dead_letters(self, documents: list[dict]) -> WriteResult:
        return mongo.write_dead_letters(self.db, self.settings, documents)

    def record_too_late(self, records: list[dict], at: datetime) -> WriteResult:
        return mongo.record_too_late(self.db, self.settings, records, at)

    def write_windows(self, emissions: list, at: datetime) -> None:
        mongo.write_windows(self.db, self.settings, emissions, at)

    def write_metrics(self, records: list[dict]) -> None:
        collection = self.db[self.names.metrics]
        for record in records:
            collection.replace_one({"_id": record["_id"]}, record, upsert=True)

    def log_assignment(self, record: dict) -> None:
        self.db[self.names.assignments].insert_one(record)
