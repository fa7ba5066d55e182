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

A 10 s rollup is built from the readings the processor itself stored, kept here until the
bucket is written, so writing it reads nothing back (reading the readings back took an eighth of
a 20-car run: bench/results/processor.md). That is exact only when those are all the bucket's
readings, so a bucket is read back from MongoDB instead when it may hold others:

- a reading of the batch was refused as a duplicate (stored before: by a crashed run, or by
  this one before a rebalance made it read the batch again);
- it starts at or before the newest reading stored when the processor got its partitions
  (`stored_until`): an earlier reader may have stored part of it;
- it was written already (a late reading reopens it), or it is older than what is remembered of
  what was written (`FORGET_MS`).

Readings stored around the processor (a DLQ replay) are not seen here: a replay into a bucket
the processor has not written yet (one younger than about 15 s) is rolled up without them
until the bucket is rebuilt; a replay reaches back to readings rejected earlier, whose buckets
are written already, and rebuilds those itself.

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

#: How long the starts of written 10 s buckets are remembered (event time behind the newest
#: reading): a reading older than that is read back with its bucket, whatever it is.
FORGET_MS = 600_000


@dataclass
class Due:
    """One write of derived data: the rollups to rebuild, the latest states to move forward."""

    buckets: dict[str, set[int]] = field(default_factory=dict)  # car -> 10 s bucket starts (epoch ms)
    minutes: dict[str, set[int]] = field(default_factory=dict)  # car -> minute starts (epoch ms)
    latest: list[dict] = field(default_factory=list)  # per car its newest reading not yet written
    known: dict[tuple[str, int], list[dict]] = field(default_factory=dict)  # (car, 10 s start) -> all its readings

    def __bool__(self) -> bool:
        return bool(self.buckets or self.minutes or self.latest)

    def of(self, size_ms: int) -> dict[str, set[int]]:
        return self.minutes if size_ms == MINUTE_MS else self.buckets


class Owed:
    """The derived writes owed for stored readings, per partition and car.

    `stored_until(newest_ms)` when partitions are assigned; `add(readings, partitions, now_ms,
    refused)` once the readings are stored; `due(watermark_ms,
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
        self.readings: dict[tuple[str, int], list[dict] | None] = {}  # (car, 10 s start) -> its readings (None: read back)
        self.rolled: set[tuple[str, int]] = set()  # 10 s buckets written, while remembered
        self.forgotten_ms = float("inf")  # buckets starting at or before this may hold readings not seen here
        self.prune_above = 10_000  # how many written buckets to remember before forgetting the oldest

    def stored_until(self, newest_ms: int | None) -> None:
        """The newest reading stored (epoch ms; None: none) when partitions were assigned: the
        buckets up to it may hold readings stored by an earlier reader."""
        floor = float("-inf") if newest_ms is None else newest_ms
        self.forgotten_ms = floor if self.forgotten_ms == float("inf") else max(self.forgotten_ms, floor)

    def add(self, readings: list[dict], partitions: list[int], now_ms: int, refused=()) -> None:
        """Stored `readings`, read from `partitions` (one per reading), at processing time
        `now_ms`; `refused`: the positions of those MongoDB refused as stored already."""
        refused = set(refused)
        for i, (event, partition) in enumerate(zip(readings, partitions)):
            car = event["car_id"]
            t = to_ms(event["timestamp"])
            self.partition_of[car] = partition
            key = (car, bucket_start(t, self.sizes[0]))
            self.buckets.setdefault((car, self.sizes[0], key[1]), now_ms)
            self.buckets.setdefault((car, MINUTE_MS, bucket_start(t, MINUTE_MS)), now_ms)
            if i in refused or key in self.rolled or key[1] <= self.forgotten_ms:
                self.readings[key] = None  # not all its readings are here: read it back
            elif self.readings.get(key, []) is not None:
                self.readings.setdefault(key, []).append(event)
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
        return self._with_readings(due)

    def _with_readings(self, due: Due) -> Due:
        """`due.known`: the due 10 s buckets whose readings are all here."""
        due.known = {(car, start): self.readings[(car, start)] for car, starts in due.buckets.items()
                     for start in starts if self.readings.get((car, start))}
        return due

    def everything(self) -> Due:
        """All that is owed (the processor is idle, or stopping)."""
        due = Due(latest=list(self.newest.values()))
        for car, size, start in self.buckets:
            due.of(size).setdefault(car, set()).add(start)
        return self._with_readings(due)

    def paid(self, due: Due, now_ms: int) -> None:
        """`due` is written: forget it (what was owed again since, for a newer reading, stays)."""
        for size in self.sizes:
            for car, starts in due.of(size).items():
                for start in starts:
                    self.buckets.pop((car, size, start), None)
        for car, starts in due.buckets.items():
            for start in starts:
                self.readings.pop((car, start), None)
                self.rolled.add((car, start))
        if self.head is not None and len(self.rolled) > self.prune_above:  # remember the last FORGET_MS only
            horizon = to_ms(self.head) - FORGET_MS
            self.rolled = {key for key in self.rolled if key[1] > horizon}
            self.forgotten_ms = max(self.forgotten_ms, horizon)
            self.prune_above = max(10_000, 2 * len(self.rolled))  # a large fleet: not at every batch
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
        self.readings = {key: found for key, found in self.readings.items() if key[0] not in gone}
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
