"""Delivery: a batch's Kafka records and its consumer offsets, published together.

`TransactionalDelivery` (the lab's default) sends the batch's DLQ, anomaly and metrics records
and commits its offsets in one Kafka transaction: `read_committed` readers see all of them or
none, so a crash anywhere means the batch is read again and nothing is published twice.
`AckedDelivery` sends, waits for every acknowledgement, then commits the offsets: at least
once (a crash between the two publishes the records again); kept for the benchmark.

What keeps a transaction safe lives here:
- fencing: `init_transactions` fences any older producer with the same transactional id, so
  a processor thought dead (a zombie) cannot write; fenced ourselves once, we start again
  with a new producer; fenced twice within a minute means a live twin: `FencedTwice`, stop;
- producer replacement: after any failed step the producer is closed (its open transaction is
  aborted) and the next try makes a new one, which cures what a used one cannot;
- bounded waits: every transaction step has a time limit (labkit.ops.kafka_internals);
- a commit whose outcome is unknown is checked against the group's offsets before the batch
  is sent again (if it went through, sending again would publish twice).

Both raise `BatchAbandoned` when the consumer group took the partitions away meanwhile, and
transient errors (labkit.process.retry decides) for the caller to retry.
"""

from __future__ import annotations

import time
from typing import Protocol

from labkit.config import Settings
from labkit.ops import kafka_internals
from labkit.process.retry import KafkaSendFailed

#: How long a transaction step may wait for the broker before the producer is replaced.
STEP_TIMEOUT_MS = 30_000

#: A Kafka record to send: (topic, value, headers, key).
Outgoing = tuple[str, bytes, list | None, bytes | None]
#: The offsets a batch commits: the next offset to read, per (topic, partition).
Offsets = dict[tuple[str, int], int]


class BatchAbandoned(Exception):
    """The group rebalanced while this batch was not yet committed: its partitions may belong
    to another processor now, which will read the batch again from the last commit."""


class FencedTwice(RuntimeError):
    """Fenced twice within a minute: another live processor uses our transactional id.
    Never write over it: stop."""


class Group(Protocol):
    """What delivery needs of the consumer group (labkit.process.source.GroupSource)."""

    def group_metadata(self): ...
    def committed(self, offsets: Offsets) -> bool: ...
    def commit(self, offsets: Offsets) -> None: ...


def kafka_offsets(offsets: Offsets) -> dict:
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    return {TopicPartition(t, p): OffsetAndMetadata(o, "", -1) for (t, p), o in offsets.items()}


def _rebalance_errors() -> tuple:
    """The errors that mean: this consumer no longer owns what the commit was for."""
    from kafka.errors import CommitFailedError, IllegalGenerationError, RebalanceInProgressError, UnknownMemberIdError

    return CommitFailedError, IllegalGenerationError, RebalanceInProgressError, UnknownMemberIdError


def _authorization_errors() -> tuple:
    from kafka import errors

    return tuple(getattr(errors, name) for name in dir(errors) if name.endswith("AuthorizationFailedError"))


