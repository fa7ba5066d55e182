"""The query layer over the stored telemetry, shared by notebook 06, the API and dashboards.

Every function takes a time range `[start, end)` as aware datetimes and returns plain
dicts (JSON-ready apart from datetimes). Time bucketing is integer arithmetic on epoch
milliseconds (`labkit.contract.bucket_start`), not `$dateTrunc`, so the same pipelines run
on MongoDB 8 and on the lab's local MongoDB-wire server. That server reads every match of a
sorted query before it applies a limit, so "the newest N" is asked for in slices from the
newest backwards (`labkit.store.newest`). Pipeline builders are pure
functions (`*_pipeline`), so they can be read and unit-tested without a server.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from labkit import contract
from labkit.config import Settings
from labkit.contract import METRICS, WINDOW_MS, as_utc, bucket_ceil, bucket_start, bucket_start_expression, from_ms, to_ms
from labkit.contract.counters import BY_LABEL, COUNTERS, TOTALS
from labkit.store import rollups
from labkit.store.mongo import HOUR_MS
from labkit.store.newest import newest_first

#: Bucket sizes a chart can use, smallest first (1 s ... 1 day). From 10 s up, each is a
#: multiple of a rollup size (labkit.store.rollups), so a chart never has to read raw readings.
NICE_BUCKETS_MS = (1_000, 2_000, 5_000, 10_000, 20_000, 30_000, 60_000, 120_000, 300_000, 600_000,
                   900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000)
MAX_POINTS = 2_000
OFFLINE_AFTER_S = 60


class QueryError(ValueError):
    """A query's parameters cannot be answered (reversed range, too small a bucket, ...):
    the API answers 422."""


class UnknownName(QueryError):
    """A car or a metric that does not exist: the API answers 404."""


def check_range(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise QueryError("start and end must be timezone-aware (UTC)")
    if end <= start:
        raise QueryError(f"the range is empty or reversed: start {start.isoformat()} >= end {end.isoformat()}")


def choose_bucket_ms(start: datetime, end: datetime, max_points: int = MAX_POINTS, smallest: int = 1_000) -> int:
    """The smallest nice bucket, at least `smallest`, that keeps a chart of [start, end)
    under `max_points` points."""
    span = to_ms(end) - to_ms(start)
    for size in NICE_BUCKETS_MS:
        if size >= smallest and span / size <= max_points:
            return size
    return NICE_BUCKETS_MS[-1]


def bucket_expression(bucket_ms: int) -> dict:
    """Epoch-ms of the bucket a document's timestamp falls in: t - t % bucket, on the server."""
    return bucket_start_expression({"$toLong": "$timestamp"}, bucket_ms)


# ------------------------------------------------------------------ pipelines (pure)


def series_pipeline(car_id: str, metric: str, start: datetime, end: datetime, bucket_ms: int) -> list[dict]:
    """avg/min/max/count of `metric` per bucket for one car, oldest bucket first.

    The `$match` on car_id + timestamp range is what the compound index serves.
    """
    return [
        {"$match": {"car_id": car_id, "timestamp": {"$gte": start, "$lt": end}}},
        {"$group": {"_id": bucket_expression(bucket_ms), "avg": {"$avg": f"${metric}"},
                    "min": {"$min": f"${metric}"}, "max": {"$max": f"${metric}"}, "count": {"$sum": 1}}},
        {"$sort": {"_id": 1}},
    ]


def anomaly_buckets_pipeline(start: datetime, end: datetime, bucket_ms: int, car_id: str | None = None) -> list[dict]:
    """Anomaly counts per (bucket, type), oldest first."""
    match: dict = {"timestamp": {"$gte": start, "$lt": end}}
    if car_id:
        match["car_id"] = car_id
    return [
        {"$match": match},
        {"$group": {"_id": {"t": bucket_expression(bucket_ms), "type": "$type"}, "count": {"$sum": 1}}},
        {"$sort": {"_id.t": 1, "_id.type": 1}},
    ]


