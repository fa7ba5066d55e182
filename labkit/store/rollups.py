"""The computed pattern: per-car summaries of every metric per 10 s and per minute, by event time.

A chart of one car over 30 minutes in 10 s buckets needs 180 numbers, yet computing them
from the readings means fetching 1,800 documents. The computed pattern keeps one small
document per car and bucket instead:

    {"_id": "CAR_001:10000:1764230400000", "car_id": "CAR_001", "size_ms": 10000,
     "start_ms": 1764230400000, "start": <date>, "count": 10,
     "speed": {"sum": 512.3, "min": 48.0, "max": 54.1}, "rpm": {...}, ...}

so the same chart reads 180 documents (or 30 one-minute ones).

A one-minute document also carries its six 10 s rollups in a list, `tens` (the shape of the
bucket pattern, many entries in one document, but the entries are summaries: the bucket
pattern proper groups raw measurements, as a time-series collection does). A chart in 10 s buckets then reads
one document per minute it touches, 31 documents for 30 minutes instead of 180, in one
query: at the chart's edges only the `tens` inside its range count. On the local server a
query costs about 2 ms before it reads anything, and a minute document about 0.3 ms
(bench/results/storage.md), so this is most of what a dashboard's series panel waits for. The 10 s documents are what a minute is
rebuilt from.

Why the rollups are *recomputed*, not incremented: Kafka delivers at least once, and the
processor may write a batch twice after a crash. `$inc` by a redelivered event would count
it twice. Here a bucket's document is rebuilt from the stored readings of that bucket (whose
`_id` is the event id, so each event is stored once), and written as an insert, or over the
stored one: writing it twice gives the same document, and a late event simply makes its
bucket be rebuilt again.
Two writers (two processors during a rebalance, or a replay beside the processor) can rebuild
one bucket at once, and the one that read fewer readings may write last. Readings are only
ever added, so the rebuild that read more is the newer truth: a rollup replaces a stored one
only when its `count` is at least as high (`write_forward`). The whole document is replaced,
not each field by `$max` as the anomaly and dead-letter counts are: a sum, a minimum and a
maximum taken from different reads would describe no set of readings.
A one-minute rollup is rebuilt from its six 10 s rollups (just rebuilt), which is cheaper than
from the readings.

Pure parts (`touched_runs`, `Partial`, `combine`, `rows_from_readings`, the pipeline
builders) do no I/O and are unit-tested; `refresh` (per car, for a replay or a loaded
dataset) and `rebuild` (for the whole fleet, the processor's) do the writes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from labkit.contract import METRICS, WINDOW_MS, as_utc, bucket_ceil, bucket_start, bucket_start_expression, from_ms, to_ms
from labkit.store.bulk import duplicate_indexes

SMALL_MS = WINDOW_MS  # the 10 s rollup, built from readings
LARGE_MS = 60_000  # the one-minute rollup, built from six 10 s rollups
SIZES_MS = (SMALL_MS, LARGE_MS)


# ------------------------------------------------------------------ pure: which buckets changed


def touched_runs(times_by_car: dict[str, list[int]], size_ms: int) -> dict[str, list[tuple[int, int]]]:
    """Per car, the touched buckets as runs of consecutive buckets `[(lo, hi), ...]` (epoch ms).

    One run per car in a normal batch; a very late event gets a run of its own, so it never
    makes a refresh re-read everything in between.
    """
    runs: dict[str, list[tuple[int, int]]] = {}
    for car, times in times_by_car.items():
        starts = sorted({bucket_start(t, size_ms) for t in times})
        car_runs: list[tuple[int, int]] = []
        for s in starts:
            if car_runs and car_runs[-1][1] == s:
                car_runs[-1] = (car_runs[-1][0], s + size_ms)
            else:
                car_runs.append((s, s + size_ms))
        runs[car] = car_runs
    return runs


def widen(runs: list[tuple[int, int]], size_ms: int) -> list[tuple[int, int]]:
    """The same runs on a coarser grid (10 s runs -> the minutes they touch), merged."""
    out: list[tuple[int, int]] = []
    for lo, hi in runs:
        lo, hi = bucket_start(lo, size_ms), bucket_start(hi - 1, size_ms) + size_ms
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


# ------------------------------------------------------------------ pure: partial aggregates


@dataclass
class Partial:
    """count, sum, min and max of one metric in one bucket: what can be merged exactly
    (an average cannot: avg(a ∪ b) is not avg(avg(a), avg(b)) unless the counts agree)."""

    count: int
    sum: float
    min: float
    max: float

    def merge(self, other: Partial) -> Partial:
        return Partial(self.count + other.count, self.sum + other.sum,
                       _pick(min, self.min, other.min), _pick(max, self.max, other.max))

    def row(self, t_ms: int) -> dict:
        """A chart row. A bucket holding no number at all (only documents written around the
        validator) has avg/min/max None; `count` counts documents."""
        if self.min is None:
            return {"t": from_ms(t_ms), "avg": None, "min": None, "max": None, "count": self.count}
        return {"t": from_ms(t_ms), "avg": self.sum / self.count, "min": float(self.min), "max": float(self.max),
                "count": self.count}


def _number(value) -> float | None:
    """Stored values are numbers; a document written around the validator may hold "fast"."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


