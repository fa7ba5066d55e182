"""Small Kafka helpers shared by notebooks, tests and the lab's services.

Clients are created here with the lab's settings so every caller gets the same,
deliberate configuration (acks, timeouts) instead of kafka-python's defaults.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from labkit.config import Settings
from labkit.ops import clients


@dataclass(frozen=True)
class Record:
    """A message read back from Kafka, with where it came from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int


def read_topic(settings: Settings, topic: str, max_messages: int = 100, timeout_s: float = 10.0,
               partitions: list[int] | None = None, start_offsets: dict[int, int] | None = None) -> list[Record]:
    """Read up to `max_messages` from `topic` without a consumer group (nothing is committed).

    Reads every partition (or `partitions`) from the beginning, or from `start_offsets`
    (partition -> offset). Stops at `max_messages`, at the end of every partition, or
    after `timeout_s` seconds, whichever comes first. Bounded: it never hangs a cell.
    """
    from kafka import TopicPartition

    consumer = clients.kafka_consumer(settings, consumer_timeout_ms=1000)  # read_committed, no group
    try:
        known = consumer.partitions_for_topic(topic)
        if not known:
            raise ValueError(f"topic {topic!r} does not exist (run `make infra-up` to create the lab's topics)")
        tps = [TopicPartition(topic, p) for p in sorted(partitions if partitions is not None else known)]
        return _read_to_end(consumer, tps, max_messages, timeout_s, start_offsets or {})
    finally:
        consumer.close()


def read_topics(settings: Settings, topics: list[str], max_messages: int = 100, timeout_s: float = 10.0) -> list[Record]:
    """`read_topic` of several topics with one consumer: every partition of each, from the
    beginning, in one list (each partition's records in order). A topic that does not exist
    is skipped."""
    from kafka import TopicPartition

    consumer = clients.kafka_consumer(settings, consumer_timeout_ms=1000)
    try:
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        return _read_to_end(consumer, tps, max_messages, timeout_s, {}) if tps else []
    finally:
        consumer.close()


def _read_to_end(consumer, tps: list, max_messages: int, timeout_s: float, start_offsets: dict[int, int]) -> list[Record]:
    consumer.assign(tps)
    for tp in tps:
        if tp.partition in start_offsets:
            consumer.seek(tp, start_offsets[tp.partition])
        else:
            consumer.seek_to_beginning(tp)
    end = consumer.end_offsets(tps)
    records: list[Record] = []
    deadline = time.monotonic() + timeout_s
    while len(records) < max_messages and time.monotonic() < deadline:
        if all(consumer.position(tp) >= end[tp] for tp in tps):
            break
        batch = consumer.poll(timeout_ms=200, max_records=max_messages - len(records))
        for messages in batch.values():
            for m in messages:
                records.append(Record(m.topic, m.partition, m.offset, m.key, m.value, tuple(m.headers or ()), m.timestamp))
    return records[:max_messages]


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """Partition -> the end a read_committed reader sees: the next offset to be written, or
    the first offset of a transaction still open (the last stable offset)."""
    from kafka import TopicPartition

    consumer = clients.kafka_consumer(settings)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def round_trip(settings: Settings, count: int = 3) -> list[Record]:
    """Produce `count` small keyed messages with a header, then read exactly those back.

    Uses the scratch topic (created here, explicitly, with as many partitions as the
    telemetry topic) so experiments never mix with telemetry. Used by notebook 00 and
    the tests as the smallest proof that Kafka works end to end.
    """
    from labkit.ops.infra.topics import ensure_topics, scratch_topic

    topic = scratch_topic(settings)
    ensure_topics(settings, {topic: settings.telemetry_partitions})
    run_id = uuid.uuid4().hex[:8]
    producer = clients.kafka_producer(settings)
    sent = {}
    try:
        for i in range(count):
            key = f"CAR_{i + 1:03d}".encode()
            meta = producer.send(topic, key=key, value=f"hello {run_id} #{i}".encode(),
                                 headers=[("run_id", run_id.encode())]).get(timeout=15)
            sent.setdefault(meta.partition, []).append(meta.offset)
    finally:
        producer.close()
    starts = {p: min(offsets) for p, offsets in sent.items()}
    records = read_topic(settings, topic, max_messages=10_000, partitions=list(starts), start_offsets=starts)
    return [r for r in records if (("run_id", run_id.encode()) in r.headers)]


