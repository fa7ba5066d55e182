"""The Telemetry API: FastAPI over `labkit.store.queries`, for Grafana (Infinity) and students.

    from labkit.api import create_app
    app = create_app(settings)        # uvicorn.run(app) or `python -m labkit api`

The app factory owns one MongoDB client for the app's lifetime (created in `lifespan`,
closed on shutdown). Bad parameters get a 4xx with a message; an unreachable MongoDB a
503 naming the fix; nothing returns 500 for bad input or malformed documents.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline

from labkit.api.cache import AnswerCache, SharedAnswers
from labkit.api.recent import RecentWindows
from labkit.api.timing import RequestTiming
from labkit.config import Settings
from labkit.observe.lag_sampler import LagSampler
from labkit.observe.prometheus import CONTENT_TYPE, ApiMetrics, exposition
from labkit.ops import clients
from labkit.store import mongo, queries
from labkit.store.queries import QueryError, UnknownName

#: The consumer group whose lag the API samples at the broker: the processor's.
PROCESSOR_GROUP = "telemetry-processor"


#: How much broker lag the API remembers for /pipeline/lag/broker (a notebook samples every 0.5 s).
LAG_HISTORY_S = 3600

def create_app(settings: Settings | None = None, sample_lag_every_s: float | None = None,
               lag_group: str = PROCESSOR_GROUP, windows_fresh_s: float = 0.0) -> FastAPI:
    """The API. With `sample_lag_every_s`, it also measures `lag_group`'s lag at the broker
    that often while it runs (`/pipeline/lag/broker`, labkit.observe.lag_sampler); without,
    that route answers with one measurement taken when asked.

    With `windows_fresh_s` (the live API), the boards' routes that read MongoDB answer from
    what is read in the background while viewers ask, so no viewer waits behind a busy
    database: /pipeline/*' metrics windows and /series/anomalies' counts (labkit.api.recent)
    at most `windows_fresh_s` old (a count recounted further back than the newest two
    minutes: at most 10 s), /dlq/reasons from the answer cache (labkit.api.cache: at most
    10 s old). Without, each request reads MongoDB itself, fresh to the millisecond, as a
    notebook that runs the processor and then asks wants."""
    from prometheus_client import CollectorRegistry
    from pymongo.errors import PyMongoError

    from labkit.api import routes
    from labkit.ops import kafka_io

    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings
        app.state.answers = AnswerCache(ttl_s=1.0)  # for the routes every viewer asks alike
        app.state.shared = SharedAnswers()  # for a board's panels asking at once
        app.state.mongo = clients.mongo_client(settings, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000)
        db = app.state.mongo[settings.mongodb_db]
        app.state.recent = RecentWindows(lambda ms: queries.newest_window_start(db, settings, ms),  # for /pipeline/*
                                         lambda ms: queries.windows_since(db, settings, ms), fresh_s=windows_fresh_s)
        app.state.recent.warm()
        app.state.live = windows_fresh_s > 0
        # The live API holds the anomalies' counts of the newest hour too. A late anomaly can
        # change an older bucket than the tail it reads, so everything (some 360 small
        # documents) is read again every 10 s.
        app.state.recent_counts = None
        if app.state.live:
            app.state.recent_counts = RecentWindows(lambda ms: queries.newest_count_start(db, settings, ms),
                                                    lambda ms: queries.counts_since(db, settings, ms), reload_s=10.0,
                                                    fresh_s=windows_fresh_s, key="start_ms")
            app.state.recent_counts.warm()
        try:  # anomalies stored by an older labkit, before their counts were kept: counted once
            mongo.count_stored_anomalies(db, settings)
        except PyMongoError:  # the API starts without MongoDB; /health says so
            pass
        lag_reader = kafka_io.LagReader(settings, lag_group) if sample_lag_every_s else None  # connected once
        app.state.lag_sampler = LagSampler(
            lambda: (lag_reader.rows(settings.topics.telemetry) if lag_reader
                     else kafka_io.lag_by_partition(settings, lag_group, settings.topics.telemetry)),
            every_s=sample_lag_every_s or 5.0,
            keep=int(LAG_HISTORY_S / (sample_lag_every_s or 5.0)))  # an hour, however often it samples
        app.state.lag_sampling = bool(sample_lag_every_s)
        sampling = asyncio.create_task(app.state.lag_sampler.run()) if sample_lag_every_s else None
        # Read twice per `windows_fresh_s`, so a read slowed by a busy server still lands in time.
        refreshing = ([asyncio.create_task(held.keep_fresh(windows_fresh_s / 2))
                       for held in (app.state.recent, app.state.recent_counts)] if app.state.live else [])
        try:
            yield
        finally:
            for task in (*refreshing, sampling):
                if task is not None:
                    task.cancel()
                    with suppress(asyncio.CancelledError):
                        await task
            if lag_reader is not None:
                lag_reader.close()
            app.state.mongo.close()

    # FastAPIOffline: /docs and /redoc load Swagger UI and ReDoc from the API itself, not from
    # a CDN, so they work in a classroom without internet.
    app = FastAPIOffline(title="Telemetry Lab API", version="1.0",
                  description="Connected-car telemetry from MongoDB, shaped for Grafana's Infinity datasource. "
                              "Time ranges: `from`/`to` as epoch ms (Grafana's ${__from}/${__to}) or ISO-8601.",
                  lifespan=lifespan)
    registry = CollectorRegistry()  # this app's own: two apps in one kernel never clash
    app.add_middleware(RequestTiming, metrics=ApiMetrics(registry))  # Server-Timing and /metrics

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        """Request counts and latency per route, for a Prometheus server to scrape."""
        return Response(exposition(registry), media_type=CONTENT_TYPE)

    for router in (routes.health, routes.cars, routes.series, routes.anomalies, routes.pipeline, routes.classroom):
        app.include_router(router)

    @app.exception_handler(QueryError)
    async def query_error(request: Request, exc: QueryError):
        # The one error path of the routes: bad parameters are 422, an unknown car or metric 404.
        return JSONResponse(status_code=404 if isinstance(exc, UnknownName) else 422, content={"detail": str(exc)})

    @app.exception_handler(PyMongoError)
    async def mongo_down(request: Request, exc: PyMongoError):
        return JSONResponse(status_code=503, content={
            "detail": f"MongoDB is not reachable at {settings.mongodb_uri_shown}: run `make infra-up` ({type(exc).__name__})"})

    return app