_NO_STATS: dict = {}


def _pick(choose, a, b):
    """min or max of the values that are numbers (None when neither is)."""
    numbers = [v for v in (a, b) if v is not None]
    return choose(numbers) if numbers else None


def combine(*parts: dict[int, Partial]) -> list[dict]:
    """Merge partial aggregates keyed by bucket start into chart rows, oldest first."""
    merged: dict[int, Partial] = {}
    for part in parts:
        for t, p in part.items():
            merged[t] = merged[t].merge(p) if t in merged else p
    return [merged[t].row(t) for t in sorted(merged)]


# ------------------------------------------------------------------ pure: pipelines


def from_readings_pipeline(car_id: str, lo_ms: int, hi_ms: int, size_ms: int, metrics=METRICS) -> list[dict]:
    """Readings of one car in [lo, hi) -> count, and sum/min/max of each metric, per bucket."""
    group: dict = {"_id": bucket_start_expression({"$toLong": "$timestamp"}, size_ms), "count": {"$sum": 1}}
    for m in metrics:
        group.update({f"{m}_sum": {"$sum": f"${m}"}, f"{m}_min": {"$min": f"${m}"}, f"{m}_max": {"$max": f"${m}"}})
    return [
        {"$match": {"car_id": car_id, "timestamp": {"$gte": from_ms(lo_ms), "$lt": from_ms(hi_ms)}}},
        {"$group": group},
        {"$sort": {"_id": 1}},
    ]


def partials(rows, metric: str) -> dict[int, Partial]:
    """Rows of either pipeline -> {bucket start: Partial} for one metric."""
    return {int(r["_id"]): Partial(r["count"], _number(r[f"{metric}_sum"]) or 0.0, _number(r[f"{metric}_min"]),
                                   _number(r[f"{metric}_max"]))
            for r in rows if r["count"]}


def reading_partials(readings, metric: str, bucket_ms: int) -> dict[int, Partial]:
    """Stored readings (`timestamp` and the metric) -> {bucket start: Partial}, as
    `from_readings_pipeline` computes them on the server, for a few readings at a chart's
    edge: a `find` of under ten readings costs the local server half of an `aggregate`."""
    merged: dict[int, Partial] = {}
    for doc in readings:
        value = _number(doc.get(metric))
        part = Partial(1, value or 0.0, value, value)
        t = bucket_start(to_ms(doc["timestamp"]), bucket_ms)
        merged[t] = merged[t].merge(part) if t in merged else part
    return merged


def stored_partials(docs, metric: str, bucket_ms: int, lo: int | None = None, hi: int | None = None) -> dict[int, Partial]:
    """Stored rollup documents -> {bucket start: Partial} for one metric, in buckets of
    `bucket_ms` (see `stored_partials_by_metric`)."""
    return stored_partials_by_metric(docs, (metric,), bucket_ms, lo, hi)[metric]


