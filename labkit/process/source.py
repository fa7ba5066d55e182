"""The processor's source: a consumer in a group, and the bookkeeping around it.

- membership: the consumer subscribes to the telemetry topic in the processor's group; the
  group's coordinator hands it partitions, and takes them back in a rebalance (a worker
  joins, leaves or dies). `on_assigned` / `on_revoked` tell the processor, inside `poll`;
- it never commits on its own: offsets are committed by delivery, after the data is safe;
- rewind: a batch abandoned after a rebalance is read again from its first record, in the
  partitions still ours (the others' new owner reads them from the last commit);
- lag and caught-up: per partition, the broker's end offset minus our position, as known
  from the last fetch (labkit.ops.kafka_io.partition_lag), and whether everything is read.

Records come back as kafka-python's ConsumerRecords (topic, partition, offset, key, value).
"""

from __future__ import annotations

from collections.abc import Callable

from labkit.config import Settings
from labkit.ops import clients, kafka_io, preflight
from labkit.process.delivery import Offsets, kafka_offsets


def next_offsets(records) -> Offsets:
    """The offsets committing `records` means: per (topic, partition), the one after the last."""
    offsets: Offsets = {}
    for r in records:
        key = (r.topic, r.partition)
        offsets[key] = max(offsets.get(key, 0), r.offset + 1)
    return offsets


class GroupSource:
    """One group consumer of the telemetry topic. `open`, `poll` until done, `close`."""

    def __init__(self, settings: Settings, group_id: str, client_id: str, max_poll_records: int = 500,
                 session_timeout_ms: int = 6000):
        self.settings, self.group_id = settings, group_id
        self.client_id, self.max_poll_records, self.session_timeout_ms = client_id, max_poll_records, session_timeout_ms
        self.topic = settings.topics.telemetry
        self._consumer = None

    def open(self, on_assigned: Callable[[list[int]], None], on_revoked: Callable[[list[int]], None]) -> None:
        """Join the group. The callbacks get partition numbers, from inside `poll`."""
        from kafka.consumer.subscription_state import ConsumerRebalanceListener

        topic = self.topic

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                on_revoked(sorted(tp.partition for tp in revoked if tp.topic == topic))

            def on_partitions_assigned(self, assigned):
                on_assigned(sorted(tp.partition for tp in assigned if tp.topic == topic))

        self._consumer = clients.kafka_consumer(
            self.settings, group_id=self.group_id, auto_offset_reset="earliest",  # read_committed, no auto-commit
            max_poll_records=self.max_poll_records, session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=max(1000, self.session_timeout_ms // 3), client_id=self.client_id)
        self._consumer.subscribe([self.topic], listener=Listener())

    def poll(self, timeout_ms: int, max_records: int) -> list:
        """The next records, in offset order per partition (empty when there are none)."""
        batch = self._consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        return [r for records in batch.values() for r in records]

    def assignment(self) -> list[int]:
        return sorted(tp.partition for tp in self._consumer.assignment())

    def rewind(self, records) -> None:
        """Seek back to the first record of `records` in every partition we still own."""
        from kafka import TopicPartition

        first: dict = {}
        for r in records:
            first.setdefault((r.topic, r.partition), r.offset)
        owned = self._consumer.assignment()
        for (topic, partition), offset in first.items():
            tp = TopicPartition(topic, partition)
            if tp in owned:
                self._consumer.seek(tp, offset)

    def lags(self) -> dict[int, int | None]:
        """Per assigned partition, the end offset (as of the last fetch) minus our position;
        None while either is unknown. Once a batch is committed our position is the committed
        offset, so this is the lag the broker reports for the group (/pipeline/lag/now)."""
        lags = {}
        for tp in self._consumer.assignment():
            try:
                end, position = self._consumer.highwater(tp), self._consumer.position(tp, timeout_ms=0)
            except Exception:  # not known yet, or the partition just moved away
                end = position = None
            # Our position stands for the committed offset (they are equal between batches); a
            # fetch can see the position run ahead of a stale end offset: no lag, not negative.
            lag = kafka_io.partition_lag(end, committed=position, log_start=None) if position is not None else None
            lags[tp.partition] = None if lag is None else max(0, lag)
        return lags

    def backlogged(self) -> list[int]:
        """Partitions with messages waiting at the broker, or maybe (lag unknown)."""
        return [partition for partition, lag in self.lags().items() if lag != 0]

    def caught_up(self) -> bool:
        """True when Kafka answers and every assigned partition has been read to its end. An
        unreachable broker, or a consumer rejoining its group, also polls empty: not idle."""
        if not preflight.check(self.settings, ("kafka",))["kafka"].ok:
            return False
        try:
            assigned = list(self._consumer.assignment())
            ends = self._consumer.end_offsets(assigned)
            return bool(assigned) and all(self._consumer.position(tp) >= end for tp, end in ends.items())
        except Exception:  # the broker went away again meanwhile
            return False

    # What delivery needs of the group (labkit.process.delivery.Group).

    def group_metadata(self):
        return self._consumer.group_metadata()

    def committed(self, offsets: Offsets) -> bool:
        """True when the group's committed offsets already equal `offsets`. Raises (a transient
        error, retried by the caller) when the group's coordinator cannot say."""
        from kafka import TopicPartition

        return all(self._consumer.committed(TopicPartition(t, p)) == o for (t, p), o in offsets.items())

    def commit(self, offsets: Offsets) -> None:
        self._consumer.commit(kafka_offsets(offsets))

    def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.close(autocommit=False)