def partition_for_key(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for `key`: murmur2(key) mod partitions.

    The same formula in the Java and Python clients, so one car always lands in one
    partition, which is what keeps each car's events in order.
    """
    from kafka.partitioner.default import murmur2

    return (murmur2(key) & 0x7FFFFFFF) % partitions


def rewind_group(settings: Settings, group: str, topic: str, offsets: dict[int, int]) -> None:
    """Set a consumer group's committed offsets back to `offsets` (partition -> offset).

    What a crash before the commit amounts to: the group will read those messages again.
    The group must have no running members (the broker refuses a commit from outside a group
    that has some)."""
    consumer = clients.kafka_consumer(settings, group_id=group)
    try:
        _commit_offsets(consumer, topic, dict(offsets))
    finally:
        consumer.close(autocommit=False)


def rewind_group_to_time(settings: Settings, group: str, topic: str, when_ms: int, rewind=None) -> None:
    """Set a consumer group's committed offsets back to `when_ms` (ms since the epoch): in each
    partition, the first record whose timestamp is at or after it, or the end where none is
    (what `kafka-consumer-groups --reset-offsets --to-datetime` does). The group must have no
    running members. `rewind(consumer, topic, when_ms)` does it with a consumer of the group
    that joined nothing (exercise 04.1; default: `offsets_at_time`, then a commit)."""
    consumer = clients.kafka_consumer(settings, group_id=group)
    try:
        if rewind is not None:
            rewind(consumer, topic, when_ms)
        else:
            _commit_offsets(consumer, topic, offsets_at_time(consumer, topic, when_ms))
    finally:
        consumer.close(autocommit=False)


def offsets_at_time(consumer, topic: str, when_ms: int) -> dict[int, int]:
    """Partition -> the offset of its first record at or after `when_ms`; the end offset (the
    next record to be written) where every record is older, or the partition is empty."""
    from kafka import TopicPartition

    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    found = consumer.offsets_for_times({tp: when_ms for tp in tps})
    ends = consumer.end_offsets(tps)
    return {tp.partition: found[tp].offset if found.get(tp) is not None else ends[tp] for tp in tps}


def _commit_offsets(consumer, topic: str, offsets: dict[int, int]) -> None:
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    consumer.commit({TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()})


def committed_offsets(settings: Settings, group: str, topic: str) -> dict[int, int | None]:
    """Partition -> the group's committed offset (the next offset it will read), or None
    where the group has never committed. Reads only; joins no group.

    The last offsets committed for good: a read_committed consumer would ask for "stable"
    offsets and wait while a transaction holds newer ones, up to its timeout (60 s for a
    killed processor's), and a lag chart would freeze just when a worker dies."""
    from kafka import TopicPartition

    consumer = clients.kafka_consumer(settings, group_id=group, isolation_level="read_uncommitted")
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        return {p: consumer.committed(TopicPartition(topic, p)) for p in partitions}
    finally:
        consumer.close(autocommit=False)


def log_start_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """Partition -> its first offset still stored: 0 until retention (or a deletion of records)
    removes the oldest messages, then the offset of the oldest one left."""
    from kafka import TopicPartition

    consumer = clients.kafka_consumer(settings)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return {tp.partition: offset for tp, offset in consumer.beginning_offsets(tps).items()}
    finally:
        consumer.close()


def partition_lag(end_offset: int | None, committed: int | None, log_start: int | None) -> int | None:
    """How many messages of one partition a group has still to read: the end offset minus the
    offset it reads next. That is its committed offset, or the log start when that is later:
    messages before the log start were deleted, so nobody will ever read them, and a group
    that never committed starts there. None when the end offset is unknown; an unknown log
    start counts as 0 (nothing deleted). Pure.

        partition_lag(800, None, 500) == 300    # never committed: from the log start
        partition_lag(800, 600, 500) == 200
        partition_lag(800, 400, 500) == 300    # committed, then retention deleted past it
    """
    if end_offset is None:
        return None
    next_read = max(committed or 0, log_start or 0)
    return end_offset - next_read


class LagReader:
    """Reads one group's lag at the broker, again and again, over two open consumers (one
    for the ends a read_committed reader sees, one for the committed offsets, see
    `committed_offsets`), so a sampler that measures every few seconds does not connect
    anew each time. Joins no group. `close()` (or a `with` block) closes both.

        with LagReader(settings, "lab.processor") as reader:
            rows = reader.rows("telemetry.raw.v1")   # as lag_by_partition
    """

    def __init__(self, settings: Settings, group: str):
        self.ends = clients.kafka_consumer(settings)
        try:
            self.offsets = clients.kafka_consumer(settings, group_id=group, isolation_level="read_uncommitted")
        except Exception:
            self.ends.close()
            raise

    def rows(self, topic: str) -> list[dict]:
        """One row per partition of `topic`, in order: `{"partition", "end", "committed",
        "log_start", "lag"}` (`partition_lag`)."""
        from kafka import TopicPartition

        tps = [TopicPartition(topic, p) for p in sorted(self.ends.partitions_for_topic(topic) or ())]
        ends = self.ends.end_offsets(tps)
        starts = self.ends.beginning_offsets(tps)
        rows = []
        for tp in tps:
            committed = self.offsets.committed(tp)
            rows.append({"partition": tp.partition, "end": ends[tp], "committed": committed, "log_start": starts[tp],
                         "lag": partition_lag(ends[tp], committed, starts[tp])})
        return rows

    def close(self) -> None:
        self.ends.close()
        self.offsets.close(autocommit=False)

    def __enter__(self) -> LagReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def lag_by_partition(settings: Settings, group: str, topic: str) -> list[dict]:
    """One row per partition of `topic`, in order: `{"partition", "end", "committed",
    "log_start", "lag"}` (`partition_lag`). Asks the broker now, so it keeps growing while the
    group's consumers are stopped, unlike anything a consumer reports about itself."""
    with LagReader(settings, group) as reader:
        return reader.rows(topic)


def consumer_lag(settings: Settings, group: str, topic: str) -> dict[int, int]:
    """Partition -> lag of `group` on `topic`, measured at the broker (`lag_by_partition`)."""
    return {row["partition"]: row["lag"] for row in lag_by_partition(settings, group, topic)}
