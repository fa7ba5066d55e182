"""Send simulator messages to Kafka, confirming every delivery.

Two modes:
- **real time**: each message leaves when its timestamp comes due, on an absolute schedule
  (start + offset), so a long run does not drift the way `sleep(1)` loops do;
- **as fast as possible**: for loading data and benchmarks.

Each send is confirmed by the broker (acks=all, idempotent producer) and counted:
`sent` means acknowledged, `failed` means the client gave up (the error is kept).
Runs are bounded by a message count or a duration, and stop cleanly on request
(`stop` event, Ctrl+C, SIGTERM) after flushing what is in flight.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from labkit.config import Settings
from labkit.ops import preflight
from labkit.ops.clients import kafka_producer
from labkit.simulate.faults import Message

#: Batching for throughput: wait up to 20 ms to fill 64 KB batches.
PRODUCER_TUNING = dict(linger_ms=20, batch_size=64 * 1024, max_in_flight_requests_per_connection=5)


@dataclass
class DeliveryReport:
    """What happened to a run's messages. `delivered[i]` is (partition, offset) of message i,
    or None if it failed or was not confirmed."""

    sent: int = 0
    failed: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    per_partition: Counter = field(default_factory=Counter)
    delivered: list[tuple[int, int] | None] = field(default_factory=list)
    stopped_early: bool = False

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        text = f"sent {self.sent} (confirmed), failed {self.failed}, in {self.seconds:.2f} s ({self.rate:,.0f} msg/s)"
        if self.stopped_early:
            text += ", stopped early on request"
        return text


#: In real time, the longest a message waits for its turn; a later one goes at once.
MAX_WAIT_S = 60.0


def produce(settings: Settings, messages: Iterable[Message], *, realtime: bool = False,
            max_messages: int | None = None, duration_s: float | None = None,
            progress: bool = False, total: int | None = None, stop: threading.Event | None = None,
            topic: str | None = None, producer=None) -> DeliveryReport:
    """Send `messages` to the telemetry topic (or `topic`) and wait for every confirmation.

    In real-time mode a message is sent when wall time reaches the run's start plus (its
    timestamp - the first message's timestamp); messages without a readable timestamp go at once.
    `max_messages` and `duration_s` (wall seconds) bound the run; `stop.set()` ends it
    early. Never raises for a failed send: failures are counted in the report. Raises
    only when Kafka cannot be reached at all: preflight.ServiceUnavailable, in seconds,
    with the fix in the message.
    """
    topic = topic or settings.topics.telemetry
    own_producer = producer is None
    if own_producer:
        preflight.ensure(settings, "kafka")
    producer = producer or kafka_producer(settings, **PRODUCER_TUNING)
    report = DeliveryReport()
    bar = _progress_bar(progress, total or max_messages)
    began = time.monotonic()
    first_ts: datetime | None = None
    # Futures are checked in send order from the main thread, not through per-message
    # callbacks: no lock, no work in the client's I/O thread, and memory stays bounded
    # because confirmed futures are retired as soon as they are done.
    pending: deque = deque()

    try:
        for index, message in enumerate(messages):
            if max_messages is not None and index >= max_messages:
                break
            if duration_s is not None and time.monotonic() - began >= duration_s:
                break
            if stop is not None and stop.is_set():
                report.stopped_early = True
                break
            if realtime and message.timestamp:
                due = _parse(message.timestamp)
                first_ts = first_ts or due
                if due is not None and first_ts is not None:
                    wait = (due - first_ts).total_seconds() - (time.monotonic() - began)
                    # A time far ahead of the stream is not a schedule (a device's clock gone
                    # wrong): send it now rather than stop the stream for days.
                    if 0 < wait <= MAX_WAIT_S and _sleep(wait, stop):
                        report.stopped_early = True
                        break
            report.delivered.append(None)
            pending.append((index, producer.send(topic, key=message.key, value=message.value)))
            while pending and pending[0][1].is_done:
                _retire(report, *pending.popleft())
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:
        report.stopped_early = True
    finally:
        producer.flush()  # wait for every in-flight confirmation before reporting
        while pending:
            _retire(report, *pending.popleft())
        if own_producer:
            producer.close()
        if bar is not None:
            bar.close()
    report.seconds = time.monotonic() - began
    return report


def _retire(report: DeliveryReport, index: int, future) -> None:
    """Count one finished send (flush() has returned, or the future is done)."""
    if future.succeeded():
        metadata = future.value
        report.sent += 1
        report.per_partition[metadata.partition] += 1
        report.delivered[index] = (metadata.partition, metadata.offset)
    else:
        report.failed += 1
        if len(report.errors) < 10:
            exc = future.exception
            report.errors.append(f"{type(exc).__name__}: {exc}")


def _parse(timestamp: str) -> datetime | None:
    """An aware datetime, or None (garbage, or a time without a zone: no schedule to keep)."""
    try:
        at = datetime.fromisoformat(timestamp)
    except (TypeError, ValueError):
        return None
    return at if at.tzinfo is not None else None


def _sleep(seconds: float, stop: threading.Event | None) -> bool:
    """Sleep; return True if asked to stop meanwhile."""
    if stop is None:
        time.sleep(seconds)
        return False
    return stop.wait(seconds)


def _progress_bar(enabled: bool, total: int | None):
    if not enabled:
        return None
    from labkit.ops.progress import Progress

    return Progress(total, "producing")


def truth_rows(messages: list[Message], report: DeliveryReport) -> list[dict]:
    """Ground truth joined with where each message landed: one row per sent message."""
    rows = []
    for message, where in zip(messages, report.delivered):
        rows.append({
            "car_id": message.car_id, "event_id": message.event_id, "seq": message.seq,
            "timestamp": message.timestamp, "labels": sorted(message.labels),
            "partition": where[0] if where else None, "offset": where[1] if where else None,
        })
    return rows