class TransactionalDelivery:
    """Publish each batch in one transaction. Make once; `publish` for every batch; `close`."""

    def __init__(self, settings: Settings, transactional_id: str, transaction_timeout_ms: int, group: Group,
                 step_timeout_ms: int = STEP_TIMEOUT_MS):
        self.settings, self.transactional_id, self.group = settings, transactional_id, group
        self.transaction_timeout_ms, self.step_timeout_ms = transaction_timeout_ms, step_timeout_ms
        self._producer = None
        self._last_fenced = float("-inf")
        self._commit_unknown = False
        self._twin: FencedTwice | None = None  # once set, never make a producer again

    def open(self) -> None:
        """Make the producer now: its `init_transactions` aborts what a crashed predecessor left
        open, whose pending offset commit would otherwise keep the group's offsets unstable
        (the consumer could not even find where to start)."""
        self._ready_producer()

    def publish(self, outgoing: list[Outgoing], offsets: Offsets) -> None:
        """Send `outgoing` and commit `offsets` (may be empty) in one transaction. On failure
        the transaction is aborted and the producer replaced: simply call again."""
        from kafka.errors import KafkaError, ProducerFencedError

        producer = self._ready_producer()
        if offsets and self._commit_unknown:
            # Ask the group (an error here is retried, and the question asked again).
            committed = self.group.committed(offsets)
            self._commit_unknown = False
            if committed:  # the last try's commit went through after all
                return
        try:
            producer.begin_transaction()
            futures = [producer.send(topic, value=value, headers=headers, key=key)
                       for topic, value, headers, key in outgoing]
            producer.flush(timeout=self.step_timeout_ms / 1000)
            failed = [f for f in futures if not (f.is_done and f.succeeded())]
            if failed:  # a dropped record must not be committed over: abort and try again
                raise KafkaSendFailed(f"{len(failed)} of {len(futures)} records not acknowledged")
            if offsets:
                group = self.group.group_metadata()
                if group.generation_id is None or group.generation_id <= 0:
                    raise BatchAbandoned("this consumer is not (or no longer) a member of its group")
                kafka_internals.send_offsets(producer, kafka_offsets(offsets), group, self.step_timeout_ms)
            self._commit_unknown = bool(offsets)
            kafka_internals.commit(producer, self.step_timeout_ms)
            self._commit_unknown = False
        except _rebalance_errors() as exc:
            self._drop_producer()
            raise BatchAbandoned(str(exc)) from exc
        except ProducerFencedError as exc:
            # A newer producer took our transactional id, or the broker timed our transaction
            # out during an outage. Once in a while: start again with a new producer.
            self._drop_producer()
            if time.monotonic() - self._last_fenced < 60:
                self._twin = FencedTwice(f"fenced twice within a minute ({exc}): another processor uses "
                                         f"transactional id {self.transactional_id!r}")
                raise self._twin from exc
            self._last_fenced = time.monotonic()
            raise BatchAbandoned(f"producer fenced ({exc})") from exc
        except KafkaError as exc:
            self._drop_producer()
            if isinstance(exc, _authorization_errors()):
                raise
            # Inside a transaction a new producer cures what this one cannot (abortable
            # errors, a lost sequence, a request that timed out): retry, do not exit.
            raise KafkaSendFailed(f"transaction failed ({type(exc).__name__}: {exc})") from exc
        except BaseException:
            self._drop_producer()
            raise

    def close(self) -> None:
        self._drop_producer()

    def _ready_producer(self):
        from labkit.ops import clients

        if self._twin is not None:
            raise self._twin  # a new producer would fence the live twin in turn
        if self._producer is None:
            producer = clients.kafka_producer(self.settings, linger_ms=5, enable_idempotence=True,
                                              transactional_id=self.transactional_id,
                                              transaction_timeout_ms=self.transaction_timeout_ms)
            try:
                producer.init_transactions()
            except BaseException:
                producer.close(timeout=0)
                raise
            self._producer = producer
        return self._producer

    def _drop_producer(self) -> None:
        """Close the producer whatever state its transaction is in (an open transaction is
        aborted by the broker, or by the next producer's `init_transactions`)."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            producer.close(timeout=1)
        except Exception:  # close() flushes first, and a fenced or cut-off producer cannot
            kafka_internals.close_without_flush(producer)


class AckedDelivery:
    """Send, wait for every acknowledgement, then commit the offsets (at least once)."""

    def __init__(self, settings: Settings, group: Group):
        self.settings, self.group = settings, group
        self._producer = None

    def open(self) -> None:
        from labkit.ops import clients

        self._producer = clients.kafka_producer(self.settings, linger_ms=5)

    def publish(self, outgoing: list[Outgoing], offsets: Offsets) -> None:
        """Raises KafkaSendFailed when a record was not acknowledged: calling again sends
        every record again (at least once), and commits only once all were acknowledged."""
        futures = [self._producer.send(topic, value=value, headers=headers, key=key)
                   for topic, value, headers, key in outgoing]
        self._producer.flush(timeout=30)
        failed = [f for f in futures if not (f.is_done and f.succeeded())]
        if failed:
            raise KafkaSendFailed(f"{len(failed)} of {len(futures)} records not acknowledged")
        if offsets:
            self._commit(offsets)

    def _commit(self, offsets: Offsets) -> None:
        try:
            self.group.commit(offsets)
        except _rebalance_errors() as exc:
            raise BatchAbandoned(str(exc)) from exc

    def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.close(timeout=10)
