"""A one-second answer cache for /fleet/latest and /fleet/summary (and, in the live API, /dlq/reasons), which every viewer asks alike.

A class of 30 watching the Fleet Map sends the same `/fleet/summary` 30 times every 10 s.
With a thousand cars each answer reads a thousand documents, so computing it per request
does not keep up; computing it about once per second and handing that answer to everyone
who asks does. Telemetry arrives once a second per car, so the answer is as fresh as the
data.

How a request is answered (stale-while-revalidate):
- no answer yet, or one older than `max_stale_s`: compute it now and wait for it (so a
  MongoDB outage still becomes a 503 within seconds, not an old answer forever);
- an answer younger than `ttl_s`: return it;
- an older one: return it at once, and refresh it in a background thread (one refresh at
  a time per key), so no request waits for the slow computation.

So an answer can be a second or two older than the data (a dashboard refreshes every
10 s). Routes with a time range do not use it (`from`/`to` differ per viewer, so answers
would never be shared), nor do routes that read a few documents anyway (/cars, /dlq/*),
so a notebook sees its own change at once there. The live API (`python -m labkit api`)
passes /dlq/reasons through it too, so no viewer of the Pipeline Health board waits behind
a busy database (labkit.api.create_app).

Routes with a time range use `SharedAnswers` instead: when Grafana refreshes a board it
sends every panel's request at once with the same `from`/`to` (the Vehicle Metrics board:
four series of one car; Pipeline Health: three panels on the metrics windows). Requests that
arrive while the same question is being answered wait for that answer rather than ask
MongoDB again; nothing is kept after it, so no answer is older than the request.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field


@dataclass
class _Entry:
    """What the cache keeps for one key: its lock (one computation at a time), its answer
    (when it was computed, and the value) once there is one, and whether a background
    refresh runs."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    answer: tuple[float, object] | None = None
    refreshing: bool = False


class AnswerCache:
    """`get(key, compute)`: an answer of `compute()` at most `ttl_s` old, or refreshed behind
    the caller's back when older (at most `max_stale_s`).

    At most `max_keys` keys are kept, each with its answer and its lock: keys carry values the
    client chooses (`offline_after_s`), so without a bound any client could grow the API's
    memory. When a new key would exceed it, the least recently asked key is forgotten; asked
    again, it is computed again."""

    def __init__(self, ttl_s: float = 1.0, max_stale_s: float = 10.0, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 1024):
        self.ttl_s = ttl_s
        self.max_stale_s = max_stale_s
        self.clock = clock
        self.max_keys = max_keys
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()  # least recently asked first
        self._guard = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], object]) -> object:
        entry = self._entry(key)
        cached = entry.answer
        if cached is not None:
            age = self.clock() - cached[0]
            if age < self.ttl_s:
                return cached[1]
            if age < self.max_stale_s:
                self._refresh_in_background(key, entry, compute)
                return cached[1]
        with entry.lock:  # one computation per key; the others wait and reuse it
            cached = entry.answer
            if cached is not None and self.clock() - cached[0] < self.ttl_s:
                return cached[1]
            return self._compute(entry, compute)

    def _entry(self, key: Hashable) -> _Entry:
        """The key's entry, made the most recently asked; a new one may push out the oldest."""
        with self._guard:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
                if len(self._entries) > self.max_keys:
                    # A computation still running on the forgotten entry finishes; its answer is dropped.
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(key)
            return entry

    def _compute(self, entry: _Entry, compute: Callable[[], object]) -> object:
        value = compute()  # an exception leaves the old answer (or none): the next request retries
        entry.answer = (self.clock(), value)
        return value

    def _refresh_in_background(self, key: Hashable, entry: _Entry, compute: Callable[[], object]) -> None:
        with self._guard:
            if entry.refreshing:
                return
            entry.refreshing = True

        def refresh():
            try:
                with entry.lock:
                    self._compute(entry, compute)
            except Exception:  # noqa: BLE001 - the answer stays; it is computed in the foreground when too old
                pass
            finally:
                with self._guard:
                    entry.refreshing = False

        threading.Thread(target=refresh, daemon=True, name=f"refresh {key}").start()


class SharedAnswers:
    """`get(key, compute)`: `compute()`, or the result of the same key's computation already
    running (its value, or its exception raised again). Nothing is cached afterwards."""

    def __init__(self):
        self._running: dict[Hashable, Future] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], object]) -> object:
        with self._guard:
            running = self._running.get(key)
            if running is None:
                running = self._running[key] = Future()
                mine = True
            else:
                mine = False
        if not mine:
            return running.result()
        try:
            value = compute()
        except BaseException as exc:
            running.set_exception(exc)
            raise
        else:
            running.set_result(value)
            return value
        finally:
            with self._guard:
                del self._running[key]
