"""What the processor owes the store after the readings: rollups and latest states, written when worth it (pure).

From the readings the store derives each car's latest state and its 10 s and one-minute
rollups (labkit.store.rollups). Writing them after every batch costs an update per car the
batch touches, and on the local server an update costs about seven inserts: with a thousand
cars, a batch of 2,000 readings asked for some 3,000 updates, and the processor drained about
500 messages a second (bench/results/processor.md). So the processor notes here what it owes
and writes it when it is worth writing:

- a 10 s bucket once it is final, when the event-time watermark has passed its end (a late
  reading's bucket is final already, so it is rebuilt in the batch that brought it), or when
  it ended `old_ms` before the newest reading seen (a late reading while the watermark is not
  known yet), or once it has waited `max_wait_ms` (a watermark held back by a quiet partition);
- a one-minute rollup likewise, once its minute is final (or has waited `max_wait_ms` past
  its length): rewriting it whenever one of its six 10 s buckets was rebuilt cost more than
  everything else the rollups did;
- a car's latest state at most every `latest_every_ms`, with its newest reading only (a
  reading older than one already written for the car owes nothing);
- everything when the processor has nothing to read, and when it stops.

What is owed must survive a crash: the batch's offsets are committed once its readings are
stored, and those readings are never delivered again. So with each batch the processor also
stores, per partition it reads, the time from which it owes something (`owed_from`). A
processor given a partition first rebuilds everything from that time on, from the stored
readings, once (labkit.store.mongo.recover_derived).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labkit.contract import WINDOW_MS, bucket_start, to_ms
from labkit.store.rollups import LARGE_MS as MINUTE_MS


@dataclass
class Due:
    """One write of derived data: the rollups to rebuild, the latest states to move forward."""

    buckets: dict[str, set[int]] = field(default_factory=dict)  # car -> 10 s bucket starts (epoch ms)
    minutes: dict[str, set[int]] = field(default_factory=dict)  # car -> minute starts (epoch ms)
    latest: list[dict] = field(default_factory=list)  # per car its newest reading not yet written

    def __bool__(self) -> bool:
        return bool(self.buckets or self.minutes or self.latest)

    def of(self, size_ms: int) -> dict[str, set[int]]:
        return self.minutes if size_ms == MINUTE_MS else self.buckets


class Owed:
    """The derived writes owed for stored readings, per partition and car.

    `add(readings, partitions, now_ms)` once the readings are stored; `due(watermark_ms,
    now_ms)` says what to write now; once written, `paid(due, now_ms)` forgets it. Then
    `owed_from(partitions)` is what must be stored with the batch so that a crash loses nothing."""

    def __init__(self, max_wait_ms: int = 15_000, latest_every_ms: int = 5_000, old_ms: int = 60_000,
                 bucket_ms: int = WINDOW_MS):
        self.max_wait_ms, self.latest_every_ms, self.old_ms = max_wait_ms, latest_every_ms, old_ms
        self.sizes = (bucket_ms, MINUTE_MS)
        self.buckets: dict[tuple[str, int, int], int] = {}  # (car, size, start) -> when first owed (processing ms)
        self.newest: dict[str, dict] = {}  # car -> its newest reading whose latest state is owed
        self.written: dict[str, object] = {}  # car -> the time of the newest reading written as its latest state
        self.partition_of: dict[str, int] = {}  # car -> the partition its readings come from
        self.head = None  # the newest reading time seen (a datetime)
        self.latest_paid_ms: int | None = None

    def add(self, readings: list[dict], partitions: list[int], now_ms: int) -> None:
        """Stored `readings`, read from `partitions` (one per reading), at processing time `now_ms`."""
        for event, partition in zip(readings, partitions):
            car = event["car_id"]
            self.partition_of[car] = partition
            for size in self.sizes:
                self.buckets.setdefault((car, size, bucket_start(to_ms(event["timestamp"]), size)), now_ms)
            if self.head is None or event["timestamp"] > self.head:
                self.head = event["timestamp"]
            if car in self.written and event["timestamp"] <= self.written[car]:
                continue  # its latest state is newer already
            newest = self.newest.get(car)
            if newest is None or event["timestamp"] > newest["timestamp"]:
                self.newest[car] = event
        if self.latest_paid_ms is None:
            self.latest_paid_ms = now_ms  # the interval counts from the first reading owed

    def due(self, watermark_ms: int | None, now_ms: int) -> Due:
        """What to write now: final buckets and minutes, those that waited long enough, and the
        latest states when their interval has passed."""
        due = Due()
        old = to_ms(self.head) - self.old_ms if self.head is not None else None
        for (car, size, start), since in self.buckets.items():
            end = start + size
            waited = now_ms - since >= self.max_wait_ms + size - self.sizes[0]
            if (watermark_ms is not None and end <= watermark_ms) or (old is not None and end <= old) or waited:
                due.of(size).setdefault(car, set()).add(start)
        # A minute is built from its 10 s rollups: the ones still owed are rebuilt with it.
        for car, size, start in self.buckets:
            if size != MINUTE_MS and bucket_start(start, MINUTE_MS) in due.minutes.get(car, ()):
                due.buckets.setdefault(car, set()).add(start)
        last = now_ms if self.latest_paid_ms is None else self.latest_paid_ms
        if self.newest and now_ms - last >= self.latest_every_ms:
            due.latest = list(self.newest.values())
        return due

    def everything(self) -> Due:
        """All that is owed (the processor is idle, or stopping)."""
        due = Due(latest=list(self.newest.values()))
        for car, size, start in self.buckets:
            due.of(size).setdefault(car, set()).add(start)
        return due

    def paid(self, due: Due, now_ms: int) -> None:
        """`due` is written: forget it (what was owed again since, for a newer reading, stays)."""
        for size in self.sizes:
            for car, starts in due.of(size).items():
                for start in starts:
                    self.buckets.pop((car, size, start), None)
        if due.latest:
            for event in due.latest:
                car = event["car_id"]
                if car not in self.written or event["timestamp"] > self.written[car]:
                    self.written[car] = event["timestamp"]
                if self.newest.get(car) is event:
                    del self.newest[car]
            self.latest_paid_ms = now_ms

    def drop(self, partitions) -> None:
        """Partitions handed to another processor: it rebuilds what was owed for them."""
        gone = {car for car, p in self.partition_of.items() if p in set(partitions)}
        self.buckets = {key: since for key, since in self.buckets.items() if key[0] not in gone}
        self.newest = {car: e for car, e in self.newest.items() if car not in gone}

    def owed_from(self, partitions) -> dict[int, int | None]:
        """Per partition, the earliest time (epoch ms) from which something is owed: a
        bucket's or a minute's start, or a latest state's reading time (None: nothing owed)."""
        owed: dict[int, int | None] = {p: None for p in partitions}
        times = [(car, start) for car, _, start in self.buckets]
        times += [(car, to_ms(e["timestamp"])) for car, e in self.newest.items()]
        for car, t in times:
            p = self.partition_of.get(car)
            if p in owed:
                owed[p] = t if owed[p] is None else min(owed[p], t)
        return owed
