"""Pipeline metrics aggregated per time window (one record per window, not per event).

The original emitted one metric message per occurrence and re-counted them on restart.
Here the processor adds each batch's counts to the open window; when the window closes,
one record goes to the metrics topic and the `pipeline_metrics` collection, keyed by
(processor id, window start) so writing it twice changes nothing. Pure: the caller
passes the time in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from labkit.contract import WINDOW_MS, bucket_start
from labkit.contract.counters import BY_LABEL, COUNTERS, Counts

WINDOW_S = WINDOW_MS // 1000


@dataclass
class Totals(Counts):
    """The counts every summary of processed batches shares (a window, a whole run): the
    plain counters (labkit.contract.counters), and the counts by label with their total."""

    invalid: int = 0  # the total of invalid_by_reason
    invalid_by_reason: Counter = field(default_factory=Counter)
    anomalies_by_type: Counter = field(default_factory=Counter)
    batches: int = 0


@dataclass
class Window(Totals):
    start_ms: int = 0
    batch_latency_ms_total: float = 0.0
    batch_latency_ms_max: float = 0.0
    lag: int | None = None
    lag_by_partition: dict[int, int] = field(default_factory=dict)
    newest_event_ms: int | None = None

    def record(self, processor_id: str, window_s: int) -> dict:
        return {
            "_id": f"{processor_id}:{self.start_ms}",
            "processor_id": processor_id,
            "window_start_ms": self.start_ms,
            "window_s": window_s,
            **{name: getattr(self, name) for name in COUNTERS},
            # "invalid" and "anomalies": the totals of the counts by label
            **{total: sum(getattr(self, by_label).values()) for total, by_label in BY_LABEL.items()},
            "invalid_by_reason": dict(self.invalid_by_reason),
            "anomalies_by_type": dict(self.anomalies_by_type),
            "batches": self.batches,
            "batch_latency_ms_avg": round(self.batch_latency_ms_total / self.batches, 2) if self.batches else 0.0,
            "batch_latency_ms_max": round(self.batch_latency_ms_max, 2),
            "consumer_lag": self.lag,
            "lag_by_partition": {str(p): n for p, n in sorted(self.lag_by_partition.items())},
            "newest_event_ms": self.newest_event_ms,
        }


@dataclass
class BatchCounts(Counts):
    """What one processed batch contributes to the metrics: the plain counters
    (labkit.contract.counters) and the counts by label."""

    invalid_by_reason: Counter = field(default_factory=Counter)
    anomalies_by_type: Counter = field(default_factory=Counter)
    latency_ms: float = 0.0
    newest_event_ms: int | None = None


def accumulate(target: Totals, counts: BatchCounts) -> None:
    """Add one batch's counts to a window or a run's totals."""
    for name in COUNTERS:
        setattr(target, name, getattr(target, name) + getattr(counts, name))
    target.invalid += sum(counts.invalid_by_reason.values())
    target.invalid_by_reason.update(counts.invalid_by_reason)
    target.anomalies_by_type.update(counts.anomalies_by_type)
    target.batches += 1


class WindowedMetrics:
    """Accumulates batch counts into fixed windows of `window_s` seconds (processing time)."""

    def __init__(self, processor_id: str, window_s: int = WINDOW_S):
        self.processor_id = processor_id
        self.window_s = window_s
        self.current: Window | None = None
        self.totals = Window(start_ms=0)

    def add(self, counts: BatchCounts, now_ms: int, lag: int | None = None,
            lag_by_partition: dict[int, int] | None = None) -> list[dict]:
        """Add one batch; return the records of windows that closed (0 or 1). `lag` is the
        total after the batch, `lag_by_partition` its parts (the last batch's figures win)."""
        closed = self.roll(now_ms)
        if self.current is None:
            self.current = Window(start_ms=bucket_start(now_ms, self.window_s * 1000))
        for window in (self.current, self.totals):
            accumulate(window, counts)
            window.batch_latency_ms_total += counts.latency_ms
            window.batch_latency_ms_max = max(window.batch_latency_ms_max, counts.latency_ms)
            if counts.newest_event_ms is not None:
                window.newest_event_ms = max(window.newest_event_ms or 0, counts.newest_event_ms)
            if lag is not None:
                window.lag = lag
            if lag_by_partition:
                window.lag_by_partition = {**window.lag_by_partition, **lag_by_partition}
        return closed

    def roll(self, now_ms: int) -> list[dict]:
        """Close the open window if `now_ms` is past its end."""
        if self.current is not None and now_ms >= self.current.start_ms + self.window_s * 1000:
            closed = self.current.record(self.processor_id, self.window_s)
            self.current = None
            return [closed]
        return []

    def flush(self) -> list[dict]:
        """Close the open window now (at shutdown), whatever the time."""
        if self.current is None:
            return []
        closed = self.current.record(self.processor_id, self.window_s)
        self.current = None
        return [closed]
