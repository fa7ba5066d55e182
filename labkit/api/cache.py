"""A one-second answer cache for the routes every dashboard viewer asks alike.

A class of 30 watching the Fleet Map sends the same `/fleet/summary` 30 times every 10 s.
With a thousand cars each answer reads a thousand documents, so computing it per request
does not keep up; computing it once per second and handing that answer to everyone who
asks within the second does. The telemetry arrives once a second per car, so nobody sees
older data than the simulator makes anyway.

Only routes without a time range use it (`from`/`to` differ per viewer, so those answers
would never be shared); they read rollups and indexes instead.

While one request computes an answer, the others asking for the same key wait for it
rather than computing it too (otherwise a slow answer would be computed by every waiting
request at once).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable


class AnswerCache:
    """`get(key, compute)`: `compute()`'s result, computed at most once per `ttl_s` per key."""

    def __init__(self, ttl_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.ttl_s = ttl_s
        self.clock = clock
        self._answers: dict[Hashable, tuple[float, object]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], object]) -> object:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one computation per key at a time; the others wait and reuse it
            cached = self._answers.get(key)
            if cached is not None and self.clock() - cached[0] < self.ttl_s:
                return cached[1]
            value = compute()  # an exception leaves nothing cached: the next request retries
            self._answers[key] = (self.clock(), value)
            return value