# ------------------------------------------------------------------ queries


def series(db, settings: Settings, car_id: str, metric: str, start: datetime, end: datetime,
           bucket_ms: int | None = None, raw: bool = False, max_points: int = MAX_POINTS,
           use_rollups: bool = True) -> list[dict]:
    """One car's `metric` over [start, end).

    raw=True: the stored readings `{"t", "value"}`, oldest first, at most `max_points`.
    Otherwise buckets `{"t", "avg", "min", "max", "count"}` of `bucket_ms` (default: at
    least 10 s, chosen so there are at most `max_points`); empty buckets are absent. A car without data, or
    an empty range, gives []. Raises QueryError for an unknown metric or a bad range.

    Buckets that are multiples of 10 s are answered from the rollups (`labkit.store.rollups.plan`
    says which part from where), except the last half-minute, which the processor may not
    have rolled up yet; `use_rollups=False` aggregates the readings instead, with the same
    result (the integration tests compare the two).
    """
    require_metric(metric)
    check_range(start, end)
    collection = db[settings.collections.telemetry]
    if raw:
        cursor = collection.find({"car_id": car_id, "timestamp": {"$gte": start, "$lt": end}},
                                 {"_id": 0, "timestamp": 1, metric: 1}).sort("timestamp", 1).limit(max_points)
        return [{"t": as_utc(d["timestamp"]), "value": d.get(metric)} for d in cursor]
    return series_by_metric(db, settings, car_id, start, end, bucket_ms, max_points, use_rollups, (metric,))[metric]