def stored_partials_by_metric(docs, metrics, bucket_ms: int, lo: int | None = None,
                              hi: int | None = None) -> dict[str, dict[int, Partial]]:
    """Stored rollup documents -> {metric: {bucket start: Partial}}, in buckets of `bucket_ms`,
    counting only what lies in [lo, hi) (10 s boundaries; None: everything), in one pass over
    the documents. The merging is done here, in Python, because a plain `find` of the
    documents costs the local server a third of a `$group`.

    A document inside [lo, hi) whose size divides the bucket counts as a whole; a one-minute
    document read for smaller buckets (10 s, 30 s), or one that sticks out of [lo, hi), is
    split into its `tens`, and the tens outside [lo, hi) are left out. Raises ValueError when
    such a document has no `tens` (written before they existed): read the 10 s rollups instead."""
    lo = float("-inf") if lo is None else lo
    hi = float("inf") if hi is None else hi
    merged: dict[str, dict[int, Partial]] = {m: {} for m in metrics}
    for doc in docs:
        size = doc.get("size_ms", SMALL_MS)
        start = int(doc["start_ms"])
        if start + size <= lo or start >= hi:
            continue
        if bucket_ms % size == 0 and lo <= start and start + size <= hi:
            pieces = [doc]
        elif "tens" in doc:
            pieces = [ten for ten in doc["tens"] if lo <= int(ten["start_ms"]) < hi]
        else:
            raise ValueError(f"rollup {doc.get('_id')} has no `tens` to split into {bucket_ms} ms buckets")
        for piece in pieces:
            count = piece.get("count")
            if not count:
                continue
            t = bucket_start(int(piece["start_ms"]), bucket_ms)
            for m in metrics:
                stats = piece.get(m) or _NO_STATS
                part = Partial(count, _number(stats.get("sum")) or 0.0, _number(stats.get("min")), _number(stats.get("max")))
                found = merged[m]
                found[t] = found[t].merge(part) if t in found else part
    return merged


def rollup_document(car_id: str, size_ms: int, row: dict, metrics=METRICS) -> dict:
    """A pipeline row as the stored rollup document (see the module docstring)."""
    start_ms = int(row["_id"])
    doc = {"_id": f"{car_id}:{size_ms}:{start_ms}", "car_id": car_id, "size_ms": size_ms, "start_ms": start_ms,
           "start": from_ms(start_ms), "count": row["count"]}
    for m in metrics:
        doc[m] = {"sum": row[f"{m}_sum"], "min": row[f"{m}_min"], "max": row[f"{m}_max"]}
    return doc


def minute_documents(car_id: str, tens: list[dict], metrics=METRICS) -> list[dict]:
    """One car's stored 10 s rollups -> its one-minute rollup documents: per minute the
    totals (count, and sum/min/max of each metric) and, under `tens`, the 10 s rollups
    themselves (start_ms, count and the metrics; oldest first)."""
    by_minute: dict[int, list[dict]] = defaultdict(list)
    for doc in sorted(tens, key=lambda d: d["start_ms"]):
        by_minute[bucket_start(int(doc["start_ms"]), LARGE_MS)].append(doc)
    minutes = []
    for start_ms, docs in sorted(by_minute.items()):
        row: dict = {"_id": start_ms, "count": sum(d.get("count") or 0 for d in docs)}
        for m in metrics:
            merged = Partial(0, 0.0, None, None)
            for d in docs:
                stats = d.get(m) or {}
                merged = merged.merge(Partial(0, _number(stats.get("sum")) or 0.0, _number(stats.get("min")),
                                              _number(stats.get("max"))))
            row.update({f"{m}_sum": merged.sum, f"{m}_min": merged.min, f"{m}_max": merged.max})
        minute = rollup_document(car_id, LARGE_MS, row, metrics)
        minute["tens"] = [{"start_ms": int(d["start_ms"]), "count": d.get("count") or 0, **{m: d.get(m) for m in metrics}}
                          for d in docs]
        minutes.append(minute)
    return minutes


def plan(start_ms: int, end_ms: int, bucket_ms: int, fresh_from_ms: int | None = None) -> list[tuple[str, int, int, int]]:
    """Which source answers which part of a chart of [start, end) in buckets of `bucket_ms`.

    Returns `(source, lo, hi, size)` parts that cover [start, end) exactly once:
    ("rollups", lo, hi, 60_000) for the whole 10 s buckets of the range, read in one query
    from the one-minute documents that overlap [lo, hi) (`minutes_of`; a minute inside
    counts whole when the bucket is whole minutes, otherwise its `tens` inside [lo, hi)
    count); ("readings", lo, hi, 0) for what is left at either edge (under 10 s), or for
    everything when the bucket is not a multiple of 10 s.

    One query for all the rollups, not one for the whole minutes and one for each edge's
    10 s documents: on the local server a query's own cost (about 2 ms) is more than the two
    extra minute documents it reads instead (bench/results/storage.md).

    `fresh_from_ms`: the minute it falls in, and what follows, may not be rolled up yet (the
    processor rebuilds a minute once it is final: labkit.process.derived), so from that
    minute on the range is read from the readings.
    """
    if bucket_ms % SMALL_MS:
        return [("readings", start_ms, end_ms, 0)]
    first, last = _whole(start_ms, end_ms, SMALL_MS)
    if fresh_from_ms is not None:
        last = min(last, bucket_start(fresh_from_ms, LARGE_MS))
    if first >= last:
        return [("readings", start_ms, end_ms, 0)]
    parts = [("readings", start_ms, first, 0), ("rollups", first, last, LARGE_MS), ("readings", last, end_ms, 0)]
    return [p for p in parts if p[1] < p[2]]


