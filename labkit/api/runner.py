"""Serve the API from a notebook or a test: in a background thread, stopped cleanly.

    with ApiServer(settings, port=8001) as api:
        httpx.get(api.url + "/health")
    # stopped here: the port is free again, nothing keeps running

Uvicorn runs in a daemon thread with its logging silenced (nothing prints into notebook
cells); `start()` returns once `/health` answers, `stop()` waits for the thread to end. With
`settings.api_access_log` (LAB_API_ACCESS_LOG) set, each request is also appended to that file
as a line: time, request, status.
"""

from __future__ import annotations

import socket
import threading

from labkit.config import Settings
from labkit.ops.waiting import wait_until

#: How long the server keeps an idle connection open. Longer than any pause between one
#: client's requests (a notebook cell that waits, a board refreshing every 10 s): with
#: uvicorn's default of 5 s, a request sent just as the server closes the idle connection
#: fails with "connection reset by peer" (seen in notebook 08, which pauses 4-5 s).
KEEP_ALIVE_S = 75


def access_log_config(path: str) -> dict:
    """Logging settings that append uvicorn's access lines to `path` and keep its other logs to
    errors: `2026-12-05 11:41:02,123 "GET /health HTTP/1.1" 200 OK`."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"access": {"()": "uvicorn.logging.AccessFormatter", "use_colors": False,
                                  "fmt": '%(asctime)s "%(request_line)s" %(status_code)s'}},
        "handlers": {"access": {"class": "logging.FileHandler", "filename": path, "formatter": "access"}},
        "loggers": {"uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
                    "uvicorn.error": {"level": "ERROR"}},
    }


class ApiServer:
    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int | None = None,
                 sample_lag_every_s: float | None = None, lag_group: str | None = None):
        """`sample_lag_every_s` and `lag_group`: the API measures that group's lag at the broker
        that often while it runs (`create_app`)."""
        self.settings = settings
        self.lag = {"sample_lag_every_s": sample_lag_every_s, **({"lag_group": lag_group} if lag_group else {})}
        self.host = host
        self.port = port or settings.api_host_port[1]
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> ApiServer:
        import uvicorn

        from labkit.api import create_app

        if self._thread is not None:
            return self
        with socket.socket() as probe:
            if probe.connect_ex((self.host, self.port)) == 0:
                raise RuntimeError(f"port {self.port} is already in use: stop what runs there, or pass another port")
        self.app = create_app(self.settings, **self.lag)  # kept: a notebook reads its state (settings, routes)
        logging = ({"log_config": access_log_config(self.settings.api_access_log), "access_log": True}
                   if self.settings.api_access_log else {"log_level": "error", "access_log": False})
        config = uvicorn.Config(self.app, host=self.host, port=self.port, timeout_keep_alive=KEEP_ALIVE_S,
                                lifespan="on", **logging)
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # not the main thread: leave signals alone
        self._thread = threading.Thread(target=self._server.run, name=f"api-{self.port}", daemon=True)
        self._thread.start()
        if not self._answers_within(timeout):
            self.stop()
            raise RuntimeError(f"the API did not answer on {self.url} within {timeout:.0f} s (is MongoDB up? `make infra-up`)")
        return self

    def _answers_within(self, timeout: float) -> bool:
        """True once /health answers below 500 (it answers 503 while MongoDB is down); False
        after `timeout` seconds, or as soon as the server's thread has ended."""
        import httpx

        def state() -> str | None:
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code < 500:
                    return "up"
            except httpx.HTTPError:
                pass
            return None if self._thread.is_alive() else "ended"  # ended: no use waiting

        try:
            return wait_until(state, timeout, poll_s=0.1, what=f"the API on {self.url}") == "up"
        except TimeoutError:
            return False

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
