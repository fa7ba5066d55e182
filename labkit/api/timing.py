"""A `Server-Timing` header on every response: how long the app took, in ms.

    Server-Timing: app;dur=12.4

Browsers show it in the developer tools' network tab, next to the total time a request
took; the difference is time spent outside the app (the network, queues, the client).
The storage benchmark reads it to tell the API's own latency from its load generator's.
A plain ASGI middleware: it only wraps `send`, so it adds next to nothing per request.
"""

from __future__ import annotations

import time


class ServerTiming:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()

        async def timed_send(message):
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - began) * 1000
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"server-timing", f"app;dur={ms:.1f}".encode())]}
            await send(message)

        await self.app(scope, receive, timed_send)