def minutes_of(lo: int, hi: int) -> tuple[int, int]:
    """The `start_ms` range [from, to) of the one-minute documents that overlap [lo, hi)."""
    return bucket_start(lo, LARGE_MS), hi


def _whole(start_ms: int, end_ms: int, size_ms: int) -> tuple[int, int]:
    """The first and the end of the whole buckets of `size_ms` inside [start, end)."""
    return bucket_ceil(start_ms, size_ms), bucket_start(end_ms, size_ms)


# ------------------------------------------------------------------ I/O


def refresh(db, settings, times_by_car: dict[str, list[int]]) -> int:
    """Rebuild the 10 s and one-minute rollups of every bucket that holds one of the given
    event times (epoch ms, per car) from what is stored now. Idempotent: call it after the
    readings are written, as often as you like. Returns how many rollups were written."""
    readings = db[settings.collections.telemetry]
    rollups = db[settings.collections.rollups]
    small_runs = touched_runs(times_by_car, SMALL_MS)
    # First the 10 s buckets, from the readings ...
    small = [rollup_document(car, SMALL_MS, row)
             for car, runs in small_runs.items() for lo, hi in runs
             for row in readings.aggregate(from_readings_pipeline(car, lo, hi, SMALL_MS))]
    write_forward(rollups, small)
    # ... then the minutes they belong to, from those (just rebuilt) 10 s rollups.
    large = [doc for car, runs in small_runs.items() for lo, hi in widen(runs, LARGE_MS)
             for doc in minute_documents(car, list(rollups.find(
                 {"car_id": car, "size_ms": SMALL_MS, "start_ms": {"$gte": lo, "$lt": hi}})))]
    write_forward(rollups, large)
    return len(small) + len(large)



def rebuild(db, settings, buckets: dict[str, set[int]], minutes: dict[str, set[int]] | None = None,
            known: dict[tuple[str, int], list[dict]] | None = None) -> int:
    """Rebuild the given 10 s rollups (car -> bucket starts, epoch ms) and the one-minute
    rollups they belong to from what is stored now, in a few queries for the whole fleet: one
    `find` of the readings per run of consecutive buckets, whatever the number of cars, and
    one of the 10 s rollups per run of minutes. `refresh` asks per car: with a thousand cars
    that is a thousand queries where this makes one. The readings of cars not asked for are
    read too, and left out, so a run longer than `FLEET_RUN_MS` (one car's hour of buffered
    readings, say) is read per car instead. `minutes` (car -> minute starts): the one-minute
    rollups to rebuild from their stored 10 s rollups (None: those of the given buckets).
    `known`: (car, 10 s start) -> every reading of that bucket, when the caller has them (the
    processor stored them): those are rolled up without a read.
    Idempotent, like `refresh`. Returns how many rollups were written."""
    wanted = {(car, start) for car, starts in buckets.items() for start in starts}
    if minutes is None:
        minutes_wanted = {(car, bucket_start(start, LARGE_MS)) for car, start in wanted}
    else:
        minutes_wanted = {(car, start) for car, starts in minutes.items() for start in starts}
    if not wanted and not minutes_wanted:
        return 0
    readings = db[settings.collections.telemetry]
    stored = db[settings.collections.rollups]
    known = {key: found for key, found in (known or {}).items() if key in wanted}
    small = [rollup_document(car, SMALL_MS, row)
             for car, rows in rows_from_readings(r for found in known.values() for r in found).items() for row in rows]
    wanted -= set(known)
    runs = touched_runs({"fleet": [start for _, start in wanted]}, SMALL_MS)["fleet"] if wanted else []
    for lo, hi in runs:
        if hi - lo <= FLEET_RUN_MS:
            queries = [{"timestamp": {"$gte": from_ms(lo), "$lt": from_ms(hi)}}]
        else:
            cars = sorted({car for car, start in wanted if lo <= start < hi})
            queries = [{"car_id": car, "timestamp": {"$gte": from_ms(lo), "$lt": from_ms(hi)}} for car in cars]
        for query in queries:
            small += [rollup_document(car, SMALL_MS, row)
                      for car, rows in rows_from_readings(readings.find(query, _READING_FIELDS)).items()
                      for row in rows if (car, row["_id"]) in wanted]
    write_forward(stored, small)
    large = []
    for lo, hi in touched_runs({"fleet": [start for _, start in minutes_wanted]}, LARGE_MS).get("fleet", []):
        tens: dict[str, list[dict]] = defaultdict(list)
        if hi - lo <= 2 * LARGE_MS:
            found = stored.find({"size_ms": SMALL_MS, "start_ms": {"$gte": lo, "$lt": hi}})
        else:
            found = (doc for car in sorted({car for car, start in minutes_wanted if lo <= start < hi})
                     for doc in stored.find({"car_id": car, "size_ms": SMALL_MS, "start_ms": {"$gte": lo, "$lt": hi}}))
        for doc in found:
            tens[doc["car_id"]].append(doc)
        large += [doc for car, docs in tens.items() for doc in minute_documents(car, docs)
                  if (car, doc["start_ms"]) in minutes_wanted]
    write_forward(stored, large)
    return len(small) + len(large)


