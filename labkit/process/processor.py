"""The stream processor: Kafka -> validate -> detect -> MongoDB / DLQ / anomalies -> commit.

One loop, one batch at a time:

    poll a batch
    -> validate every message (pure)            labkit.process.validation
    -> DLQ guard (validation results only)      stop before anything is written
    -> event-time windows and the watermark     labkit.process.windows: too-late events are set aside
    -> detect anomalies in the valid ones       labkit.process.detectors
    -> insert valid events into MongoDB         journaled; duplicate _id = already stored
    -> move each car's latest state forward     only with newer data
    -> rebuild the touched 10 s / 1 min rollups labkit.store.rollups (recomputed, never incremented)
    -> store anomalies and dead letters         the API reads the DLQ from MongoDB
    -> store too-late events and the windows    emitted, revised or final since the last batch
    -> one Kafka transaction: the batch's DLQ and anomaly records + its consumer offsets

If MongoDB or Kafka fails, that step is retried with backoff until it succeeds (or a stop
is requested, in which case nothing is committed and the batch is read again next time):
no message is ever skipped. A crash at any point means the batch is read again: the
MongoDB writes are idempotent (effectively-once storage), and the Kafka records of an
unfinished transaction are aborted with its offsets, so `read_committed` readers see every
DLQ, anomaly and metrics record exactly once. `ProcessorConfig(transactions=False)` sends,
waits for acks and then commits instead (at-least-once outputs; for comparison).

The event-time windows live in the processor's memory, like the detector's per-car state:
a restart starts them afresh from the committed offsets, so a window that spans a restart is
published by the new processor with the events it read (a stream engine's checkpoints would
keep them; the rollups, rebuilt from the stored readings, stay exact either way).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from labkit.config import Settings
from labkit.contract import to_ms
from labkit.observe.prometheus import ProcessorMetrics
from labkit.ops import preflight
from labkit.ops.transient import is_transient
from labkit.process import dlq
from labkit.process.detectors import AnomalyDetector
from labkit.process.metrics import BatchCounts, Totals, WindowedMetrics, accumulate
from labkit.process.validation import validate
from labkit.process.windows import LATE, TOO_LATE, EventTimeWindows
from labkit.store.sinks import MongoStore, Store

log = logging.getLogger("labkit.process.processor")

_INSTANCES = itertools.count(1)  # numbers the processors of this process


class DLQGuardTripped(RuntimeError):
    """Too many invalid messages in a row: probably a broken producer, not bad luck.

    Raised before anything of the offending batch is written or committed, so fixing the
    producer (or raising the limit) and restarting loses nothing.
    """

    def __init__(self, ratio: float, window: int, reasons: Counter):
        self.ratio, self.window, self.reasons = ratio, window, reasons
        top = ", ".join(f"{r} x{n}" for r, n in reasons.most_common(3))
        super().__init__(
            f"DLQ guard: {ratio:.0%} of the last {window} messages were invalid ({top}). "
            "Stopped without committing. Check the producer, then restart "
            "(or raise ProcessorConfig.max_invalid_ratio)."
        )


class StopRequested(Exception):
    """A stop arrived while data of the current batch was not yet safe; nothing committed."""


@dataclass(frozen=True)
class ProcessorConfig:
    group_id: str = "telemetry-processor"
    batch_size: int = 500
    poll_timeout_ms: int = 500
    #: Stop when the share of invalid messages among the last `guard_window` exceeds this
    #: (None switches the guard off).
    max_invalid_ratio: float | None = 0.5
    guard_window: int = 500
    guard_min_messages: int = 200
    metrics_window_s: int = 10
    #: Event-time windows (labkit.process.windows): how far out of order events may arrive before
    #: the watermark passes them, and how long after that an emitted window is still revised.
    #: An event later than both is set aside in the too-late collection, not stored as a reading.
    watermark_delay_ms: int = 2_000
    allowed_lateness_ms: int = 60_000
    #: A partition silent this long, with nothing waiting for it at the broker, stops
    #: holding the watermark back.
    watermark_idle_ms: int = 30_000
    #: Publish each batch's DLQ/anomaly/metrics records and its offsets in one Kafka
    #: transaction (exactly-once for read_committed readers). False: send, wait for acks,
    #: then commit offsets (at-least-once outputs); kept for comparison in the benchmark.
    transactions: bool = True
    #: Stable per processor slot, so a restarted processor fences (and aborts) what its
    #: crashed predecessor left open. Default: "<group_id>.tx".
    transactional_id: str | None = None
    #: A name for this processor among the workers of its group (labkit.scenarios.workers: "w1", "w2",
    #: ...). It names the processor in the assignment log and, when `transactional_id` is not
    #: set, gives each worker its own transactional id (two processors sharing one would
    #: fence each other).
    worker: str | None = None
    #: The broker aborts a transaction open longer than this (and fences its producer). A
    #: successor with the same transactional id aborts a crashed one's at once; this limit
    #: only has to outlast the outages a processor should ride through.
    transaction_timeout_ms: int = 60_000
    #: A crashed processor's partitions move to a new one after this long (broker minimum: 6 s).
    session_timeout_ms: int = 6000
    max_backoff_s: float = 8.0


@dataclass
class RunStats(Totals):
    """Totals of one `run()`: what happened to every message read."""

    retries: int = 0
    commits: int = 0
    seconds: float = 0.0
    #: The trailing wait that ended an idle-bounded run (not work, so not in the rate).
    idle_s: float = 0.0
    stopped_because: str = ""

    @property
    def rate(self) -> float:
        busy = self.seconds - self.idle_s
        return self.processed / busy if busy > 0 else 0.0

    def __str__(self) -> str:
        busy = max(0.0, self.seconds - self.idle_s)
        return (f"processed {self.processed} in {busy:.1f} s ({self.rate:,.0f}/s), then idle {self.idle_s:.1f} s: "
                f"{self.stored} stored, {self.duplicates} duplicates, {self.invalid} to the DLQ, "
                + (f"{self.too_late} set aside as too late, " if self.too_late else "")
                + f"{sum(self.anomalies_by_type.values())} anomalies; stopped: {self.stopped_because}")


class KafkaSendFailed(RuntimeError):
    """Some records were not acknowledged; they will be sent again."""


def _authorization_errors() -> tuple:
    from kafka import errors

    return tuple(getattr(errors, name) for name in dir(errors) if name.endswith("AuthorizationFailedError"))


AUTHORIZATION_ERRORS = _authorization_errors()


class BatchAbandoned(Exception):
    """The group rebalanced while this batch was not yet committed: its partitions may belong
    to another processor now, which will read the batch again from the last commit."""


def _retryable(exc: BaseException) -> bool:
    return is_transient(exc) or isinstance(exc, KafkaSendFailed)


class Processor:
    """Consumes the telemetry topic in a consumer group. Build once, `run()` until done."""

    def __init__(self, settings: Settings, config: ProcessorConfig = ProcessorConfig(),
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 detector: AnomalyDetector | None = None, store: Store | None = None):
        """`store` keeps what each batch decided; by default (None) MongoDB at the settings'
        URI, connected by `run()`. Unit tests pass an in-memory one."""
        self.settings = settings
        self.config = config
        self.clock = clock
        self.detector = detector or AnomalyDetector()
        # Unique per instance, not only per process: its metrics windows are keyed by it, and two
        # processors run one after the other in one notebook kernel within the same 10 s must
        # not overwrite each other's window (the second replaced the first's counts).
        self.processor_id = f"{config.worker or socket.gethostname()}-{os.getpid()}-{next(_INSTANCES)}"
        self.metrics = WindowedMetrics(self.processor_id, config.metrics_window_s)
        self.recent_invalid: deque[bool] = deque(maxlen=config.guard_window)
        self.stats = RunStats()
        self.prometheus = ProcessorMetrics()  # served only by `python -m labkit process`
        self._stop = threading.Event()
        self._consumer = None
        self._producer = None
        self.windows = self._new_windows()
        self._mongo = None
        self._own_store = store is None  # made (and closed) by run(), on MongoDB
        self._store: Store | None = store
        self._uncommitted: dict = {}
        self._last_fenced = float("-inf")
        self._commit_unknown = False

    # ------------------------------------------------------------------ lifecycle

    def _new_windows(self) -> EventTimeWindows:
        windows = EventTimeWindows(size_ms=self.config.metrics_window_s * 1000, delay_ms=self.config.watermark_delay_ms,
                                   allowed_lateness_ms=self.config.allowed_lateness_ms,
                                   idle_ms=self.config.watermark_idle_ms)
        if self._consumer is not None:  # afresh after a failed batch: the partitions we read still count
            windows.assign((tp.partition for tp in self._consumer.assignment()), self._clock_ms())
        return windows

    def _default_transactional_id(self) -> str:
        tx = f"{self.config.group_id}.tx"
        return f"{tx}.{self.config.worker}" if self.config.worker else tx

    def _log_assignment(self, event: str, partitions) -> None:
        """Record an assignment change (labkit.scenarios.workers draws them as a timeline). Best effort:
        the log must never stop a rebalance."""
        mine = sorted(tp.partition for tp in partitions if tp.topic == self.settings.topics.telemetry)
        log.info("%s %s partitions %s", self.processor_id, event, mine)
        if self._store is None:
            return
        try:
            self._store.log_assignment({
                "group": self.config.group_id, "worker": self.config.worker or self.processor_id,
                "processor_id": self.processor_id, "event": event, "partitions": mine, "at": datetime.now(timezone.utc)})
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.warning("assignment not logged: %s", exc)

    def _clock_ms(self) -> int:
        """Processing time (the injectable clock) in epoch ms, for the windows' idleness."""
        return to_ms(self.clock())

    def stop(self) -> None:
        """Ask the loop to finish its current batch and return (thread- and signal-safe)."""
        self._stop.set()

    def _connect(self) -> None:
        from kafka.consumer.subscription_state import ConsumerRebalanceListener

        from labkit.ops import clients
        from labkit.ops.kafka_io import make_producer

        preflight.ensure(self.settings, "kafka", "mongodb")
        processor = self

        class CommitOnRevoke(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                processor._commit()  # hand over exactly where we are
                processor.windows.revoke(tp.partition for tp in revoked)
                processor._log_assignment("revoked", revoked)

            def on_partitions_assigned(self, assigned):
                # Until a new partition delivers, it holds the event-time watermark back.
                processor.windows.assign((tp.partition for tp in assigned), processor._clock_ms())
                processor._log_assignment("assigned", assigned)

        self._consumer = clients.kafka_consumer(
            self.settings,  # read_committed; never commits on its own: we commit after the data is safe
            group_id=self.config.group_id,
            auto_offset_reset="earliest",
            max_poll_records=self.config.batch_size,
            session_timeout_ms=self.config.session_timeout_ms,
            heartbeat_interval_ms=max(1000, self.config.session_timeout_ms // 3),
            client_id=f"labkit-processor-{self.processor_id}",
        )
        self._producer = None if self.config.transactions else make_producer(self.settings, linger_ms=5)
        if self.config.transactions:
            # Before reading: `init_transactions` aborts whatever a crashed predecessor with our
            # transactional id left open. Until then its pending offset commit makes the group's
            # offsets "unstable", and the consumer could not even find where to start.
            self._until_safe("Kafka transactions init", self._transactional_producer)
        self._consumer.subscribe([self.settings.topics.telemetry], listener=CommitOnRevoke())
        # The offset commit vouches for these writes, so each must survive a server crash:
        # journaled (j), and on a majority of a replica set when there is one.
        durable = {"journal": True, **({"w": "majority"} if "replicaset=" in self.settings.mongodb_uri.lower() else {})}
        if self._own_store:
            self._mongo = clients.mongo_client(self.settings, serverSelectionTimeoutMS=2000, socketTimeoutMS=10000,
                                               connectTimeoutMS=2000, **durable)
            self._store = MongoStore(self._mongo[self.settings.mongodb_db], self.settings)
        self._until_safe("create indexes", self._store.prepare)

    def _transactional_producer(self):
        """A producer for this processor's transactions (made anew after a failure: a
        failed transaction can leave kafka-python's producer unusable). `init_transactions`
        fences any older producer with the same transactional id: a zombie cannot write."""
        from labkit.ops.kafka_io import make_producer

        if self._producer is None:
            producer = make_producer(self.settings, linger_ms=5, enable_idempotence=True,
                                     transactional_id=self.config.transactional_id or self._default_transactional_id(),
                                     transaction_timeout_ms=self.config.transaction_timeout_ms)
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
        except Exception:
            # close() flushes first, and a fenced or disconnected producer cannot flush. Its
            # buffered records must not be sent anyway: stop its I/O thread and mark it closed,
            # or kafka-python tries (and fails) to close it again when it is collected.
            sender = getattr(producer, "_sender", None)
            if sender is not None:
                sender.force_close()
            producer._closed = True

    def close(self) -> None:
        for closer in (
            lambda: self._consumer and self._consumer.close(autocommit=False),
            lambda: self._producer and self._producer.close(timeout=10),
            lambda: self._mongo and self._mongo.close(),
        ):
            try:
                closer()
            except Exception as exc:  # closing must not hide the real outcome
                log.warning("error while closing: %s", exc)
        self._consumer = self._producer = self._mongo = None
        if self._own_store:
            self._store = None

    def run(self, max_messages: int | None = None, idle_timeout_s: float | None = None) -> RunStats:
        """Process until `max_messages`, `idle_timeout_s` without new messages, or `stop()`.

        Returns the run's totals. Raises DLQGuardTripped (nothing of that batch committed)
        or preflight.ServiceUnavailable if a service is down at start.
        """
        began = time.monotonic()
        last_message = time.monotonic()
        self._uncommitted.clear()  # a stopped run's batch is read again, never committed later
        self._connect()
        try:
            while True:
                if self._stop.is_set():
                    self.stats.stopped_because = "stop requested"
                    break
                if max_messages is not None and self.stats.processed >= max_messages:
                    self.stats.stopped_because = f"max_messages={max_messages}"
                    break
                if not self._consumer.assignment():
                    last_message = time.monotonic()  # idle time counts once we own partitions
                if idle_timeout_s is not None and time.monotonic() - last_message >= idle_timeout_s:
                    # Idle means: the broker answers and we have read every assigned partition
                    # to its end. An unreachable broker, or a consumer still rejoining its group
                    # after an outage, also polls empty: that is to be waited out, not idleness.
                    if not self._caught_up():
                        log.info("no messages, but not caught up with Kafka (outage or rejoin): waiting")
                        last_message = time.monotonic()
                        continue
                    self.stats.idle_s = time.monotonic() - last_message
                    self.stats.stopped_because = f"idle for {idle_timeout_s:g} s"
                    break
                limit = self.config.batch_size
                if max_messages is not None:
                    limit = min(limit, max_messages - self.stats.processed)
                retries = self.stats.retries
                batch = self._until_safe("Kafka poll", lambda limit=limit: self._consumer.poll(
                    timeout_ms=self.config.poll_timeout_ms, max_records=limit))
                if self.stats.retries > retries:
                    last_message = time.monotonic()  # an outage is not idleness
                records = [r for rs in batch.values() for r in rs]
                if records:
                    self.process_batch(records)
                    last_message = time.monotonic()  # after: a long retry is not idleness
                self._write_metrics(self.metrics.roll(_now_ms()))
        except StopRequested as exc:
            self.stats.stopped_because = f"stop requested while {exc} was not yet safe (nothing committed)"
        finally:
            try:
                self._write_metrics(self.metrics.flush())
            except Exception as exc:
                log.warning("could not write the last metrics window: %s", exc)
            self.stats.seconds = time.monotonic() - began
            self.close()
            self._stop.clear()  # a stopped processor can run again
        return self.stats

    def _caught_up(self) -> bool:
        """True when Kafka answers and every assigned partition has been read to its end."""
        if not preflight.check(self.settings, ("kafka",))["kafka"].ok:
            return False
        try:
            assigned = list(self._consumer.assignment())
            ends = self._consumer.end_offsets(assigned)
            return bool(assigned) and all(self._consumer.position(tp) >= end for tp, end in ends.items())
        except Exception:  # the broker went away again meanwhile
            return False

    # ------------------------------------------------------------------ one batch

    def process_batch(self, records: list) -> None:
        """Validate, detect, write, then commit one batch (see the module docstring)."""
        started = time.perf_counter()
        now = self.clock()
        counts = BatchCounts(processed=len(records))
        valid_events, dead, anomalies, seen_ids = [], [], [], set()

        verdicts = [validate(r.value, now) for r in records]
        self.recent_invalid.extend(not v.ok for v in verdicts)
        for r, verdict in zip(records, verdicts):
            if not verdict.ok:
                counts.invalid_by_reason[verdict.reason] += 1
                dead.append(dlq.envelope(verdict, dlq.Source(r.topic, r.partition, r.offset, r.key), r.value, now))
        # The guard looks at validation only, before the detector sees anything of the batch.
        self._check_guard(counts.invalid_by_reason)
        now_ms = to_ms(now)
        self.windows.backlogged(self._backlogged_partitions(), now_ms)
        too_late = []
        try:
            for r, verdict in zip(records, verdicts):
                if not verdict.ok:
                    continue
                event = verdict.event
                counts.valid += 1
                if event["event_id"] in seen_ids or self.detector.is_duplicate(event):
                    counts.duplicates += 1  # redelivered or re-sent: store once, detect once
                    continue
                seen_ids.add(event["event_id"])
                timing = self.windows.add(r.partition, event["car_id"], to_ms(event["timestamp"]), now_ms)
                if timing == TOO_LATE:  # its window is final: set aside, never silently dropped
                    counts.too_late += 1
                    too_late.append(event)
                    continue
                counts.late += timing == LATE
                valid_events.append(event)
                anomalies.extend(self.detector.detect(event))
            emissions = self.windows.advance(now_ms)
            self._write_and_commit(records, valid_events, anomalies, dead, counts, emissions, too_late)
        except BatchAbandoned as exc:
            self.detector.cars.clear()
            self.windows = self._new_windows()
            self._rewind(records)
            self._uncommitted.clear()
            log.warning("batch abandoned after a rebalance (%s); it will be read again", exc)
            return
        except BaseException:
            # The detector and the windows have seen events that are not safe yet; they will
            # be delivered again and must not look like duplicates then. Forget, as a restart would.
            self.detector.cars.clear()
            self.windows = self._new_windows()
            raise
        counts.anomalies_by_type = Counter(a.type for a in anomalies)
        counts.latency_ms = (time.perf_counter() - started) * 1000
        if valid_events:
            counts.newest_event_ms = to_ms(max(e["timestamp"] for e in valid_events))
        accumulate(self.stats, counts)
        by_partition = self._lag_by_partition()
        self.prometheus.observe(counts, by_partition)
        self._write_metrics(self.metrics.add(counts, _now_ms(), None if by_partition is None else sum(by_partition.values()),
                                             by_partition))

    def _write_and_commit(self, records: list, valid_events: list, anomalies: list, dead: list,
                          counts: BatchCounts, emissions: list = (), too_late: list = ()) -> None:
        """The store first (durable, idempotent), then the Kafka records, then the offsets."""
        store = self._store
        result = self._until_safe("store insert", lambda: store.insert_events(valid_events))
        counts.stored, counts.duplicates = result.inserted, counts.duplicates + result.duplicates
        self._until_safe("latest state and rollups", lambda: store.update_derived(valid_events))
        anomaly_docs = [dict(a.as_record(), _id=a.anomaly_id) for a in anomalies]
        self._until_safe("anomaly insert", lambda: store.insert_anomalies(anomaly_docs))
        dead_docs = [dlq.document(value) for value, _ in dead]
        self._until_safe("dead-letter insert", lambda: store.insert_dead_letters(dead_docs))
        at = self.clock()
        mark = self.windows.watermark(to_ms(at))
        self._until_safe("too-late events", lambda: store.set_aside(list(too_late), mark, at))
        self._until_safe("event-time windows", lambda: store.write_windows(list(emissions), at))
        outgoing = [(self.settings.topics.dlq, value, headers, None) for value, headers in dead]
        outgoing += [(self.settings.topics.anomaly, _json(a.as_record()), [("anomaly.type", a.type.encode())], a.car_id.encode())
                     for a in anomalies]
        for r in records:  # offsets to commit: the next one to read, per partition
            self._uncommitted[(r.topic, r.partition)] = r.offset + 1
        self._publish(outgoing)

    def _publish(self, outgoing: list) -> None:
        """Send the batch's Kafka records and commit its offsets (`_uncommitted`): in one
        transaction, or (without transactions) send, wait for the acks, then commit. Raises
        BatchAbandoned when the group took the partitions away meanwhile."""
        if self.config.transactions:
            self._until_safe("Kafka transaction", lambda: self._in_transaction(outgoing, with_offsets=True))
        else:
            self._send_all(outgoing)
            self._until_safe("offset commit", self._commit)

    def _in_transaction(self, outgoing: list, with_offsets: bool) -> None:
        """Send `outgoing` (and the batch's offsets) in one transaction: all visible to
        read_committed readers, or none. On failure the transaction is aborted and the
        producer replaced, so the caller can simply try again."""
        from kafka.errors import (
            CommitFailedError,
            IllegalGenerationError,
            KafkaError,
            ProducerFencedError,
            RebalanceInProgressError,
            UnknownMemberIdError,
        )

        producer = self._transactional_producer()
        if with_offsets and self._commit_unknown:
            # The last attempt failed while committing: the commit may have gone through
            # (the new producer's init completed it). If so, sending again would publish twice.
            self._commit_unknown = False
            if self._offsets_committed():
                self._uncommitted.clear()
                return
        try:
            producer.begin_transaction()
            futures = [producer.send(topic, value=value, headers=headers, key=key)
                       for topic, value, headers, key in outgoing]
            producer.flush(timeout=TRANSACTION_STEP_TIMEOUT_MS / 1000)
            failed = [f for f in futures if not (f.is_done and f.succeeded())]
            if failed:  # a dropped record must not be committed over: abort and try again
                raise KafkaSendFailed(f"{len(failed)} of {len(futures)} records not acknowledged")
            if with_offsets and self._uncommitted:
                offsets, group = self._offsets(), self._consumer.group_metadata()
                if group.generation_id is None or group.generation_id <= 0:
                    raise BatchAbandoned("this consumer is not (or no longer) a member of its group")
                _bounded(producer, lambda tm: tm.send_offsets_to_transaction(offsets, group), "sending offsets")
            self._commit_unknown = with_offsets
            _bounded(producer, lambda tm: tm.begin_commit(), "committing the transaction")
            self._commit_unknown = False
        except (CommitFailedError, IllegalGenerationError, RebalanceInProgressError, UnknownMemberIdError) as exc:
            self._drop_producer()  # closing aborts what was open
            raise BatchAbandoned(str(exc)) from exc
        except ProducerFencedError as exc:
            # Fenced: a newer producer took our transactional id, or the broker timed our
            # transaction out during an outage. Once in a while, start again with a new
            # producer; twice within a minute means a live twin: stop, never write over it.
            self._drop_producer()
            if time.monotonic() - self._last_fenced < 60:
                raise
            self._last_fenced = time.monotonic()
            raise BatchAbandoned(f"producer fenced ({exc})") from exc
        except BatchAbandoned:
            self._drop_producer()
            raise
        except KafkaError as exc:
            self._drop_producer()
            if isinstance(exc, AUTHORIZATION_ERRORS):
                raise
            # Inside a transaction, a new producer cures what this one cannot (abortable
            # errors, lost sequence, a request that timed out): retry, do not exit.
            raise KafkaSendFailed(f"transaction failed ({type(exc).__name__}: {exc})") from exc
        except BaseException:
            self._drop_producer()
            raise
        if with_offsets and self._uncommitted:
            self._uncommitted.clear()
            self.stats.commits += 1

    def _offsets_committed(self) -> bool:
        """True when the group's committed offsets already equal this batch's."""
        from kafka import TopicPartition

        try:
            return all(self._consumer.committed(TopicPartition(t, p)) == o for (t, p), o in self._uncommitted.items())
        except Exception:
            return False

    def _rewind(self, records: list) -> None:
        """Seek back to the first record of the batch in every partition we still own."""
        from kafka import TopicPartition

        first: dict = {}
        for r in records:
            first.setdefault((r.topic, r.partition), r.offset)
        owned = self._consumer.assignment()
        for (topic, partition), offset in first.items():
            tp = TopicPartition(topic, partition)
            if tp in owned:
                self._consumer.seek(tp, offset)

    def _check_guard(self, reasons: Counter) -> None:
        limit = self.config.max_invalid_ratio
        seen = len(self.recent_invalid)
        if limit is None or seen < self.config.guard_min_messages:
            return
        ratio = sum(self.recent_invalid) / seen
        if ratio > limit:
            raise DLQGuardTripped(ratio, seen, reasons)

    def _send_all(self, outgoing: list) -> None:
        """Send every (topic, value, headers, key) and wait until each one is acknowledged;
        records that failed are sent again until they are."""
        remaining = list(outgoing)

        def attempt():
            nonlocal remaining
            futures = [(item, self._producer.send(item[0], value=item[1], headers=item[2], key=item[3]))
                       for item in remaining]
            self._producer.flush(timeout=30)
            remaining = [item for item, f in futures if not (f.is_done and f.succeeded())]
            if remaining:
                raise KafkaSendFailed(f"{len(remaining)} of {len(futures)} records not acknowledged")

        if remaining:
            self._until_safe("Kafka send", attempt)

    def _commit(self) -> None:
        if not self._uncommitted or self._consumer is None or self.config.transactions:
            return  # with transactions, offsets are committed only inside one
        self._consumer.commit(self._offsets())
        self._uncommitted.clear()
        self.stats.commits += 1

    def _offsets(self) -> dict:
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata

        return {TopicPartition(t, p): OffsetAndMetadata(o, "", -1) for (t, p), o in self._uncommitted.items()}

    def _until_safe(self, what: str, action: Callable):
        """Run `action` until it succeeds, backing off on transient errors. Never skips.

        Logs one line when `what` starts failing and one when it recovers, not one per try."""
        delay, failing_since = 0.25, None
        while True:
            try:
                result = action()
                if failing_since is not None:
                    log.warning("%s recovered after %.1f s", what, time.monotonic() - failing_since)
                return result
            except Exception as exc:
                if not _retryable(exc):
                    raise
                self.stats.retries += 1
                if failing_since is None:
                    failing_since = time.monotonic()
                    log.warning("%s failing (%s: %s); retrying with backoff up to %.0f s",
                                what, type(exc).__name__, exc, self.config.max_backoff_s)
                if self._stop.wait(delay):
                    raise StopRequested(what) from exc
                delay = min(delay * 2, self.config.max_backoff_s)

    # ------------------------------------------------------------------ lag and metrics

    def _partition_lags(self) -> dict[int, int | None]:
        """Per assigned partition, the broker's end offset (as of the last fetch) minus our
        position; None while either is not known yet. After a batch is committed the position
        is the committed offset, so this is the lag `kafka_io.consumer_lag` measures at the
        broker (/pipeline/lag/now)."""
        lags = {}
        for tp in self._consumer.assignment():
            try:
                high, position = self._consumer.highwater(tp), self._consumer.position(tp, timeout_ms=0)
            except Exception:  # not known yet, or the partition just moved away
                high = position = None
            lags[tp.partition] = None if high is None or position is None else max(0, high - position)
        return lags

    def _backlogged_partitions(self) -> list[int]:
        """Partitions with messages waiting at the broker, or maybe (lag not known yet): for
        the watermark these are not idle."""
        return [partition for partition, lag in self._partition_lags().items() if lag != 0]

    def _lag_by_partition(self) -> dict[int, int] | None:
        """The known lags, for the metrics; None if the consumer cannot tell now."""
        try:
            return {partition: lag for partition, lag in self._partition_lags().items() if lag is not None}
        except Exception:
            return None

    def _write_metrics(self, windows: list[dict]) -> None:
        """Best effort: metrics never hold up or endanger the data path."""
        if not windows or self._store is None:
            return
        try:
            self._store.write_metrics(windows)
            outgoing = [(self.settings.topics.metrics, _json(r), None, self.processor_id.encode()) for r in windows]
            if self.config.transactions:
                self._in_transaction(outgoing, with_offsets=False)
            else:
                for topic, value, _, key in outgoing:
                    self._producer.send(topic, value=value, key=key)
                self._producer.flush(timeout=10)
        except Exception as exc:
            log.warning("metrics window not written: %s", exc)


#: How long a transaction step may wait for the broker before the producer is replaced.
TRANSACTION_STEP_TIMEOUT_MS = 30_000


def _bounded(producer, start, what: str) -> None:
    """`producer.send_offsets_to_transaction()` and `.commit_transaction()`, with a limit.

    kafka-python waits for their answer without one, and after a broker restart that answer
    can be lost for good (seen in the chaos run: a processor waiting forever). Same steps,
    through the producer's transaction manager, but a timeout raises KafkaTimeoutError, a
    transient error: the caller replaces the producer, whose successor aborts the open
    transaction, and tries the batch again."""
    from kafka.errors import KafkaTimeoutError

    result = start(producer._transaction_manager)
    producer._sender.wakeup()
    if not result.wait(timeout_ms=TRANSACTION_STEP_TIMEOUT_MS):
        raise KafkaTimeoutError(f"no answer from Kafka while {what} within {TRANSACTION_STEP_TIMEOUT_MS // 1000} s")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _json(record: dict) -> bytes:
    return json.dumps(record, default=_default, separators=(",", ":")).encode()


def _default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)
