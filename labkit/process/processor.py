"""The stream processor: Kafka -> validate -> decide -> MongoDB -> Kafka transaction.

The whole loop is `Processor.run`: poll a batch, decide what it means, store it, publish and
commit it; then the next. Read it top to bottom; each step says which module does the work:

    poll       the group consumer (labkit.process.source)
    decide     validation, the DLQ guard, duplicates, event-time windows, anomalies: pure
               (labkit.process.validation, .dlq, .decide, .windows, .detectors)
    store      readings, anomalies, dead letters, too-late records, windows: idempotent and
               journaled (labkit.store.sinks); latest states and rollups when they are due,
               and from when they are owed (labkit.process.derived)
    publish    the batch's DLQ and anomaly records and its offsets in one Kafka transaction
    + commit   (labkit.process.delivery)

What keeps it safe sits beside it, behind small interfaces: `self.retry` (labkit.process.retry)
repeats a step that failed temporarily (a transient error) until it succeeds, never skipping a message;
`self.delivery` handles transactions, fencing and producer replacement; `self.source` handles
rebalances, rewinds and lag. Tests pass their own source, delivery and store.

A crash at any point means the batch is read again from the last commit: the store's writes
are idempotent (effectively once in MongoDB), and an unfinished transaction is aborted with
its offsets, so `read_committed` readers see every DLQ and anomaly record exactly once. The
metrics windows go out in transactions of their own, best effort (at most once each).
`ProcessorConfig(transactions=False)` sends, waits for acks and then commits instead
(at-least-once outputs; for comparison).

The detector's per-car history and the event-time windows live in memory: after a failed
batch, or a restart, they start afresh from the committed offsets (a stream engine's
checkpoints would keep them; the rollups, rebuilt from the stored readings, stay exact).
What is owed to the rollups and latest states is in memory too, and stored per partition as
a time: a processor given a partition rebuilds them from that time on before it processes
the partition's first batch.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from labkit.config import Settings
from labkit.contract import to_ms
from labkit.observe.prometheus import ProcessorMetrics
from labkit.ops import clients, preflight
from labkit.process.decide import decide, to_json
from labkit.process.delivery import AckedDelivery, BatchAbandoned, FencedTwice, TransactionalDelivery
from labkit.process.derived import Owed
from labkit.process.detectors import AnomalyDetector
from labkit.process.dlq import DLQGuard
from labkit.process.metrics import Totals, WindowedMetrics, accumulate
from labkit.process.retry import Retry, StopRequested
from labkit.process.source import GroupSource, next_offsets
from labkit.process.validation import validate
from labkit.process.windows import EventTimeWindows
from labkit.store.sinks import MongoStore, Store

log = logging.getLogger("labkit.process")

_INSTANCES = itertools.count(1)  # numbers the processors of this process


@dataclass(frozen=True)
class ProcessorConfig:
    group_id: str = "telemetry-processor"
    #: The most messages one poll returns, written and committed together. Caught up, a poll
    #: returns what has arrived (a few); behind, it returns this many, and what each batch
    #: costs whatever its size (a transaction, the counts of anomalies and dead letters, the
    #: owed times) is shared by more messages.
    batch_size: int = 2000
    poll_timeout_ms: int = 500
    #: Stop when the share of invalid messages among the last `guard_window` exceeds this
    #: (None switches the guard off).
    max_invalid_ratio: float | None = 0.5
    guard_window: int = 500
    guard_min_messages: int = 200
    metrics_window_s: int = 10
    #: Event-time windows (labkit.process.windows): how far out of order events may arrive before
    #: the watermark passes them, and how long after that an emitted window is still revised.
    #: An event later than both is still stored as a reading; it is recorded as too late for
    #: its window (which stays final), in the too-late collection.
    watermark_delay_ms: int = 2_000
    allowed_lateness_ms: int = 60_000
    #: A partition silent this long, with nothing waiting for it at the broker, stops
    #: holding the watermark back.
    watermark_idle_ms: int = 30_000
    #: Publish each batch's DLQ and anomaly records and its offsets in one Kafka
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
    #: Derived writes (labkit.process.derived): a 10 s bucket's rollups are rebuilt once the
    #: watermark has passed it, or after this long at the latest; each car's latest state is
    #: written at most this often. Both are written too whenever the processor is idle or stops.
    rollup_max_wait_ms: int = 15_000
    latest_every_ms: int = 5_000


@dataclass
class RunStats(Totals):
    """What happened to every message this processor read, over all its runs; `seconds`,
    `idle_s` and `stopped_because` describe the last run."""

    retries: int = 0
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
                + (f"{self.too_late} too late for their window (stored), " if self.too_late else "")
                + f"{sum(self.anomalies_by_type.values())} anomalies; stopped: {self.stopped_because}")


class Processor:
    """Consumes the telemetry topic in a consumer group. Build once, `run()` until done.

    `store`, `source` and `delivery` default to the real ones (MongoDB at the settings' URI,
    a group consumer, Kafka transactions), made when `run()` starts; tests pass their own."""

    def __init__(self, settings: Settings, config: ProcessorConfig = ProcessorConfig(),
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 detector: AnomalyDetector | None = None, store: Store | None = None,
                 source: GroupSource | None = None, delivery=None):
        self.settings, self.config, self.clock = settings, config, clock
        self.detector = detector or AnomalyDetector()
        # Unique per instance, not only per process: its metrics windows are keyed by it, and two
        # processors run one after the other in one kernel within 10 s must not share a window.
        self.processor_id = f"{config.worker or socket.gethostname()}-{os.getpid()}-{next(_INSTANCES)}"
        self.metrics = WindowedMetrics(self.processor_id, config.metrics_window_s)
        self.prometheus = ProcessorMetrics()  # served only by `python -m labkit process`
        self.stats = RunStats()
        self._stop = threading.Event()
        self.retry = Retry(self._stop, config.max_backoff_s)
        self.guard = DLQGuard(config.max_invalid_ratio, config.guard_window, config.guard_min_messages)
        self.windows = self._new_windows([])
        self.owed = Owed(config.rollup_max_wait_ms, config.latest_every_ms)
        self._recover: set[int] = set()  # partitions assigned whose owed derived writes are not yet rebuilt
        self._owed_stored: dict[int, int | None] | None = None  # as last stored (None: not known)
        self.source = source or GroupSource(settings, config.group_id, client_id=f"labkit-processor-{self.processor_id}",
                                            max_poll_records=config.batch_size,
                                            session_timeout_ms=config.session_timeout_ms)
        if delivery is None and config.transactions:
            delivery = TransactionalDelivery(settings, config.transactional_id or self._default_transactional_id(),
                                             config.transaction_timeout_ms, group=self.source)
        self.delivery = delivery or AckedDelivery(settings, group=self.source)
        self.store, self._own_store, self._mongo = store, store is None, None
        self._own_source = source is None

    def stop(self) -> None:
        """Ask the loop to finish its current batch and return (thread- and signal-safe)."""
        self._stop.set()

    # ------------------------------------------------------------------ the loop

    def run(self, max_messages: int | None = None, idle_timeout_s: float | None = None) -> RunStats:
        """Process until `max_messages`, `idle_timeout_s` without new messages, or `stop()`.

        Idle means: every assigned partition is read to its end and the broker answers (an
        outage or a rejoin also polls empty; that is waited out). Returns the run's totals.
        Raises DLQGuardTripped (nothing of that batch committed), FencedTwice, or
        preflight.ServiceUnavailable if a service is down at start.
        """
        began, idle = time.monotonic(), IdleTimer()
        self.stats.idle_s = 0.0
        try:
            self._open()
            while True:
                # 0. Stop? When asked to, after max_messages, or once idle: every partition
                #    read to its end, and nothing new for idle_timeout_s.
                self.stats.stopped_because = self._stop_reason(max_messages, idle_timeout_s, idle)
                if self.stats.stopped_because:
                    break

                # 1. Poll: the next batch. A Kafka outage is waited out here (and is not idleness).
                limit = self.config.batch_size
                if max_messages is not None:
                    limit = min(limit, max_messages - self.stats.processed)
                retries = self.retry.retries
                records = self.retry.until_safe("Kafka poll", self.source.poll, self.config.poll_timeout_ms, limit)
                if self.retry.retries > retries:
                    idle.reset()
                if self._recover:  # partitions new to us: first what their last reader owed
                    self.retry.until_safe("rebuild owed rollups and latest states", self._recover_owed)
                if not records:
                    self._pay_owed(self.owed.everything())  # nothing to read: write all that is owed
                    self._publish_metrics(self.metrics.roll(_now_ms()))  # a metrics window may have ended
                    continue
                started, now = time.perf_counter(), self.clock()

                # 2. Decide (no I/O). The DLQ guard looks at validation alone: if most messages
                #    are invalid (a broken producer), it stops before anything is written.
                verdicts = [validate(r.value, now) for r in records]
                self.guard.check(verdicts)
                try:
                    d = decide(records, verdicts, self.detector, self.windows, now, self.source.backlogged())

                    # 3. Store: idempotent and durable, so the commit below can vouch for it.
                    #    A temporary (transient) failure is retried until the step succeeds.
                    store, until_safe = self.store, self.retry.until_safe
                    written = until_safe("store readings", store.insert_events, d.readings)
                    self.owed.add(d.readings, d.partitions, _now_ms(), written.refused)
                    self._pay_owed(self.owed.due(self.windows.watermark(to_ms(now)), _now_ms()))
                    until_safe("store anomalies", store.insert_anomalies, d.anomaly_documents())
                    until_safe("store dead letters", store.insert_dead_letters, d.dead_letter_documents())
                    until_safe("record too-late readings", store.record_too_late, d.too_late, now)
                    until_safe("store event-time windows", store.write_windows, d.emissions, now)

                    # 4. Publish and commit: the DLQ and anomaly records and the offsets, in one
                    #    Kafka transaction (all visible to read_committed readers, or none;
                    #    with transactions=False: sent, acknowledged, then the offsets committed).
                    until_safe("Kafka transaction", self.delivery.publish, d.outgoing(self.settings.topics),
                               next_offsets(records))
                except BatchAbandoned as exc:
                    # A rebalance took partitions away: read the batch again where still ours.
                    self._forget()
                    self.source.rewind(records)
                    log.warning("batch abandoned after a rebalance (%s); it will be read again", exc)
                    idle.reset()
                    continue
                except BaseException:
                    self._forget()  # what the detector and windows saw will be delivered again
                    raise

                # 5. Committed: count it. Duplicates are those decide() saw (twice in the batch,
                #    or recently) plus those MongoDB refused (already stored).
                self.guard.remember(verdicts)
                d.counts.stored, d.counts.duplicates = written.inserted, d.counts.duplicates + written.duplicates
                d.counts.latency_ms = (time.perf_counter() - started) * 1000
                self._count(d.counts)
                idle.reset()  # after the batch: a long retry is not idleness
        except StopRequested as exc:
            self.stats.stopped_because = f"stop requested while {exc} was not yet safe (nothing committed)"
        finally:
            try:
                self._publish_metrics(self.metrics.flush())
                self._pay_owed_once()
            finally:
                self.stats.retries = self.retry.retries
                self.stats.seconds = time.monotonic() - began
                self._close()
                self._stop.clear()  # a stopped processor can run again
        return self.stats

    # ------------------------------------------------------------------ around the loop

    def _stop_reason(self, max_messages: int | None, idle_timeout_s: float | None, idle: IdleTimer) -> str:
        """Why the loop should stop now ("" to go on)."""
        if self._stop.is_set():
            return "stop requested"
        if max_messages is not None and self.stats.processed >= max_messages:
            return f"max_messages={max_messages}"
        if not self.source.assignment():
            idle.reset()  # idle time counts once the group has given us partitions
        if idle_timeout_s is None or idle.seconds < idle_timeout_s:
            return ""
        if not self.source.caught_up():  # an outage or a rejoin polls empty too: not idle
            log.info("no messages, but not caught up with Kafka (outage or rejoin): waiting")
            idle.reset()
            return ""
        self.stats.idle_s = idle.seconds
        return f"idle for {idle_timeout_s:g} s"

    def _open(self) -> None:
        """Check the services, then connect: delivery first (its `init_transactions` settles
        what a crashed predecessor left open), then the store, then join the group."""
        # Fail in seconds with the fix when a service we connect to ourselves is down.
        needed = [name for name, ours in (("kafka", self._own_source), ("mongodb", self._own_store)) if ours]
        if needed:
            preflight.ensure(self.settings, *needed)
        self.retry.until_safe("Kafka transactions init", self.delivery.open)
        if self._own_store:
            # The offset commit vouches for these writes, so each must survive a server crash:
            # journaled (j), and on a majority of a replica set when there is one.
            majority = {"w": "majority"} if "replicaset=" in self.settings.mongodb_uri.lower() else {}
            # A server that is down is noticed at once (2 s to select it); one that is only busy
            # (a class's notebooks on one server) gets a minute per answer. A write that timed out
            # may still have been applied: its retry then finds its events stored and counts them
            # as duplicates (two students at once with 10 s here: "0 stored, 587 duplicates").
            self._mongo = clients.mongo_client(self.settings, serverSelectionTimeoutMS=2000, socketTimeoutMS=60_000,
                                               connectTimeoutMS=2000, journal=True, **majority)
            self.store = MongoStore(self._mongo[self.settings.mongodb_db], self.settings)
        self.retry.until_safe("create indexes", self.store.prepare)
        self.source.open(on_assigned=self._assigned, on_revoked=self._revoked)

    def _close(self) -> None:
        """Close what `_open` opened (each part tolerates never having been opened)."""
        for part in (self.source, self.delivery, self._mongo):
            try:
                if part is not None:
                    part.close()
            except Exception as exc:  # closing must not hide the real outcome
                log.warning("error while closing: %s", exc)
        self._mongo = None
        if self._own_store:
            self.store = None

    def _assigned(self, partitions: list[int]) -> None:
        # Until a new partition delivers, it holds the event-time watermark back.
        self.windows.assign(partitions, to_ms(self.clock()))
        self._recover |= set(partitions)  # done after the poll that called us (no I/O in here)
        self._owed_stored = None
        self._log_assignment("assigned", partitions)

    def _revoked(self, partitions: list[int]) -> None:
        # Nothing is left to commit here: the group calls this from inside a poll (or from
        # close), and every batch is committed, or abandoned, before the next poll.
        self.windows.revoke(partitions)
        self.owed.drop(partitions)  # the next reader rebuilds it from the stored owed time
        self._recover -= set(partitions)
        self._owed_stored = None
        self._log_assignment("revoked", partitions)

    # ------------------------------------------------------------------ derived writes

    def _pay_owed(self, due, attempt=None) -> None:
        """Write `due` (latest states, rollups), then store from when this processor still owes
        derived writes for each partition it reads, if that changed. Both before the commit.
        Each step runs through `attempt(what, action, *args)`: until it succeeds by default."""
        attempt = attempt or self.retry.until_safe
        if due:
            attempt("latest state and rollups", self.store.write_derived, due)
            self.owed.paid(due, _now_ms())
        owed = self.owed.owed_from(self.source.assignment())
        if owed != self._owed_stored:
            attempt("store what is owed", self.store.write_owed, self.config.group_id, self.processor_id, owed)
            self._owed_stored = owed

    def _pay_owed_once(self) -> None:
        """At the end of a run: write all that is owed, one try (a failure is logged; the
        stored owed time makes the next reader rebuild it)."""
        due = self.owed.everything()
        if self.store is None or not due:
            return
        try:
            self._pay_owed(due, attempt=lambda what, action, *args: action(*args))
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.warning("owed rollups and latest states not written at stop (the next run rebuilds them): %s", exc)

    def _recover_owed(self) -> None:
        """Rebuild what the last reader of newly assigned partitions owed (a crash, a
        rebalance), then become the writer of their owed times."""
        partitions = sorted(self._recover)
        self.owed.stored_until(self.store.newest_reading_ms())  # rollups up to it are read back
        since = self.store.owed_since(self.config.group_id, partitions)
        if since is not None:
            log.info("rebuilding rollups and latest states from %s for partitions %s", since, partitions)
            self.store.recover_derived(since)
        self.store.write_owed(self.config.group_id, self.processor_id, self.owed.owed_from(partitions), claim=True)
        self._owed_stored = None  # the next batch stores the times of every partition we read
        self._recover -= set(partitions)

    def _forget(self) -> None:
        """Forget what the detector and the windows saw of an uncommitted batch, as a restart would."""
        self.detector.cars.clear()
        self.windows = self._new_windows(self.source.assignment())

    def _new_windows(self, partitions: list[int]) -> EventTimeWindows:
        windows = EventTimeWindows(size_ms=self.config.metrics_window_s * 1000, delay_ms=self.config.watermark_delay_ms,
                                   allowed_lateness_ms=self.config.allowed_lateness_ms,
                                   idle_ms=self.config.watermark_idle_ms)
        windows.assign(partitions, to_ms(self.clock()))  # the partitions we read still count
        return windows

    def _default_transactional_id(self) -> str:
        tx = f"{self.config.group_id}.tx"
        return f"{tx}.{self.config.worker}" if self.config.worker else tx

    def _count(self, counts) -> None:
        """A committed batch's counts: into the run's totals, Prometheus and the metrics windows."""
        accumulate(self.stats, counts)
        self.stats.retries = self.retry.retries
        lags = self.source.lags()
        known = {p: n for p, n in lags.items() if n is not None}
        self.prometheus.observe(counts, known)
        self._publish_metrics(self.metrics.add(counts, _now_ms(), sum(known.values()), known))

    def _publish_metrics(self, windows: list[dict]) -> None:
        """Store closed metrics windows and publish them in a transaction of their own (no
        offsets). Best effort: a failure is logged and the data path goes on, except
        FencedTwice: a live twin writes with our transactional id, and we must stop."""
        if not windows or self.store is None:
            return
        try:
            self.store.write_metrics(windows)
            outgoing = [(self.settings.topics.metrics, to_json(r), None, self.processor_id.encode()) for r in windows]
            self.delivery.publish(outgoing, {})
        except FencedTwice:
            raise
        except Exception as exc:
            log.warning("metrics window not written: %s", exc)

    def _log_assignment(self, event: str, partitions: list[int]) -> None:
        """Record an assignment change (labkit.scenarios.workers draws them as a timeline).
        Best effort: the log must never stop a rebalance."""
        log.info("%s %s partitions %s", self.processor_id, event, partitions)
        if self.store is None:
            return
        try:
            self.store.log_assignment({
                "group": self.config.group_id, "worker": self.config.worker or self.processor_id,
                "processor_id": self.processor_id, "event": event, "partitions": partitions,
                "at": datetime.now(timezone.utc)})
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.warning("assignment not logged: %s", exc)


class IdleTimer:
    """Seconds since the processor last had something to do."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.since = time.monotonic()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.since


def _now_ms() -> int:
    return int(time.time() * 1000)
