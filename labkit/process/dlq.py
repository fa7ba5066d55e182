"""Dead-letter records: what was rejected, why, and from where, with the original bytes.

A DLQ record is a JSON envelope (value) plus the same facts as Kafka headers, so tools
can filter by reason without parsing the value:

    {"reason": "range:speed", "reason_class": "range", "detail": "speed=300 outside 0..260",
     "source": {"topic": "car.telemetry.v1", "partition": 2, "offset": 1234, "key": "CAR_007"},
     "failed_at": "2026-11-27T10:00:00.123+00:00",
     "original": {"encoding": "utf-8", "data": "{\\"car_id\\": ...}"}}

`original.encoding` is "utf-8" when the bytes are text, else "base64" (binary garbage
survives the round trip exactly). The processor also stores each record in MongoDB
(`document`), keyed by its source, so the API counts reasons without reading the topic.
The DLQ guard (`DLQGuard`) stops the processor when most messages are invalid: a broken
producer, not bad luck. Pure: nothing here does I/O.
"""

from __future__ import annotations

import base64
import json
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime

from labkit.process.validation import Verdict


@dataclass(frozen=True)
class Source:
    topic: str
    partition: int
    offset: int
    key: bytes | None


def envelope(verdict: Verdict, source: Source, raw: bytes | None, failed_at: datetime) -> tuple[bytes, list]:
    """(value, headers) of the DLQ record for a rejected message."""
    raw = raw or b""
    try:
        original = {"encoding": "utf-8", "data": raw.decode("utf-8")}
    except UnicodeDecodeError:
        original = {"encoding": "base64", "data": base64.b64encode(raw).decode("ascii")}
    key = source.key.decode("utf-8", "replace") if source.key is not None else None
    record = {
        "reason": verdict.reason,
        "reason_class": verdict.reason_class,
        "detail": verdict.detail,
        "source": {"topic": source.topic, "partition": source.partition, "offset": source.offset, "key": key},
        "failed_at": failed_at.isoformat(timespec="milliseconds"),
        "original": original,
    }
    headers = [
        ("dlq.reason", (verdict.reason or "").encode()),
        ("dlq.source.topic", source.topic.encode()),
        ("dlq.source.partition", str(source.partition).encode()),
        ("dlq.source.offset", str(source.offset).encode()),
        ("dlq.failed_at", record["failed_at"].encode()),
    ]
    return json.dumps(record, ensure_ascii=False).encode(), headers


def original_bytes(record: dict) -> bytes:
    """The exact bytes of the rejected message, from a decoded envelope."""
    original = record["original"]
    if original["encoding"] == "base64":
        return base64.b64decode(original["data"])
    return original["data"].encode("utf-8")


def parse(value: bytes) -> dict | None:
    """Decode a DLQ record's value; None if it is not one of ours."""
    try:
        record = json.loads(value)
    except (ValueError, TypeError):
        return None
    return record if isinstance(record, dict) and "original" in record and "reason" in record else None


def source_id(record: dict) -> str:
    """"topic:partition:offset" of the rejected message: one DLQ entry per source message,
    however often it was dead-lettered (the DLQ topic is at-least-once)."""
    src = record["source"]
    return f"{src['topic']}:{src['partition']}:{src['offset']}"


def document(value: bytes) -> dict:
    """A DLQ record's value as its MongoDB document: `_id` from the source, `failed_at` a date."""
    record = json.loads(value)
    return {"_id": source_id(record), **record, "failed_at": datetime.fromisoformat(record["failed_at"])}


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
            "(or raise ProcessorConfig.max_invalid_ratio).")


class DLQGuard:
    """Stops the processor when more than `max_ratio` of the last `window` messages were
    invalid (judged once `min_messages` were seen; `max_ratio=None` switches it off).

    `check` judges a batch together with the history, before anything of it is written;
    `remember` adds it to the history once it is committed. A batch read twice (rewound
    after a rebalance) is remembered once."""

    def __init__(self, max_ratio: float | None = 0.5, window: int = 500, min_messages: int = 200):
        self.max_ratio, self.min_messages = max_ratio, min_messages
        self.history: deque[bool] = deque(maxlen=window)

    def check(self, verdicts: list[Verdict]) -> None:
        if self.max_ratio is None:
            return
        recent = deque(self.history, maxlen=self.history.maxlen)
        recent.extend(not v.ok for v in verdicts)
        if len(recent) < self.min_messages:
            return
        ratio = sum(recent) / len(recent)
        if ratio > self.max_ratio:
            raise DLQGuardTripped(ratio, len(recent), Counter(v.reason for v in verdicts if not v.ok))

    def remember(self, verdicts: list[Verdict]) -> None:
        self.history.extend(not v.ok for v in verdicts)