def series_by_metric(db, settings: Settings, car_id: str, start: datetime, end: datetime,
                     bucket_ms: int | None = None, max_points: int = MAX_POINTS, use_rollups: bool = True,
                     metrics: tuple[str, ...] = METRICS) -> dict[str, list[dict]]:
    """The buckets of `series` for several metrics at once: `{metric: rows}`, from one read.

    A dashboard shows four metrics of the same car over the same range; the rollup documents
    hold all four, so reading them once serves every panel (labkit.api shares the answer).
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise QueryError(f"unknown metric {unknown[0]!r}; choose one of {', '.join(METRICS)}")
    check_range(start, end)
    # By default never under 10 s: the lab's window, and the smallest rollup.
    bucket_ms = bucket_ms or choose_bucket_ms(start, end, max_points, smallest=rollups.SMALL_MS)
    if (to_ms(end) - to_ms(start)) / bucket_ms > 50 * max_points:
        raise QueryError(f"bucket {bucket_ms} ms is too small for this range (over {50 * max_points} points)")
    start_ms, end_ms = to_ms(start), to_ms(end)
    fresh_from_ms = to_ms(datetime.now(timezone.utc)) - rollups.FRESH_MS  # newer buckets: not rolled up yet, maybe
    parts = (rollups.plan(start_ms, end_ms, bucket_ms, fresh_from_ms) if use_rollups
             else [("readings", start_ms, end_ms, 0)])
    found: dict[str, list[dict[int, rollups.Partial]]] = {m: [] for m in metrics}
    for source, lo, hi, size in parts:
        if source == "rollups":
            docs = _rollups(db, settings, car_id, size, *rollups.minutes_of(lo, hi))
            try:
                by_metric = rollups.stored_partials_by_metric(docs, metrics, bucket_ms, lo, hi)
            except ValueError:  # minutes stored before they held their `tens`
                docs = _rollups(db, settings, car_id, rollups.SMALL_MS, lo, hi)
                by_metric = rollups.stored_partials_by_metric(docs, metrics, bucket_ms, lo, hi)
            for m, part in by_metric.items():
                found[m].append(part)
        elif hi - lo <= rollups.SMALL_MS:  # an edge: a few readings, merged here
            found_readings = list(db[settings.collections.telemetry].find(
                {"car_id": car_id, "timestamp": {"$gte": from_ms(lo), "$lt": from_ms(hi)}},
                {"_id": 0, "timestamp": 1, **{m: 1 for m in metrics}}))
            for m in metrics:
                found[m].append(rollups.reading_partials(found_readings, m, bucket_ms))
        else:
            pipeline = rollups.from_readings_pipeline(car_id, lo, hi, bucket_ms, metrics=metrics)
            rows = list(db[settings.collections.telemetry].aggregate(pipeline))
            for m in metrics:
                found[m].append(rollups.partials(rows, m))
    return {m: rollups.combine(*found[m]) for m in metrics}


def _rollups(db, settings: Settings, car_id: str, size_ms: int, lo: int, hi: int) -> list[dict]:
    return list(db[settings.collections.rollups].find(
        {"car_id": car_id, "size_ms": size_ms, "start_ms": {"$gte": lo, "$lt": hi}}))


def car_status(doc: dict, now: datetime, offline_after_s: float = OFFLINE_AFTER_S) -> tuple[str, list[str]]:
    """("offline" | "alert" | "ok", alerts) for a latest-state document. Pure.

    Offline when the newest reading is older than `offline_after_s`; otherwise the same
    rule thresholds as the processor's detectors decide.
    """
    try:
        alerts = [t for t, _, _ in contract.rule_anomalies(doc)]
    except (KeyError, TypeError):  # a malformed document has no alerts, rather than an error
        alerts = []
    if now - as_utc(doc["timestamp"]) > timedelta(seconds=offline_after_s):
        return "offline", alerts
    return ("alert" if alerts else "ok"), alerts


def latest(db, settings: Settings, car_id: str, now: datetime | None = None,
           offline_after_s: float = OFFLINE_AFTER_S) -> dict | None:
    """The newest state of one car (by event time) with its status, or None if unknown."""
    doc = db[settings.collections.latest].find_one({"_id": car_id})
    if not doc or not isinstance(doc.get("timestamp"), datetime):
        return None
    return _latest_row(doc, now or datetime.now(timezone.utc), offline_after_s)


def fleet_latest(db, settings: Settings, now: datetime | None = None,
                 offline_after_s: float = OFFLINE_AFTER_S) -> list[dict]:
    """The newest state of every car, sorted by car_id: one small read of the latest-state
    collection (one document per car), never a scan of the telemetry."""
    now = now or datetime.now(timezone.utc)
    # Sorted here, not by the server: the local server took 84 ms to read a thousand sorted
    # documents against 33 ms unsorted (bench/results/storage.md); Python sorts them in 0.2 ms.
    docs = sorted(db[settings.collections.latest].find(), key=lambda d: str(d["_id"]))
    return [_latest_row(d, now, offline_after_s) for d in docs if isinstance(d.get("timestamp"), datetime)]


def cars(db, settings: Settings) -> list[str]:
    """Every car that has reported, sorted (for a dashboard variable)."""
    return sorted(d["_id"] for d in db[settings.collections.latest].find({}, {"_id": 1}))


def anomaly_buckets(db, settings: Settings, start: datetime, end: datetime, bucket_ms: int = WINDOW_MS,
                    car_id: str | None = None, use_counts: bool = True) -> list[dict]:
    """`{"t", "type", "count"}` per bucket and anomaly type (every type, not just one), oldest
    first, then by type, for every bucket that overlaps [start, end), counted whole: a chart
    of 10 s windows shows whole windows (its first bar is not cut short where the range
    happens to begin).

    For the whole fleet in buckets that are multiples of 10 s, the counts come from the
    documents the processor keeps (`anomaly_counts`, one per 10 s with every type's count):
    one query, 90 documents for 15 minutes, where 15 minutes of a thousand cars hold some
    17,000 anomalies. One car's anomalies, other buckets, or `use_counts=False`: aggregated
    from the anomalies. Same answer either way (an integration test compares them)."""
    span = count_range(start, end, bucket_ms)
    if car_id or not use_counts or span is None:
        lo = bucket_start(to_ms(start), bucket_ms)
        hi = bucket_ceil(to_ms(end), bucket_ms)  # the end of the last bucket [start, end) touches
        rows = db[settings.collections.anomalies].aggregate(
            anomaly_buckets_pipeline(from_ms(lo), from_ms(hi), bucket_ms, car_id))
        return [{"t": from_ms(int(r["_id"]["t"])), "type": r["_id"]["type"], "count": r["count"]} for r in rows]
    lo, hi = span
    return buckets_of_counts(db[settings.collections.anomaly_counts].find({"start_ms": {"$gte": lo, "$lt": hi}}), bucket_ms)


def buckets_of_counts(docs, bucket_ms: int) -> list[dict]:
    """`anomaly_buckets`' rows (pure) from the 10 s count documents of its range, already read."""
    counts: Counter = Counter()
    for doc in docs:
        t = bucket_start(int(doc["start_ms"]), bucket_ms)
        for kind, n in doc["counts"].items():
            counts[(t, kind)] += n
    return [{"t": from_ms(t), "type": kind, "count": n} for (t, kind), n in sorted(counts.items()) if n]


def count_range(start: datetime, end: datetime, bucket_ms: int) -> tuple[int, int] | None:
    """[lo, hi) in epoch ms of the 10 s count documents `anomaly_buckets` reads for the whole
    fleet in `bucket_ms` buckets (the end of the last bucket [start, end) touches), or None when
    it aggregates the anomalies instead."""
    check_range(start, end)
    if bucket_ms % rollups.SMALL_MS:
        return None
    return bucket_start(to_ms(start), bucket_ms), bucket_ceil(to_ms(end), bucket_ms)


def pipeline_health(db, settings: Settings, start: datetime, end: datetime, now: datetime | None = None) -> dict:
    """Totals and rates over [start, end) from the processor's windowed metrics.

    `freshness_s` is the age of the newest processed event (None without data): the
    number that shows a stopped pipeline.
    """
    return health_of(pipeline_windows(db, settings, start, end), start, end, now)


def pipeline_windows(db, settings: Settings, start: datetime, end: datetime) -> list[dict]:
    """The processor's windowed metrics documents that start in [start, end), oldest first."""
    check_range(start, end)
    return list(db[settings.collections.metrics].find(
        {"window_start_ms": {"$gte": to_ms(start), "$lt": to_ms(end)}}).sort("window_start_ms", 1))


def merge_windows(windows: list[dict]) -> list[dict]:
    """One metrics window per start (pure), however many processors or runs wrote one: each
    processor writes its own document per window (`labkit.process.metrics`), and a chart that
    drew them all would jump up and down inside one window. Counts add up; the batch latency is
    averaged over the batches and its maximum kept; per partition, the lag of the document that
    saw the newest event (the latest word on it), and the total is their sum. Oldest first."""
    by_start: dict[int, list[dict]] = {}
    for w in windows:
        by_start.setdefault(int(w["window_start_ms"]), []).append(w)
    merged = []
    for _, group in sorted(by_start.items()):
        if len(group) == 1:
            merged.append(group[0])
            continue
        latest_first = sorted(group, key=lambda w: w.get("newest_event_ms") or 0, reverse=True)
        out = {**latest_first[0], "processor_id": ",".join(sorted({str(w.get("processor_id")) for w in group}))}
        for name in (*COUNTERS, *BY_LABEL, "batches"):
            out[name] = sum(w.get(name) or 0 for w in group)
        for by_label in BY_LABEL.values():
            out[by_label] = dict(sum((Counter(w.get(by_label) or {}) for w in group), Counter()))
        batches = out["batches"]
        out["batch_latency_ms_avg"] = round(sum((w.get("batch_latency_ms_avg") or 0) * (w.get("batches") or 0)
                                                for w in group) / batches, 2) if batches else 0.0
        out["batch_latency_ms_max"] = max(w.get("batch_latency_ms_max") or 0 for w in group)
        lag: dict[str, int] = {}
        for w in reversed(latest_first):  # the newest word on a partition is written last
            lag.update(w.get("lag_by_partition") or {})
        out["lag_by_partition"] = lag
        out["consumer_lag"] = sum(lag.values()) if lag else latest_first[0].get("consumer_lag")
        newest = [w["newest_event_ms"] for w in group if w.get("newest_event_ms") is not None]
        out["newest_event_ms"] = max(newest) if newest else None
        merged.append(out)
    return merged


def newest_window_start(db, settings: Settings, at_least_ms: int | None = None) -> int | None:
    """The start (epoch ms) of the newest metrics window, or None when there is none.

    With `at_least_ms`, the windows that start from there are looked at first: the local
    server answers a sort with a limit by reading every window it matches (326 ms for a day's
    8,640), so a caller that knows about where the newest one is reads a few instead."""
    window = _newest_window(db, settings, at_least_ms)
    return int(window["window_start_ms"]) if window else None


def _newest_window(db, settings: Settings, at_least_ms: int | None) -> dict | None:
    """The newest metrics window's start and length (`window_s`), looked for among the windows
    from `at_least_ms` first (None: among all at once)."""
    found = newest_first(db[settings.collections.metrics], {}, "window_start_ms", 1, end=None, first_from=at_least_ms,
                         projection={"window_start_ms": 1, "window_s": 1})
    return found[0] if found else None


def windows_since(db, settings: Settings, start_ms: int) -> list[dict]:
    """Every metrics window that starts at or after `start_ms`, oldest first."""
    return list(db[settings.collections.metrics].find({"window_start_ms": {"$gte": start_ms}}).sort("window_start_ms", 1))


def newest_count_start(db, settings: Settings, at_least_ms: int | None = None) -> int | None:
    """As `newest_window_start`, for the anomalies' 10 s count documents."""
    found = newest_first(db[settings.collections.anomaly_counts], {}, "start_ms", 1, end=None, first_from=at_least_ms,
                         projection={"start_ms": 1})
    return int(found[0]["start_ms"]) if found else None


def counts_since(db, settings: Settings, start_ms: int) -> list[dict]:
    """Every 10 s anomaly count document that starts at or after `start_ms`, oldest first."""
    return list(db[settings.collections.anomaly_counts].find({"start_ms": {"$gte": start_ms}}).sort("start_ms", 1))


def health_of(windows: list[dict], start: datetime, end: datetime, now: datetime | None = None) -> dict:
    """`pipeline_health` of windows already read (pure)."""
    now = now or datetime.now(timezone.utc)
    totals = {name: sum(w.get(name, 0) for w in windows) for name in TOTALS}
    by_label = {name: Counter() for name in BY_LABEL.values()}  # invalid_by_reason, anomalies_by_type
    for w in windows:
        for name, counts in by_label.items():
            counts.update(w.get(name, {}))
    seconds = (to_ms(end) - to_ms(start)) / 1000
    newest = max((w["newest_event_ms"] for w in windows if w.get("newest_event_ms")), default=None)
    return {
        **totals,
        "windows": len(windows),
        "events_per_s": round(totals["processed"] / seconds, 3),
        "invalid_ratio": round(totals["invalid"] / totals["processed"], 4) if totals["processed"] else 0.0,
        **{name: dict(counts) for name, counts in by_label.items()},
        "consumer_lag": windows[-1].get("consumer_lag") if windows else None,
        "batch_latency_ms_avg": round(sum(w["batch_latency_ms_avg"] * w["batches"] for w in windows)
                                      / max(1, sum(w["batches"] for w in windows)), 2),
        "freshness_s": round((to_ms(now) - newest) / 1000, 1) if newest else None,
    }


def lag_of(windows: list[dict], partitions: int = 0) -> list[dict]:
    """Consumer lag over time from the processor's metrics windows (pure): one row per window
    with a figure, `{"t", "total", "p0", "p1", ...}` in messages. Every row has a column for
    each of the topic's `partitions` and for any other partition seen in `windows`, None
    where its window has no figure for it (a chart's columns must not come and go)."""
    seen = {int(p) for w in windows for p in (w.get("lag_by_partition") or {})}
    columns = sorted(seen | set(range(partitions)))
    rows = []
    for w in windows:
        by_partition = {int(p): n for p, n in (w.get("lag_by_partition") or {}).items()}
        if w.get("consumer_lag") is None and not by_partition:
            continue
        row = {"t": from_ms(int(w["window_start_ms"])), "total": w.get("consumer_lag")}
        row.update({f"p{p}": by_partition.get(p) for p in columns})
        rows.append(row)
    return rows


def lag_now(settings: Settings, group: str) -> dict:
    """Consumer lag of `group` on the telemetry topic, measured at the broker now: per
    partition the end offset, the group's committed offset and the lag
    (`labkit.ops.kafka_io.partition_lag`: counted from the log start where that is later)."""
    from labkit.ops import kafka_io

    topic = settings.topics.telemetry
    partitions = [{k: row[k] for k in ("partition", "end", "committed", "lag")}
                  for row in kafka_io.lag_by_partition(settings, group, topic)]
    return {"group": group, "topic": topic, "total": sum(r["lag"] for r in partitions), "partitions": partitions}


def event_windows(db, settings: Settings, key: str, start: datetime, end: datetime) -> list[dict]:
    """The event-time windows of `key` (a car id, or "fleet") that start in [start, end), as
    the processor published them (labkit.process.windows), oldest first: `{t, size_ms, count,
    revision, state, history}`."""
    check_range(start, end)
    docs = db[settings.collections.windows].find(
        {"key": key, "start_ms": {"$gte": to_ms(start), "$lt": to_ms(end)}}).sort("start_ms", 1)
    return [{"key": d["key"], "t": from_ms(int(d["start_ms"])), "size_ms": d["size_ms"], "count": d["count"],
             "revision": d["revision"], "state": d["state"],
             "history": [{**h, "at": as_utc(h["at"])} for h in d.get("history", [])]} for d in docs]


def dlq_summary(db, settings: Settings, recent: int = 20) -> dict:
    """Counts by reason and class, and the `recent` newest records, from MongoDB: one dead
    letter per rejected source message (copies in the at-least-once DLQ topic count once).

    The counts come from the per-(reason, hour) count documents the processor rebuilds
    (`store.write_dead_letters`), and the newest records are looked for from the newest
    counted hour back to the oldest (`labkit.store.newest`): neither reads every dead letter.
    """
    by_reason, by_class, hours = Counter(), Counter(), set()
    for d in db[settings.collections.dead_letter_counts].find({}, {"reason": 1, "reason_class": 1, "hour_ms": 1, "count": 1}):
        by_reason[d["reason"]] += d["count"]
        by_class[d.get("reason_class")] += d["count"]
        if d["count"]:
            hours.add(d["hour_ms"])
    newest: list[dict] = []
    if hours:  # every dead letter lies in a counted hour
        newest = newest_first(db[settings.collections.dead_letters], {}, "failed_at", recent,
                              end=from_ms(max(hours) + HOUR_MS), first_from=from_ms(max(hours)), start=from_ms(min(hours)))

    def ordered(counts: Counter) -> dict:
        return dict(sorted(((k, n) for k, n in counts.items() if n), key=lambda kv: (-kv[1], str(kv[0]))))

    return {
        "total": sum(by_reason.values()),
        "by_reason": ordered(by_reason),
        "by_class": ordered(by_class),
        "recent": [{"failed_at": as_utc(d["failed_at"]).isoformat(timespec="milliseconds"), "reason": d["reason"],
                    "detail": d["detail"], **d["source"], "original": d["original"]["data"][:200]} for d in newest],
    }


def require_metric(metric: str) -> None:
    """Raise UnknownName unless `metric` is one of the contract's metrics."""
    if metric not in METRICS:
        raise UnknownName(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")


def unknown_car(car_id: str) -> UnknownName:
    return UnknownName(f"unknown car {car_id!r}; GET /cars lists the cars that have reported")


def require_car(db, settings: Settings, car_id: str) -> None:
    """Raise UnknownName unless `car_id` has reported (it has a latest state)."""
    if db[settings.collections.latest].find_one({"_id": car_id}, {"_id": 1}) is None:
        raise unknown_car(car_id)


def anomaly_records(db, settings: Settings, start: datetime, end: datetime, car_id: str | None = None,
                    kind: str | None = None, limit: int = 100) -> list[dict]:
    """The stored anomalies in [start, end), newest first, at most `limit`, of one car and one
    type if given.

    Looked for in slices from the end of the range, the first 10 s long, each next one four
    times as long (`labkit.store.newest`): the local server reads every match of a sorted
    query before it applies the limit, and 15 minutes of a thousand cars hold some 17,000
    anomalies (bench/results/storage.md)."""
    check_range(start, end)
    match: dict = {}
    if car_id:
        match["car_id"] = car_id
    if kind:
        match["type"] = kind
    return newest_first(db[settings.collections.anomalies], match, "timestamp", limit,
                        end=end, first_from=end - timedelta(seconds=10), start=start, projection={"_id": 0})


def data_ages(db, settings: Settings, now: datetime) -> tuple[float | None, float | None]:
    """(seconds since the newest stored reading, seconds since the newest metrics window
    ended), None where there is none: how /health shows a stopped pipeline. Pings the server
    first, so a server that is down raises (the API's 503) even with nothing stored."""
    db.command("ping")
    newest = db[settings.collections.latest].find_one(sort=[("timestamp", -1)], projection={"timestamp": 1})
    telemetry_age = None
    if newest and isinstance(newest.get("timestamp"), datetime):
        telemetry_age = round((now - as_utc(newest["timestamp"])).total_seconds(), 1)
    # The last hour first: a running processor has written a window in it.
    window = _newest_window(db, settings, to_ms(now) - 3_600_000)
    metrics_age = None
    if window and isinstance(window.get("window_start_ms"), (int, float)):
        metrics_age = round(to_ms(now) / 1000 - (window["window_start_ms"] / 1000 + window.get("window_s", 10)), 1)
    return telemetry_age, metrics_age


def plan_summary(explained: dict) -> dict:
    """What a student needs from an `explain()` answer (find or aggregate, any verbosity):
    `stage` "IXSCAN" (an index was used) or "COLLSCAN" (every document read), the `index`
    name, and, when the server ran the query, `keys_examined`, `docs_examined`, `returned`."""
    plan = _first(explained, "winningPlan") or {}
    stages, node = [], [plan]
    while node:  # walk the plan tree: inputStage (one child) or inputStages (several)
        current = node.pop()
        stages.append(current)
        node += [current["inputStage"]] if "inputStage" in current else current.get("inputStages", [])
    scan = next((s for s in stages if s.get("stage") in ("IXSCAN", "COLLSCAN")), plan)
    stats = _first(explained, "executionStats") or {}
    return {"stage": scan.get("stage"), "index": scan.get("indexName"), "keys_examined": stats.get("totalKeysExamined"),
            "docs_examined": stats.get("totalDocsExamined"), "returned": stats.get("nReturned")}


def _first(tree, key: str):
    """The first value stored under `key` anywhere in nested dicts and lists (depth first)."""
    if isinstance(tree, dict):
        if key in tree:
            return tree[key]
        children = tree.values()
    elif isinstance(tree, list):
        children = tree
    else:
        return None
    return next((found for child in children if (found := _first(child, key)) is not None), None)


def _latest_row(doc: dict, now: datetime, offline_after_s: float) -> dict:
    status, alerts = car_status(doc, now, offline_after_s)
    row = {name: doc[name] for name in (*contract.FIELDS, "schema_version", *contract.OPTIONAL_FIELDS) if name in doc}
    row["timestamp"] = as_utc(doc["timestamp"])
    row.update(status=status, alerts=alerts, age_s=round((now - row["timestamp"]).total_seconds(), 1))
    return row