_READING_FIELDS = {"_id": 0, "car_id": 1, "timestamp": 1, **{m: 1 for m in METRICS}}
#: How long after its end a minute may still wait for its rollup: the processor rebuilds it
#: once the watermark has passed it, or at the latest as long after its end as its 10 s
#: buckets (5 s past their end when readings arrive on time). A chart reads the minute that
#: holds now - FRESH_MS, and what follows, from the readings (`plan`): 30 s to 90 s of them.
FRESH_MS = 30_000
#: The longest run of buckets read for the whole fleet at once (see `rebuild`).
FLEET_RUN_MS = 60_000


def rows_from_readings(readings, size_ms: int = SMALL_MS, metrics=METRICS) -> dict[str, list[dict]]:
    """Readings of any cars (`car_id`, `timestamp` and the metrics) -> {car: rows}, the rows
    `from_readings_pipeline` returns (`_id` the bucket start; count; sum, min and max of each
    metric), oldest first. Computed here rather than by `$group`: on the local server a plain
    `find` of a fleet's readings costs a third of the same `$group`. A value that is not a
    number (a document written around the validator) is left out of sum, min and max, where
    `$min`/`$max` would return it; the readers (`partials`, `stored_partials`) drop it too."""
    by_bucket: dict[tuple[str, int], dict] = {}
    for doc in readings:
        if not isinstance(doc.get("car_id"), str) or not isinstance(doc.get("timestamp"), datetime):
            continue  # written around the validator: in no car's bucket, as the pipeline's $match leaves it out
        key = (doc["car_id"], bucket_start(to_ms(as_utc(doc["timestamp"])), size_ms))
        row = by_bucket.get(key)
        if row is None:
            row = by_bucket[key] = {"_id": key[1], "count": 0,
                                    **{f"{m}_{part}": None for m in metrics for part in ("sum", "min", "max")}}
        row["count"] += 1
        for m in metrics:
            value = _number(doc.get(m))
            if value is None:
                continue
            row[f"{m}_sum"] = (row[f"{m}_sum"] or 0) + value
            row[f"{m}_min"] = value if row[f"{m}_min"] is None else min(row[f"{m}_min"], value)
            row[f"{m}_max"] = value if row[f"{m}_max"] is None else max(row[f"{m}_max"], value)
    out: dict[str, list[dict]] = defaultdict(list)
    for (car, _), row in sorted(by_bucket.items()):
        for m in metrics:  # `$sum` of nothing is 0, as the pipeline gives it
            row[f"{m}_sum"] = row[f"{m}_sum"] or 0
        out[car].append(row)
    return dict(out)



def write_forward(collection, documents: list[dict]) -> None:
    """Store rollup documents, each only over one built from no more readings (`count`).

    First as inserts: most rollups are new (a bucket is written once it is final), and on
    the local server an insert costs a seventh of an update (bench/results/processor.md).
    An insert that collides (duplicate key) finds a document there: it is replaced when its
    count is at most ours, and kept when higher (then ours is stale: another writer read more
    readings)."""
    if not documents:
        return
    try:
        collection.insert_many(documents, ordered=False)
        return
    except BulkWriteError as exc:
        there = [documents[i] for i in duplicate_indexes(exc)]
    collection.bulk_write([UpdateOne({"_id": d["_id"], "count": {"$lte": d["count"]}}, {"$set": d}) for d in there],
                          ordered=False)


def event_times(events) -> dict[str, list[int]]:
    """{car_id: [event time in epoch ms, ...]} of validated events (timestamps as datetimes)."""
    times: dict[str, list[int]] = defaultdict(list)
    for e in events:
        times[e["car_id"]].append(to_ms(e["timestamp"]))
    return dict(times)
