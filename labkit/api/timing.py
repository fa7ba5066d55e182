"""Each request timed once: a `Server-Timing` header, and the Prometheus metrics at /metrics.

    Server-Timing: app;dur=12.4

Browsers show the header in the developer tools' network tab, next to the total time a
request took; the difference is time spent outside the app (the network, queues, the
client). The storage benchmark reads it to tell the API's own latency from its load
generator's. The same measurement goes to `labkit.observe.prometheus.ApiMetrics` (a histogram per
route, and a count per route, method and status).

A plain ASGI middleware: it only wraps `send`, so it adds next to nothing per request.
"""

from __future__ import annotations

import time

from labkit.observe.prometheus import ApiMetrics


class RequestTiming:
    def __init__(self, app, metrics: ApiMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began, status = time.perf_counter(), [500]  # 500 unless a response starts

        async def timed_send(message):
            if message["type"] == "http.response.start":
                seconds = time.perf_counter() - began
                status[0] = message["status"]
                self.metrics.responded(scope, seconds)
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"server-timing", f"app;dur={seconds * 1000:.1f}".encode())]}
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            self.metrics.finished(scope, status[0])
