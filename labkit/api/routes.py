"""The routes, grouped by resource. Each one is a thin layer over `labkit.store.queries`."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import TypeAdapter

from labkit.api.models import (
    AnomalyCount,
    AnomalyRecord,
    Bucket,
    BucketRow,
    Car,
    CarState,
    DlqSummary,
    EventWindow,
    FleetSummary,
    Health,
    LagNow,
    LagPoint,
    PipelineHealth,
    PipelineWindow,
    Point,
    ReasonCount,
    Standing,
    StudentProgress,
)
from labkit.api.params import time_range
from labkit.config import Settings
from labkit.contract import WINDOW_MS, from_ms, to_ms
from labkit.contract.counters import TOTALS
from labkit.store import queries


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request):
    return request.app.state.mongo[request.app.state.settings.mongodb_db]


def get_answers(request: Request):
    return request.app.state.answers


def get_shared(request: Request):
    return request.app.state.shared


def get_recent(request: Request):
    return request.app.state.recent


def get_recent_counts(request: Request):
    """The anomalies' counts of the newest hour, held in memory by the live API; None in an
    API that reads every answer fresh (labkit.api.create_app's `windows_fresh_s`)."""
    return request.app.state.recent_counts


SettingsDep = Annotated[Settings, Depends(get_settings)]
Answers = Annotated[object, Depends(get_answers)]
Shared = Annotated[object, Depends(get_shared)]
Recent = Annotated[object, Depends(get_recent)]
RecentCounts = Annotated[object, Depends(get_recent_counts)]
Db = Annotated[object, Depends(get_db)]
From = Annotated[str | None, Query(alias="from", description="epoch ms or ISO-8601; default: `to` - 15 min",
                                   examples=["1764230400000"])]
To = Annotated[str | None, Query(alias="to", description="epoch ms or ISO-8601; default: now")]
CarId = Annotated[str, Query(min_length=1, max_length=32, examples=["CAR_001"])]

_FLEET_JSON = TypeAdapter(list[CarState])
_BUCKETS_JSON = TypeAdapter(list[BucketRow])
_WINDOWS_JSON = TypeAdapter(list[PipelineWindow])

health = APIRouter(tags=["health"])
series = APIRouter(prefix="/series", tags=["series"])
cars = APIRouter(tags=["cars"])
anomalies = APIRouter(tags=["anomalies"])
pipeline = APIRouter(tags=["pipeline"])
classroom = APIRouter(prefix="/class", tags=["class"])


def _num(value) -> float | None:
    """Stored values as numbers, or None: a malformed document never becomes a 500."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@health.get("/health", response_model=Health, summary="MongoDB reachability and data freshness")
def get_health(db: Db, settings: SettingsDep):
    """200 when MongoDB answers (with the age of the newest telemetry and metrics), 503 when not."""
    # A MongoDB error becomes the app's 503 with the fix (labkit.api.create_app).
    telemetry_age, metrics_age = queries.data_ages(db, settings, datetime.now(timezone.utc))
    return Health(status="ok", mongodb=True, newest_telemetry_age_s=telemetry_age, newest_metrics_age_s=metrics_age)


@series.get("/anomalies", response_model=list[AnomalyCount], summary="Anomalies per bucket and type")
def anomaly_series(db: Db, settings: SettingsDep, counts: RecentCounts, start: From = None, end: To = None,
                   car_id: Annotated[str | None, Query(max_length=32)] = None,
                   bucket: Annotated[int, Query(ge=1000, le=86_400_000, description="bucket size in ms")] = WINDOW_MS):
    """Counts per `bucket` (default 10 s) and anomaly type, every type, oldest first, for
    every bucket that overlaps the range, counted whole. The whole fleet's newest hour comes
    from memory in the live API (labkit.api.recent), the rest from MongoDB."""
    frm, to = time_range(start, end)
    if car_id:
        queries.require_car(db, settings, car_id)
    span = None if car_id or counts is None else queries.count_range(frm, to, bucket)
    held = counts.windows(*span) if span else None
    if held is not None:
        return queries.buckets_of_counts(held, bucket)
    return queries.anomaly_buckets(db, settings, frm, to, bucket_ms=bucket, car_id=car_id)


@series.get("/{metric}", response_model=list[Bucket] | list[Point], summary="One car's metric over time")
def metric_series(metric: str, db: Db, settings: SettingsDep, shared: Shared, car_id: CarId,
                  start: From = None, end: To = None,
                  bucket: Annotated[int | None, Query(
                      ge=1000, le=86_400_000, description="bucket size in ms; default: chosen from the range, at least 10 s")] = None,
                  raw: Annotated[bool, Query(description="stored readings instead of buckets")] = False,
                  limit: Annotated[int, Query(ge=1, le=10_000, description="raw mode: at most this many points")] = 2000):
    """Buckets `{t, avg, min, max, count}` (default) or raw points `{t, value}` of `metric`
    (speed, rpm, engine_temp, fuel_level) for `car_id` in [from, to).

    Buckets of all four metrics are read together, and requests for the same car and range
    that arrive at once (a board's panels) share that read (labkit.api.cache.SharedAnswers)."""
    queries.require_metric(metric)  # 404 (labkit.api.create_app)
    frm, to = time_range(start, end)
    if raw:
        queries.require_car(db, settings, car_id)
        rows = queries.series(db, settings, car_id, metric, frm, to, raw=True, max_points=limit)
        return [Point(t=r["t"], value=_num(r["value"])) for r in rows]

    def every_metric() -> dict[str, bytes]:
        found = queries.series_by_metric(db, settings, car_id, frm, to, bucket_ms=bucket, max_points=limit)
        if not any(found.values()):  # no data: an unknown car (404) or a quiet range ([])
            queries.require_car(db, settings, car_id)
        return {m: _BUCKETS_JSON.dump_json(rows) for m, rows in found.items()}

    # The JSON of all four metrics is made once; each panel's request takes its own.
    return Response(shared.get(("series", car_id, frm, to, bucket, limit), every_metric)[metric],
                    media_type="application/json")


@cars.get("/cars", response_model=list[Car], summary="Every car that has reported (for a Grafana variable)")
def list_cars(db: Db, settings: SettingsDep):
    return [Car(car_id=c) for c in queries.cars(db, settings) if isinstance(c, str)]


@cars.get("/latest", response_model=CarState, summary="The newest state of one car")
def latest(db: Db, settings: SettingsDep, car_id: CarId,
           offline_after_s: Annotated[float, Query(gt=0, le=86_400)] = queries.OFFLINE_AFTER_S):
    row = queries.latest(db, settings, car_id, offline_after_s=offline_after_s)
    if row is None:
        raise queries.unknown_car(car_id)  # 404 (labkit.api.create_app)
    return row


@cars.get("/fleet/latest", response_model=list[CarState], summary="The newest state of every car, with a status")
def fleet_latest(db: Db, settings: SettingsDep, answers: Answers,
                 offline_after_s: Annotated[float, Query(gt=0, le=86_400)] = queries.OFFLINE_AFTER_S):
    """Computed at most once a second per `offline_after_s` (labkit.api.cache). With a
    thousand cars, turning the rows into JSON costs as much as reading them, so the JSON
    is what is kept."""
    def as_json() -> bytes:
        rows = answers.get(("fleet", offline_after_s),
                           lambda: queries.fleet_latest(db, settings, offline_after_s=offline_after_s))
        return _FLEET_JSON.dump_json(_FLEET_JSON.validate_python(rows))

    return Response(answers.get(("fleet-json", offline_after_s), as_json), media_type="application/json")


@cars.get("/fleet/summary", response_model=FleetSummary, summary="How many cars report, and how many are in anomaly")
def fleet_summary(db: Db, settings: SettingsDep, answers: Answers,
                  offline_after_s: Annotated[float, Query(gt=0, le=86_400)] = queries.OFFLINE_AFTER_S):
    """Counts for the Fleet Map's stat panels (one object, no client-side counting), from the
    same once-a-second answer as /fleet/latest."""
    rows = answers.get(("fleet", offline_after_s),
                       lambda: queries.fleet_latest(db, settings, offline_after_s=offline_after_s))
    statuses = [r["status"] for r in rows]
    return FleetSummary(cars=len(rows), reporting=len(rows) - statuses.count("offline"),
                        in_anomaly=statuses.count("alert"), offline=statuses.count("offline"))


@anomalies.get("/anomalies", response_model=list[AnomalyRecord], summary="Anomaly records, newest first")
def anomaly_records(db: Db, settings: SettingsDep, start: From = None, end: To = None,
                    car_id: Annotated[str | None, Query(max_length=32)] = None,
                    type: Annotated[str | None, Query(max_length=32)] = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100):
    frm, to = time_range(start, end)
    docs = queries.anomaly_records(db, settings, frm, to, car_id=car_id, kind=type, limit=limit)
    return [AnomalyRecord(**{**d, "value": _num(d.get("value")), "threshold": _num(d.get("threshold"))})
            for d in docs if isinstance(d.get("timestamp"), datetime)]


def _metrics_windows(shared, recent, db, settings: Settings, frm: datetime, to: datetime) -> list[dict]:
    """The processor's metrics windows in [frm, to): from the newest hour held in memory
    (labkit.api.recent), else one read shared by the board's pipeline panels that ask at once
    (health, throughput, lag)."""
    def read() -> list[dict]:
        held = recent.windows(to_ms(frm), to_ms(to))
        windows = held if held is not None else queries.pipeline_windows(db, settings, frm, to)
        return queries.merge_windows(windows)  # one per window, whichever processors wrote it

    return shared.get(("windows", frm, to), read)


@pipeline.get("/pipeline/health", response_model=PipelineHealth, summary="Pipeline totals and rates over a window")
def pipeline_health(db: Db, settings: SettingsDep, shared: Shared, recent: Recent, start: From = None, end: To = None):
    """The Pipeline Health board's stat panel and its two charts send their requests at once
    with the same range: they share one read of the metrics windows."""
    frm, to = time_range(start, end)

    def answer() -> bytes:
        windows = _metrics_windows(shared, recent, db, settings, frm, to)
        return PipelineHealth(**queries.health_of(windows, frm, to)).model_dump_json().encode()

    return Response(shared.get(("health", frm, to), answer), media_type="application/json")


@pipeline.get("/pipeline/series", response_model=list[PipelineWindow], summary="Pipeline metrics per window over time")
def pipeline_series(db: Db, settings: SettingsDep, shared: Shared, recent: Recent, start: From = None, end: To = None):
    frm, to = time_range(start, end)

    def answer() -> bytes:
        windows = _metrics_windows(shared, recent, db, settings, frm, to)
        return _WINDOWS_JSON.dump_json([
            PipelineWindow(t=from_ms(int(w["window_start_ms"])), **{name: w.get(name, 0) for name in TOTALS},
                           consumer_lag=w.get("consumer_lag"), batch_latency_ms_avg=w.get("batch_latency_ms_avg", 0.0))
            for w in windows])

    return Response(shared.get(("pipeline-series", frm, to), answer), media_type="application/json")


@pipeline.get("/pipeline/lag", response_model=list[LagPoint], summary="Consumer lag per partition over time")
def pipeline_lag(db: Db, settings: SettingsDep, shared: Shared, recent: Recent, start: From = None, end: To = None):
    """Per metrics window: the processor's lag after its last batch, `total` and per partition
    (`p0`, `p1`, ...): messages written to the topic and not yet processed."""
    frm, to = time_range(start, end)
    windows = _metrics_windows(shared, recent, db, settings, frm, to)
    return queries.lag_of(windows, settings.telemetry_partitions)


@pipeline.get("/pipeline/lag/broker", response_model=list[LagPoint], summary="Consumer lag measured at the broker, over time")
def pipeline_lag_broker(request: Request, settings: SettingsDep, start: From = None, end: To = None):
    """The processor group's lag as the broker sees it (end offset minus committed offset, per
    partition), sampled by the API while it runs: it keeps rising while the processor is
    stopped, where `/pipeline/lag` (reported by the processor) goes silent. An API started
    without sampling answers with one measurement taken now. 503 when Kafka is down."""
    frm, to = time_range(start, end)
    sampler = request.app.state.lag_sampler
    if request.app.state.lag_sampling:
        return sampler.between(frm, to)
    from labkit.ops import preflight

    try:
        preflight.ensure(settings, "kafka")  # a closed port answers at once; a client would wait out its timeout
    except preflight.ServiceUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    try:
        return [sampler.sample()]
    except Exception as exc:  # noqa: BLE001  (whatever the Kafka client raised: the broker is not answering)
        raise HTTPException(503, f"Kafka is not answering ({type(exc).__name__}): `make infra-up` starts it") from exc


@pipeline.get("/pipeline/lag/now", response_model=LagNow, summary="Consumer lag measured at the broker, now")
def pipeline_lag_now(settings: SettingsDep, group: Annotated[str, Query(min_length=1, max_length=200)] = "telemetry-processor"):
    """End offset minus the group's committed offset, per partition of the telemetry topic,
    asked of Kafka now (so it grows while the processor is stopped). 503 when Kafka is down."""
    from labkit.ops import preflight

    try:
        preflight.ensure(settings, "kafka")
        return queries.lag_now(settings, group)
    except preflight.ServiceUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc


@pipeline.get("/windows", response_model=list[EventWindow], summary="Event-time windows as published, with their history")
def event_windows(db: Db, settings: SettingsDep, start: From = None, end: To = None,
                  key: Annotated[str, Query(min_length=1, max_length=32, description="a car id, or `fleet`",
                                            examples=["fleet"])] = "fleet"):
    """Each window's count by event time, its state (emitted, revised, final), its revision,
    and every time the processor published it (labkit.process.windows)."""
    frm, to = time_range(start, end)
    return queries.event_windows(db, settings, key, frm, to)


@pipeline.get("/dlq/summary", response_model=DlqSummary, summary="Dead-lettered messages by reason, and the newest")
def dlq_summary(db: Db, settings: SettingsDep, recent: Annotated[int, Query(ge=0, le=200)] = 20):
    """Read from MongoDB (the processor stores every dead letter there too), not from the topic."""
    return queries.dlq_summary(db, settings, recent=recent)


@pipeline.get("/dlq/reasons", response_model=list[ReasonCount], summary="Dead-lettered messages per reason (table rows)")
def dlq_reasons(request: Request, db: Db, settings: SettingsDep, answers: Answers):
    """The same counts as /dlq/summary's `by_reason`, as rows a Grafana table reads directly.
    In the live API, from the once-a-second answer cache (labkit.api.cache: at most 10 s old,
    and a viewer waits for MongoDB only after 10 s without a request); elsewhere read at once
    (a notebook checks its burst right after it)."""
    def rows() -> list[ReasonCount]:
        return [ReasonCount(reason=r, count=n) for r, n in queries.dlq_summary(db, settings, recent=0)["by_reason"].items()]

    return answers.get(("dlq-reasons",), rows) if request.app.state.live else rows()


# --------------------------------------------------------------------------- a class on one stack


def _standings(settings: Settings) -> list:
    """Every student's standing on every exercise, from the progress topic (empty when no class
    records on this stack); 503 when Kafka is down."""
    from labkit.contract import progress
    from labkit.ops import preflight
    from labkit.ops.verdicts import read_verdicts

    try:
        preflight.ensure(settings, "kafka")
    except preflight.ServiceUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    try:
        verdicts, _ = read_verdicts(settings, timeout_s=10)
    except ValueError:  # no progress topic: nobody ran `python -m labkit class up` on this stack
        return []
    return progress.summarize(verdicts)


@classroom.get("/progress", response_model=list[Standing], summary="Each student on each exercise (a class's stack)")
def class_progress(settings: SettingsDep,
                   student: Annotated[str | None, Query(min_length=1, max_length=24, examples=["ann"])] = None):
    """From the verdicts the students' checks recorded (`python -m labkit class up` turns that on):
    the latest verdict, whether it ever passed, attempts, first and last time. Empty when this
    stack records no class."""
    return [s for s in _standings(settings) if student is None or s.student == student]


@classroom.get("/students", response_model=list[StudentProgress], summary="Each student's progress, one row each")
def class_students(settings: SettingsDep):
    """Per student: exercises passing now, tried, reached, the furthest notebook, last activity."""
    rows: dict[str, list] = {}
    for s in _standings(settings):
        rows.setdefault(s.student, []).append(s)
    return [StudentProgress(student=name, passing=sum(s.status == "passed" for s in mine),
                            tried=sum(s.attempts > 0 for s in mine), reached=len(mine),
                            notebook=max(s.exercise.split(".")[0] for s in mine), last_at=max(s.last_at for s in mine))
            for name, mine in sorted(rows.items())]
