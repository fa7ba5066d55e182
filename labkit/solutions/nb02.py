"""Solutions for notebook 02 (consume and validate)."""

from __future__ import annotations

from datetime import datetime

from labkit import contract
from labkit.detectors import AnomalyDetector
from labkit.evaluation import detect_offline, score
from labkit.validation import Verdict, validate


def validate_with_city_limit(raw: bytes, now: datetime, limit_kmh: float = 200.0) -> Verdict:
    """Exercise 02.1: a new rule on top of the contract: in the city, over 200 km/h is a
    broken sensor, not driving. Rejected with the reason `range:speed`."""
    verdict = validate(raw, now)
    if verdict.ok and verdict.event["speed"] > limit_kmh:
        return Verdict(False, "range:speed", f"speed={verdict.event['speed']} over the city limit {limit_kmh:g}")
    return verdict


def tuned_temp_rise_threshold(messages, truth, now: datetime, candidates=(0.5, 1.0, 1.5, 2.0, 3.0, 5.0)) -> float:
    """Exercise 02.2: the temp_rise threshold (°C/s) with the best F1 on this batch."""
    def f1(threshold):
        found = detect_offline(messages, AnomalyDetector(temp_rise_c_per_s=threshold), now)
        [row] = score(truth, found, types=["temp_rise"])
        p, r = row["precision"] or 0.0, row["recall"] or 0.0
        return 2 * p * r / (p + r) if p + r else 0.0

    return max(candidates, key=lambda t: (f1(t), t == contract.TEMP_RISE_C_PER_S))
