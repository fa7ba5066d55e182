"""Prometheus metrics: the processor's and the API's health in the format a scraper reads.

The lab's own pipeline metrics (labkit.process.metrics) are windows in MongoDB, drawn by Grafana.
Services at work are watched another way: each exposes `GET /metrics` as text, and a
Prometheus server scrapes it every few seconds and keeps the time series. This module
defines what the two services expose:

- the processor (`python -m labkit process`, port 9108 by default):
  `telemetry_events_total{outcome}` (a counter of labkit.contract.counters, or `invalid`),
  `telemetry_invalid_total{reason}`,
  `telemetry_anomalies_total{type}`, `telemetry_batch_seconds` (a histogram) and
  `telemetry_consumer_lag{partition}`;
- the API (`/metrics` on the API itself): `telemetry_api_requests_total{route,method,status}`
  and `telemetry_api_request_seconds{route}` (a histogram).

Each owner gets its own `CollectorRegistry`, never the global one, so a notebook can create
a second processor or app in the same kernel without a "duplicated timeseries" error.
Routes are labelled by their template (`/series/{metric}`), not the URL, so a label never
holds a car id: every distinct label value is a new time series in Prometheus.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from labkit.contract.counters import COUNTERS

log = logging.getLogger(__name__)

PROCESSOR_PORT = 9108  # where `python -m labkit process` serves /metrics unless told otherwise
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Batches take tens of milliseconds to seconds (a MongoDB outage holds one until it is safe).
_BATCH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

#: The `outcome` label of a counter, where it is not the counter's name (labkit.contract.counters):
#: the series was named before the records were, and renaming it would break its history.
_OUTCOME = {"duplicates": "duplicate"}


class ProcessorMetrics:
    """The processor's counters. `observe(counts, lag_by_partition)` after each batch."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.events = Counter("telemetry_events", "Events by what became of them", ["outcome"], registry=self.registry)
        self.invalid = Counter("telemetry_invalid", "Invalid events by reason (sent to the DLQ)", ["reason"],
                               registry=self.registry)
        self.anomalies = Counter("telemetry_anomalies", "Anomalies detected, by type", ["type"], registry=self.registry)
        self.batch = Histogram("telemetry_batch_seconds", "Time to process one batch, read to commit",
                               buckets=_BATCH_BUCKETS, registry=self.registry)
        self.lag = Gauge("telemetry_consumer_lag", "Messages behind the end of each partition", ["partition"],
                         registry=self.registry)

    def observe(self, counts, lag_by_partition: dict[int, int] | None = None) -> None:
        """Add one batch (a labkit.process.metrics.BatchCounts) and set the lag of each partition."""
        for name in COUNTERS:
            self.events.labels(_OUTCOME.get(name, name)).inc(getattr(counts, name))
        self.events.labels("invalid").inc(sum(counts.invalid_by_reason.values()))
        for reason, n in counts.invalid_by_reason.items():
            self.invalid.labels(reason).inc(n)
        for kind, n in counts.anomalies_by_type.items():
            self.anomalies.labels(kind).inc(n)
        self.batch.observe(counts.latency_ms / 1000)
        for partition, lag in (lag_by_partition or {}).items():
            self.lag.labels(str(partition)).set(lag)

    def serve(self, port: int, host: str = "0.0.0.0"):
        """Serve /metrics on `port` in a daemon thread; returns the server (`.shutdown()` stops
        it) or None. A port in use is not fatal: the processor goes on without the endpoint."""
        try:
            server, _ = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            log.warning("metrics not served on port %s (%s); pass --metrics-port 0 to switch them off", port, exc)
            return None
        return server


class ApiMetrics:
    """The API's request counts and latencies, by route template (labkit.api.timing fills them)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.requests = Counter("telemetry_api_requests", "Requests by route, method and status",
                                ["route", "method", "status"], registry=self.registry)
        self.seconds = Histogram("telemetry_api_request_seconds", "Time to the response's first byte, by route",
                                 ["route"], registry=self.registry)

    def responded(self, scope, seconds: float) -> None:
        """The response of `scope` (an ASGI request) started `seconds` after the request."""
        self.seconds.labels(_route(scope)).observe(seconds)

    def finished(self, scope, status: int) -> None:
        self.requests.labels(_route(scope), scope["method"], str(status)).inc()


def exposition(registry: CollectorRegistry) -> bytes:
    """The text a scraper reads: every metric of `registry`, in Prometheus' format."""
    return generate_latest(registry)


def _route(scope) -> str:
    """The matched route's template; "unmatched" for a 404 on no route (never the raw URL)."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"
