"""DLQ replay: re-validate dead-lettered messages with today's rules and store those that pass.

When a rule was too strict (or a bug in the validator is fixed), the rejected events are
not lost: they sit in the DLQ with their original bytes. Replay reads the DLQ, keeps the
records that match a filter (reason, failure time), validates each original message
again and stores the ones that now pass through the processor's own store (labkit.store.sinks):
the readings under their own `event_id`, each car's latest state and rollups, and the
anomalies a fresh detector finds in them (per car, in event-time order; the rules see every
event, the per-car detectors compare replayed events with each other only). Replaying twice
stores nothing twice. Anomalies go to MongoDB, not to the anomaly topic (replay is not a
transaction with offsets). Records that still fail stay in the DLQ (replay never deletes).
A dry run reports what would happen and writes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

from labkit.config import Settings
from labkit.ops import clients, kafka_io
from labkit.process import dlq
from labkit.process.detectors import AnomalyDetector
from labkit.process.validation import validate
from labkit.store.sinks import MongoStore


@dataclass
class ReplayReport:
    dry_run: bool
    examined: int = 0  # distinct source messages among the DLQ records read (the DLQ is at-least-once)
    matched: int = 0  # ... that passed the filter
    now_valid: int = 0  # ... that pass validation today
    inserted: int = 0  # ... newly stored
    already_stored: int = 0  # ... stored before (an earlier replay)
    anomalies: int = 0  # anomalies found in the replayed events (newly stored, unless a dry run)
    still_invalid: Counter = field(default_factory=Counter)  # reason -> count

    def __str__(self) -> str:
        verb = "would store" if self.dry_run else "stored"
        return (f"{'DRY RUN: ' if self.dry_run else ''}examined {self.examined} dead-lettered messages, {self.matched} matched; "
                f"{self.now_valid} now valid ({verb} {self.inserted if not self.dry_run else self.now_valid}, "
                f"already stored {self.already_stored}; {self.anomalies} {'anomalies found' if self.dry_run else 'new anomalies'}); "
                f"still invalid: {dict(self.still_invalid) or 0}")


def matches(record: dict, reasons: list[str] | None, since: datetime | None, until: datetime | None) -> bool:
    """Reason filter matches the full code or its class (`range` matches `range:speed`)."""
    if reasons and record["reason"] not in reasons and record.get("reason_class") not in reasons:
        return False
    failed_at = datetime.fromisoformat(record["failed_at"])
    return (since is None or failed_at >= since) and (until is None or failed_at < until)


def replay(settings: Settings, reasons: list[str] | None = None, since: datetime | None = None,
           until: datetime | None = None, dry_run: bool = True, ranges: dict | None = None,
           now: datetime | None = None, max_records: int = 1_000_000) -> ReplayReport:
    """Replay the DLQ (see the module docstring). `ranges` tries relaxed validation ranges."""

    now = now or datetime.now(timezone.utc)
    report = ReplayReport(dry_run=dry_run)
    seen_sources = set()
    passing = []
    for record in kafka_io.read_topic(settings, settings.topics.dlq, max_messages=max_records, timeout_s=60):
        envelope = dlq.parse(record.value)
        if envelope is None:
            continue
        source = tuple(envelope["source"][k] for k in ("topic", "partition", "offset"))
        if source in seen_sources:  # the DLQ is at-least-once: one replay per source message
            continue
        seen_sources.add(source)
        report.examined += 1
        if not matches(envelope, reasons, since, until):
            continue
        report.matched += 1
        verdict = validate(dlq.original_bytes(envelope), now, ranges)
        if verdict.ok:
            report.now_valid += 1
            passing.append(verdict.event)
        else:
            report.still_invalid[verdict.reason] += 1
    unique = sorted({e["event_id"]: e for e in passing}.values(), key=lambda e: e["timestamp"])
    detector = AnomalyDetector()
    anomalies = [dict(a.as_record(), _id=a.anomaly_id) for e in unique for a in detector.detect(e)]
    if dry_run or not passing:
        report.anomalies = len(anomalies)  # found; a dry run stores none of them
        return report
    client = clients.mongo_client(settings)
    try:
        store = MongoStore(client[settings.mongodb_db], settings)
        store.prepare()
        result = store.insert_events(unique)
        store.update_derived(unique)
        report.anomalies = store.insert_anomalies(anomalies).inserted
        report.inserted, report.already_stored = result.inserted, result.duplicates
    finally:
        client.close()
    return report
