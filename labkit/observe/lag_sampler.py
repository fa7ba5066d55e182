"""Consumer lag measured at the broker, sampled over time: what a stopped processor cannot hide.

    sampler = LagSampler(lambda: kafka_io.lag_by_partition(settings, group, topic), every_s=5)
    sampler.sample()                      # one measurement now, kept
    await sampler.run()                   # forever, every `every_s` seconds (the API's lifespan)
    sampler.between(start, end)           # [{"t", "total", "p0", "p1", ...}], oldest first

The processor reports its own lag with each metrics window, so when it stops, so do its
reports: a chart of them goes flat, or silent, just when the lag grows. The broker knows
both numbers (each partition's end offset and the group's committed offset) whether or not
anyone is consuming, so lag sampled there keeps rising. The samples are kept in memory
(the newest `keep`), like a small Prometheus; the API serves them as
`/pipeline/lag/broker`, which the Pipeline Health board draws.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone

#: A measurement: one row per partition with at least {"partition", "lag"}
#: (labkit.ops.kafka_io.lag_by_partition).
Measure = Callable[[], list[dict]]


def lag_row(rows: list[dict], at: datetime) -> dict:
    """One sample, shaped like the processor's lag rows (`labkit.store.queries.lag_of`):
    `{"t", "total", "p0", "p1", ...}`. Pure."""
    row = {"t": at, "total": sum(r["lag"] for r in rows)}
    row.update({f"p{r['partition']}": r["lag"] for r in sorted(rows, key=lambda r: r["partition"])})
    return row


class LagSampler:
    """Measures with `measure()` every `every_s` seconds and keeps the newest `keep` samples.
    A failed measurement (Kafka down) is skipped, not kept: the chart shows a gap."""

    def __init__(self, measure: Measure, every_s: float = 5.0, keep: int = 720,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.measure, self.every_s, self.clock = measure, every_s, clock
        self._samples: deque[dict] = deque(maxlen=keep)
        self._lock = threading.Lock()  # samples are written by the sampling task, read by requests

    def sample(self) -> dict:
        """Measure now and keep the sample; returns it. Raises what `measure` raises."""
        row = lag_row(self.measure(), self.clock())
        with self._lock:
            self._samples.append(row)
        return row

    async def run(self) -> None:
        """Sample forever (until cancelled); each measurement runs in a worker thread, since
        the Kafka client blocks."""
        while True:
            try:
                await asyncio.to_thread(self.sample)
            except Exception:  # noqa: BLE001  (Kafka down or slow: a gap in the chart, not a dead task)
                pass
            await asyncio.sleep(self.every_s)

    def between(self, start: datetime, end: datetime) -> list[dict]:
        """The kept samples with start <= t < end, oldest first."""
        with self._lock:
            return [row for row in self._samples if start <= row["t"] < end]
