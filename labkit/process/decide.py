"""Decide what one batch means: what to store, dead-letter and publish. No I/O.

Given the batch's records, their validation verdicts, and the processor's in-memory state
(the anomaly detector's per-car history and the event-time windows, both updated here),
`decide` returns a `Decision`; the processor then stores it and publishes it. Every valid
event that is not a duplicate is stored as a reading, whatever its lateness: lateness decides
only what the event-time windows publish. An event whose window is already final (too late)
is not counted into it (a published final window stays final); it is recorded against the
window it missed, as a side output.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from labkit.config import Topics
from labkit.contract import bucket_start, to_ms
from labkit.process import dlq
from labkit.process.detectors import Anomaly, AnomalyDetector
from labkit.process.metrics import BatchCounts
from labkit.process.validation import Verdict
from labkit.process.windows import LATE, TOO_LATE, Emission, EventTimeWindows


@dataclass
class Decision:
    readings: list[dict] = field(default_factory=list)  # valid, first seen: stored in car_telemetry
    partitions: list[int] = field(default_factory=list)  # the partition each reading was read from
    anomalies: list[Anomaly] = field(default_factory=list)
    dead: list[tuple[bytes, list]] = field(default_factory=list)  # DLQ records: (value, headers)
    too_late: list[dict] = field(default_factory=list)  # side output: the final windows readings missed
    emissions: list[Emission] = field(default_factory=list)  # windows to publish (emitted, revised, final)
    counts: BatchCounts = field(default_factory=BatchCounts)

    def anomaly_documents(self) -> list[dict]:
        return [dict(a.as_record(), _id=a.anomaly_id) for a in self.anomalies]

    def dead_letter_documents(self) -> list[dict]:
        return [dlq.document(value) for value, _ in self.dead]

    def outgoing(self, topics: Topics) -> list[tuple]:
        """The batch's Kafka records, as (topic, value, headers, key)."""
        out = [(topics.dlq, value, headers, None) for value, headers in self.dead]
        out += [(topics.anomaly, to_json(a.as_record()), [("anomaly.type", a.type.encode())], a.car_id.encode())
                for a in self.anomalies]
        return out


def decide(records, verdicts: list[Verdict], detector: AnomalyDetector, windows: EventTimeWindows,
           now: datetime, backlogged: list[int] = ()) -> Decision:
    """Judge one batch: `records` (topic, partition, offset, key, value) and their verdicts, in
    order. Duplicates (within the batch, or seen recently by the detector) are counted, not
    stored twice; the detector and the windows see each new valid event once. `backlogged`:
    the partitions with messages still waiting at the broker (they hold the watermark)."""
    d = Decision(counts=BatchCounts(processed=len(records)))
    now_ms, seen = to_ms(now), set()
    windows.backlogged(backlogged, now_ms)
    for r, verdict in zip(records, verdicts):
        if not verdict.ok:
            d.counts.invalid_by_reason[verdict.reason] += 1
            d.dead.append(dlq.envelope(verdict, dlq.Source(r.topic, r.partition, r.offset, r.key), r.value, now))
            continue
        event = verdict.event
        d.counts.valid += 1
        if event["event_id"] in seen or detector.is_duplicate(event):
            d.counts.duplicates += 1  # redelivered or sent twice: stored once, detected once
            continue
        seen.add(event["event_id"])
        event_ms = to_ms(event["timestamp"])
        timing = windows.add(r.partition, event["car_id"], event_ms, now_ms)
        d.counts.late += timing == LATE
        if timing == TOO_LATE:
            d.counts.too_late += 1
            d.too_late.append({"_id": event["event_id"], "car_id": event["car_id"], "timestamp": event["timestamp"],
                               "window_start_ms": bucket_start(event_ms, windows.size_ms),
                               "watermark_ms": windows.watermark(now_ms)})
        d.readings.append(event)
        d.partitions.append(r.partition)
        d.anomalies.extend(detector.detect(event))
    d.emissions = windows.advance(now_ms)
    d.counts.anomalies_by_type = Counter(a.type for a in d.anomalies)
    if d.readings:
        d.counts.newest_event_ms = to_ms(max(e["timestamp"] for e in d.readings))
    return d


def to_json(record: dict) -> bytes:
    """Compact JSON, datetimes as ISO-8601."""
    return json.dumps(record, default=_iso, separators=(",", ":")).encode()


def _iso(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)
