"""The newest hour of the processor's metrics windows, held in the API's memory.

Every viewer of the Pipeline Health board asks every 10 s for the last 15 minutes (or hour)
of metrics windows: 90 documents or more per refresh, read again and again although only the
newest one or two changed. Reading them was most of what /pipeline/* cost at 1M events
(bench/results/storage.md). So the API holds the newest `span_ms` of windows and, on each
request, reads only the tail: the windows that start at or after the newest one it holds,
minus `overlap_ms`. A window is written once when it closes (labkit.process.metrics), and rewritten
only by the same processor shortly after, so the tail sees every change; the answer is as
fresh as a direct read.

A range that starts before what is held is read from MongoDB as before. Everything is read
again every `reload_s` and whenever the tail comes back shorter than what is held (windows
deleted, for example by `make reset`), so nothing outside the tail stays wrong for longer.
Pure: MongoDB is reached through the two functions passed in.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable


class RecentWindows:
    """`windows(frm_ms, to_ms)`: the windows that start in [frm_ms, to_ms), oldest first, or
    None when that range starts before the windows held (the caller reads MongoDB).

    `newest(ms)` returns the newest window's start (ms) or None when there is none, looking
    first at the windows from `ms` (the newest one held; None when nothing is held);
    `since(ms)` returns every window that starts at or after `ms`, oldest first."""

    def __init__(self, newest: Callable[[int | None], int | None], since: Callable[[int], list[dict]],
                 span_ms: int = 3_600_000, overlap_ms: int = 120_000, reload_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic):
        self._newest, self._since = newest, since
        self.span_ms, self.overlap_ms, self.reload_s, self.clock = span_ms, overlap_ms, reload_s, clock
        self._docs: list[dict] = []
        self._starts: list[int] = []
        self._held_from: int | None = None  # every window starting at or after this is held
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Load the newest hour now (at the API's start), so no viewer's request waits for it.
        Best effort: with MongoDB down, the first request loads it (or answers 503)."""
        try:
            with self._lock:
                self._refresh()
        except Exception:  # noqa: BLE001 - the API must start without MongoDB; /health says so
            pass

    def windows(self, frm_ms: int, to_ms: int) -> list[dict] | None:
        with self._lock:
            self._refresh()
            if self._held_from is None or frm_ms < self._held_from:
                return None
            lo = bisect.bisect_left(self._starts, frm_ms)
            hi = bisect.bisect_left(self._starts, to_ms)
            return self._docs[lo:hi]

    def _refresh(self) -> None:
        if self._loaded_at is None or self.clock() - self._loaded_at >= self.reload_s or not self._docs:
            self._reload()
            return
        tail_from = self._starts[-1] - self.overlap_ms
        tail = self._since(tail_from)
        keep = bisect.bisect_left(self._starts, tail_from)
        if len(tail) < len(self._docs) - keep:  # windows we hold were deleted: start again
            self._reload()
            return
        self._set(self._docs[:keep] + tail)

    def _reload(self) -> None:
        newest = self._newest(self._starts[-1] if self._starts else None)
        self._loaded_at = self.clock()
        if newest is None:
            # Nothing yet: the next request looks again (an empty list is not cached).
            self._held_from, self._loaded_at = None, None
            self._set([])
            return
        self._held_from = newest - self.span_ms
        self._set(self._since(self._held_from))

    def _set(self, docs: list[dict]) -> None:
        self._docs = docs
        self._starts = [int(d["window_start_ms"]) for d in docs]
