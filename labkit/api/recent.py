"""The newest hour of the processor's metrics windows (or of the anomalies' 10 s counts), held in the API's memory.

Every viewer of the Pipeline Health board asks every 10 s for the last 15 minutes (or hour)
of metrics windows: 90 documents or more per refresh, read again and again although only the
newest one or two changed. Reading them was most of what /pipeline/* cost at 1M events
(bench/results/storage.md). So the API holds the newest `span_ms` of windows and, on each
request, reads only the tail: the windows that start at or after the newest one it holds,
minus `overlap_ms`. A window is written once when it closes (labkit.process.metrics), and rewritten
only by the same processor shortly after, so the tail sees every change; the answer is as
fresh as a direct read. (An anomaly count can be recounted later than the tail reaches: for
those the live API reads everything again every 10 s, `reload_s`.)

A range that starts before what is held is read from MongoDB as before. Everything is read
again every `reload_s` and whenever the tail comes back shorter than what is held (windows
deleted, for example by `make reset`), so nothing outside the tail stays wrong for longer.

Under load even the tail read can keep a viewer waiting: with a thousand cars, the local
server answers it in 2 ms most of the time and in 300 ms when it arrives just behind the
Fleet Map's read of a thousand latest states (bench/bench_live.py --trace). So the API that
serves a live pipeline (`python -m labkit api`) passes `fresh_s`: a request answers from
what is held when it was read less than `fresh_s` ago, and `keep_fresh` reads the tail in
the background while viewers ask, so they find it fresh. Without `fresh_s` (an API in a
notebook) every request reads the tail itself and sees a window the moment it is written.
MongoDB is reached only through the two functions passed in, so the tests use plain lists.
"""

from __future__ import annotations

import asyncio
import bisect
import threading
import time
from collections.abc import Callable


class RecentWindows:
    """`windows(frm_ms, to_ms)`: the windows that start in [frm_ms, to_ms), oldest first, or
    None when that range starts before the windows held (the caller reads MongoDB).

    `newest(ms)` returns the newest window's start (ms) or None when there is none, looking
    first at the windows from `ms` (the newest one held; None when nothing is held);
    `since(ms)` returns every window that starts at or after `ms`, oldest first.

    With `fresh_s` > 0, an answer may be up to `fresh_s` older than the database (what was
    held when it was last read); with 0, every call reads the tail first. `key`: the field
    that holds a document's start (ms); the live API also holds the anomalies' counts per
    10 s bucket this way (`start_ms`)."""

    def __init__(self, newest: Callable[[int | None], int | None], since: Callable[[int], list[dict]],
                 span_ms: int = 3_600_000, overlap_ms: int = 120_000, reload_s: float = 300.0,
                 fresh_s: float = 0.0, key: str = "window_start_ms", clock: Callable[[], float] = time.monotonic):
        self._newest, self._since, self.key = newest, since, key
        self.span_ms, self.overlap_ms, self.reload_s, self.clock = span_ms, overlap_ms, reload_s, clock
        self.fresh_s = fresh_s
        self._docs: list[dict] = []
        self._starts: list[int] = []
        self._held_from: int | None = None  # every window starting at or after this is held
        self._loaded_at: float | None = None
        self._read_at: float | None = None  # when the last read of the tail (or all) began
        self._asked_at: float | None = None
        self._held: tuple[int | None, list[int], list[dict]] = (None, [], [])  # what requests read, replaced whole
        self._lock = threading.Lock()  # one read at a time; a request that finds it fresh does not wait for it

    def warm(self) -> None:
        """Load the newest hour now (at the API's start), so no viewer's request waits for it.
        Best effort: with MongoDB down, the first request loads it (or answers 503)."""
        try:
            with self._lock:
                self._refresh()
        except Exception:  # noqa: BLE001 - the API must start without MongoDB; /health says so
            pass

    def windows(self, frm_ms: int, to_ms: int) -> list[dict] | None:
        self._asked_at = self.clock()
        held_from = self._held[0]
        if held_from is not None and frm_ms < held_from:
            return None  # before what is held (a longer chart): the caller reads MongoDB, no need to wait here
        if not self._fresh():
            with self._lock:
                if not self._fresh():  # a background read may have finished while this waited
                    self._refresh()
        held_from, starts, docs = self._held  # one tuple, replaced whole by _set: never half old, half new
        if held_from is None or frm_ms < held_from:
            return None
        return docs[bisect.bisect_left(starts, frm_ms):bisect.bisect_left(starts, to_ms)]

    def refresh_if_watched(self, watched_s: float = 60.0) -> bool:
        """Read the tail now if a request asked in the last `watched_s` (no viewer, no reads);
        True if it read."""
        if self._asked_at is None or self.clock() - self._asked_at >= watched_s:
            return False
        with self._lock:
            self._refresh()
        return True

    async def keep_fresh(self, every_s: float) -> None:
        """Forever (until cancelled): `refresh_if_watched` every `every_s`, in a worker thread
        since pymongo blocks. `every_s` under `fresh_s` (half of it), so a viewer finds it fresh."""
        while True:
            try:
                await asyncio.to_thread(self.refresh_if_watched)
            except Exception:  # noqa: BLE001 - MongoDB down: requests read it themselves, and answer 503
                pass
            await asyncio.sleep(every_s)

    def _fresh(self) -> bool:
        return (self.fresh_s > 0 and self._read_at is not None and self._held[0] is not None
                and self.clock() - self._read_at < self.fresh_s)

    def _refresh(self) -> None:
        began = self.clock()
        if self._loaded_at is None or self.clock() - self._loaded_at >= self.reload_s or not self._docs:
            self._reload()
        else:
            tail_from = self._starts[-1] - self.overlap_ms
            tail = self._since(tail_from)
            keep = bisect.bisect_left(self._starts, tail_from)
            if len(tail) < len(self._docs) - keep:  # windows we hold were deleted: start again
                self._reload()
            else:
                self._set(self._docs[:keep] + tail)
        self._read_at = began  # what is held is as new as the database was then (a failed read leaves it older)

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
        self._starts = [int(d[self.key]) for d in docs]
        self._held = (self._held_from, self._starts, self._docs)
