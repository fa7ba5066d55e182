"""Event-time windows: tumbling windows, a watermark, allowed lateness and late data (pure).

Event time is the `timestamp` a car wrote; processing time is when the processor reads the
event. A network hiccup delays some events, so they arrive after newer ones: counting by
processing time puts them in the wrong window, counting by event time needs to know when
a window has seen (almost) all of its events. That is what a watermark says.

    size_ms              tumbling windows [start, start + size) by event time, per car and fleet-wide
    delay_ms             how much out of order the stream may be: a partition's watermark is the
                         newest event time it has delivered minus this delay
    watermark            the lowest partition watermark: the slowest partition holds it back, and
                         so does an assigned partition that has delivered nothing yet (its backlog
                         may start far back); a partition silent for `idle_ms` of processing time,
                         with nothing waiting for it at the broker, is left out, or an idle
                         partition would hold every window open forever.
                         It never moves back, and when every partition is idle it stays where it
                         is (nothing arrives, so nothing proves time has passed). A new assignment
                         (a rebalance) starts it afresh: the new partitions' backlog decides.
    emitted              the watermark passed the window's end: its count is published (revision 0)
    revised              an event for an emitted window arrived before the watermark passed
                         end + allowed_lateness_ms: the window is published again (revision 1, 2, ...)
    final                the watermark passed end + allowed_lateness_ms: the window never changes again;
                         an event for it is *too late*: counted, not added to the window, and
                         reported to the caller (the processor stores the reading like any
                         other and records it against the window it missed), never dropped

`add()` classifies one event and counts it; `advance()` returns what to publish;
`lateness_trade_off()` measures what each allowed lateness would lose on a recorded stream.
Nothing here does I/O: the tests feed hand-made sequences, and the processor feeds Kafka's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labkit.contract import WINDOW_MS, bucket_start

FLEET = "fleet"  # the key of the fleet-wide windows (car ids are CAR_...)
ON_TIME, LATE, TOO_LATE = "on_time", "late", "too_late"


@dataclass
class Window:
    """One window of one key: its count, and how often it has been published."""

    key: str
    start_ms: int
    size_ms: int
    count: int = 0
    revision: int = -1  # -1: not emitted yet
    dirty: bool = False  # counted events since it was last published
    final: bool = False

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.size_ms


@dataclass
class Emission:
    """A window as published: `state` is emitted (revision 0), revised (1, 2, ...) or final."""

    key: str
    start_ms: int
    size_ms: int
    count: int
    revision: int
    state: str
    watermark_ms: int


@dataclass
class _Partition:
    newest_ms: int | None  # None: assigned, nothing delivered yet
    seen_at_ms: int  # processing time of its last event (or of its assignment)


@dataclass
class EventTimeWindows:
    size_ms: int = WINDOW_MS
    delay_ms: int = 2_000
    allowed_lateness_ms: int = 30_000
    idle_ms: int = 30_000
    windows: dict[tuple[str, int], Window] = field(default_factory=dict)
    partitions: dict[int, _Partition] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {ON_TIME: 0, LATE: 0, TOO_LATE: 0})
    mark: int | None = None  # the watermark so far (never moves back until a new assignment)

    # ------------------------------------------------------------------ the watermark

    def assign(self, partitions, now_ms: int) -> None:
        """Partitions this processor now reads: until they deliver (or go idle), they hold
        the watermark back, which starts afresh when a partition is new to this processor."""
        for p in partitions:
            if p not in self.partitions:
                self.partitions[p] = _Partition(None, now_ms)
                self.mark = None

    def revoke(self, partitions) -> None:
        """Partitions handed to another processor no longer hold the watermark."""
        for p in partitions:
            self.partitions.pop(p, None)

    def backlogged(self, partitions, now_ms: int) -> None:
        """Partitions with messages still waiting at the broker are not idle, however long
        since they last delivered: a backlog read one partition at a time (after a restart or
        an outage) would otherwise let the partitions read first push the watermark past the
        events still waiting in the others, and all of those would be judged too late."""
        for p in partitions:
            if p in self.partitions:
                self.partitions[p].seen_at_ms = now_ms

    def watermark(self, now_ms: int) -> int | None:
        """The watermark at processing time `now_ms`: the lowest mark of the partitions that
        are not idle, or the one before if that is higher (it never moves back); unchanged
        while one that is not idle has delivered nothing, or while every partition is idle;
        None before it has been set."""
        active = [None if s.newest_ms is None else s.newest_ms - self.delay_ms
                  for s in self.partitions.values() if now_ms - s.seen_at_ms < self.idle_ms]
        if active and None not in active:
            lowest = min(active)
            self.mark = lowest if self.mark is None else max(self.mark, lowest)
        return self.mark

    def _known_watermark(self, now_ms: int) -> int:
        mark = self.watermark(now_ms)
        return mark if mark is not None else -(2**62)

    # ------------------------------------------------------------------ events

    def add(self, partition: int, key: str, event_ms: int, now_ms: int) -> str:
        """Count one event of `key` (a car) at event time `event_ms`, read from `partition` at
        processing time `now_ms`. Returns on_time, late (the watermark has passed its window's end:
        the window counts it, and is published again if it was published already) or
        too_late (its window is final: it is not counted in any window; the caller records
        it). The event is judged against the watermark before it arrived."""
        mark = self._known_watermark(now_ms)
        start = bucket_start(event_ms, self.size_ms)
        if start + self.size_ms + self.allowed_lateness_ms <= mark:
            kind = TOO_LATE
        else:
            kind = LATE if start + self.size_ms <= mark else ON_TIME
            for k in (key, FLEET):
                window = self.windows.get((k, start))
                if window is None:
                    window = self.windows[(k, start)] = Window(k, start, self.size_ms)
                window.count += 1
                window.dirty = True
        self.counts[kind] += 1
        seen = self.partitions.setdefault(partition, _Partition(None, now_ms))
        seen.newest_ms = event_ms if seen.newest_ms is None else max(seen.newest_ms, event_ms)
        seen.seen_at_ms = now_ms
        return kind

    def advance(self, now_ms: int) -> list[Emission]:
        """What to publish now, oldest first: windows the watermark has passed (emitted),
        emitted windows with new events (revised), and windows that became final (state
        final; they are forgotten after this). Calling it twice publishes nothing new."""
        mark = self._known_watermark(now_ms)
        out = []
        for slot, w in sorted(self.windows.items(), key=lambda item: (item[1].start_ms, item[0][0])):
            if w.end_ms > mark:
                continue
            if w.dirty:
                w.revision += 1
                w.dirty = False
                out.append(Emission(w.key, w.start_ms, w.size_ms, w.count, w.revision,
                                    "emitted" if w.revision == 0 else "revised", mark))
            if w.end_ms + self.allowed_lateness_ms <= mark:
                out.append(Emission(w.key, w.start_ms, w.size_ms, w.count, w.revision, "final", mark))
                del self.windows[slot]
        return out

    def open_windows(self) -> int:
        return len(self.windows)


def lateness_trade_off(stream: list[dict], delay_ms: int, candidates: list[int],
                       size_ms: int = WINDOW_MS) -> list[dict]:
    """What each allowed lateness would lose on `stream`: one row per candidate, in the order
    given, `{"lateness_s", "too_late", "counted_pct"}`.

    `stream` is `{"car_id", "event_ms", "arrival_ms"}` dicts in arrival order, read as one
    partition; `candidates` are allowed latenesses in seconds. Each candidate gets its own
    `EventTimeWindows(size_ms, delay_ms, allowed_lateness_ms)`: `too_late` counts the readings
    it judges too late, and `counted_pct` the share counted in their window, in percent,
    rounded to 0.1. An empty stream has no share to give: ValueError. Pure.
    """
    if not stream:
        raise ValueError("an empty stream: no readings to count")
    rows = []
    for seconds in candidates:
        windows = EventTimeWindows(size_ms=size_ms, delay_ms=delay_ms, allowed_lateness_ms=seconds * 1000)
        too_late = sum(windows.add(0, e["car_id"], e["event_ms"], e["arrival_ms"]) == TOO_LATE for e in stream)
        rows.append({"lateness_s": seconds, "too_late": too_late,
                     "counted_pct": round(100 * (len(stream) - too_late) / len(stream), 1)})
    return rows
