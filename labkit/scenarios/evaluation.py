"""Score detection against the simulator's ground truth: precision and recall per type. Pure."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from labkit import contract
from labkit.process.detectors import STUCK_FIELDS, AnomalyDetector
from labkit.process.validation import validate
from labkit.simulate.faults import Message


def truth_pairs(messages: Iterable[Message]) -> set[tuple[str, str]]:
    """(event_id, anomaly type) for every injected anomaly in a valid message."""
    return {(m.event_id, kind) for m in messages if m.is_valid for kind in m.anomalies()}


def score(truth: set[tuple[str, str]], detected: set[tuple[str, str]],
          types: Iterable[str] = contract.ANOMALY_TYPES) -> list[dict]:
    """One row per anomaly type: true/false positives, misses, precision, recall.

    Precision = of what was flagged, how much was real; recall = of what was real, how much
    was flagged. None when undefined (nothing flagged / nothing injected).
    """
    rows = []
    for kind in types:
        t = {e for e, k in truth if k == kind}
        d = {e for e, k in detected if k == kind}
        tp, fp, fn = len(t & d), len(d - t), len(t - d)
        rows.append({
            "type": kind, "injected": len(t), "flagged": len(d), "true_pos": tp, "false_pos": fp, "missed": fn,
            "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / (tp + fn), 3) if tp + fn else None,
        })
    return rows


def f1(row: dict) -> float | None:
    """F1 of one `score` row, from its counts: 2·TP / (2·TP + FP + missed), which is
    2·P·R / (P + R) without the rounding of P and R. High only when precision and recall both
    are; 0.0 when nothing flagged was real; None when nothing was injected nor flagged."""
    tp, fp, fn = row["true_pos"], row["false_pos"], row["missed"]
    return round(2 * tp / (2 * tp + fp + fn), 3) if tp + fp + fn else None


def detect_offline(messages: Iterable[Message], detector: AnomalyDetector, now: datetime) -> set[tuple[str, str]]:
    """Run validation and `detector` over messages in order, as the processor would, without
    Kafka or MongoDB: (event_id, type) of everything flagged. For tuning experiments."""
    found = set()
    for m in messages:
        verdict = validate(m.value, now)
        if verdict.ok:
            found |= {(a.event_id, a.type) for a in detector.detect(verdict.event)}
    return found


def readings_by_car(batch: Iterable[Message]) -> dict[str, list[dict]]:
    """Each car's valid readings in a batch of messages, once each (a duplicate left out), in
    the order they were measured: {car_id: [{"event_id", "speed", "rpm", "engine_temp"}, ...]},
    what a per-car detector such as the stuck-sensor one reads (pure)."""
    seen, by_car = set(), {}
    events = [json.loads(m.value) for m in batch if m.is_valid]
    for e in sorted(events, key=lambda e: (e["car_id"], e["timestamp"])):
        if e["event_id"] in seen:
            continue
        seen.add(e["event_id"])
        by_car.setdefault(e["car_id"], []).append({k: e[k] for k in ("event_id", *STUCK_FIELDS)})
    return by_car
