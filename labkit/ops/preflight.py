"""Preflight: is every service a notebook needs reachable? Answer in seconds, with the fix.

Client libraries wait 30-60 s before they give up on a missing server, which in a
notebook looks like a frozen cell. Preflight checks all four services at once with short
timeouts and says, for each one that is down, the command that brings it up.

    >>> from labkit import preflight
    >>> preflight.require(settings, "kafka", "mongodb")   # raises ServiceUnavailable if down
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from labkit.config import Settings

SERVICES = ("kafka", "mongodb", "api", "grafana")

#: What to run when a service is down. Shown verbatim to students.
FIXES = {
    "kafka": "run `make infra-up`",
    "mongodb": "run `make infra-up` (or point MONGODB_URI at a running MongoDB)",
    "api": "run `make api` in a terminal, or start it from notebook 07 with labkit.api.runner",
    "grafana": "run `make infra-up` on a machine with Docker (Grafana runs only in the Docker stack)",
}

NAMES = {"kafka": "Kafka", "mongodb": "MongoDB", "api": "Telemetry API", "grafana": "Grafana"}


@dataclass(frozen=True)
class ServiceStatus:
    """The answer for one service: reachable or not, and why."""

    service: str
    address: str
    ok: bool
    detail: str = ""

    @property
    def message(self) -> str:
        name = NAMES[self.service]
        if self.ok:
            return f"{name} is reachable at {self.address}" + (f" ({self.detail})" if self.detail else "")
        return f"{name} is not reachable at {self.address}: {FIXES[self.service]}" + (
            f" [{self.detail}]" if self.detail else ""
        )


class ServiceUnavailable(RuntimeError):
    """Raised by :func:`require` when a needed service is down; `.down` lists them."""

    def __init__(self, down: list[ServiceStatus]):
        self.down = down
        super().__init__("\n".join(s.message for s in down))


@dataclass(frozen=True)
class Report:
    """All statuses from one preflight run; prints as a short table in notebooks.

    `needed` names the services the caller needs (None: all of them). A service that is down
    and not needed prints as a note, not as a failure: a student should not read "✘" next to
    Grafana in a notebook that never uses it."""

    statuses: tuple[ServiceStatus, ...]
    needed: tuple[str, ...] | None = None

    def __getitem__(self, service: str) -> ServiceStatus:
        found = [s for s in self.statuses if s.service == service]
        if not found:
            raise KeyError(f"{service!r} was not checked; checked: {[s.service for s in self.statuses]}")
        return found[0]

    def __str__(self) -> str:
        return "\n".join(self._line(s) for s in self.statuses)

    def _line(self, s: ServiceStatus) -> str:
        if s.ok:
            return "✔ " + s.message
        if self.needed is None or s.service in self.needed:
            return "✘ " + s.message
        return f"· {NAMES[s.service]} is not reachable at {s.address}, and not needed here. To start it: {FIXES[s.service]}"

    def _repr_pretty_(self, p, cycle):  # IPython display
        p.text(str(self))


def check(settings: Settings, services=SERVICES, timeout: float = 1.5) -> Report:
    """Check `services` concurrently; return within about `timeout` seconds (Kafka: per listed
    server that does not answer, asked in turn). Never raises."""
    checks = {
        "kafka": lambda: _check_kafka(settings, timeout),
        "mongodb": lambda: _check_mongodb(settings, timeout),
        "api": lambda: _check_http("api", settings.api_url, "/health", timeout),
        "grafana": lambda: _check_http("grafana", settings.grafana_url, "/api/health", timeout),
    }
    unknown = set(services) - set(checks)
    if unknown:
        raise ValueError(f"unknown service(s) {sorted(unknown)}; choose from {SERVICES}")
    with ThreadPoolExecutor(max_workers=len(services)) as pool:
        futures = [pool.submit(checks[name]) for name in services]
        return Report(tuple(f.result() for f in futures))


def require(settings: Settings, *services: str, timeout: float = 1.5) -> Report:
    """Check `services` (none named: all four), print one line each, raise ServiceUnavailable
    for those that are down. Only the named services are shown: a notebook that never uses
    Grafana does not print a line about it."""
    report = Report(check(settings, services or SERVICES, timeout).statuses, needed=services or None)
    print(report)
    down = [report[name] for name in services if not report[name].ok]
    if down:
        raise ServiceUnavailable(down)
    return report


def ensure(settings: Settings, *services: str, timeout: float = 1.5) -> None:
    """Like `require` for library code: check only `services`, print nothing, raise
    ServiceUnavailable (with the fix) for those that are down."""
    report = check(settings, services, timeout)
    down = [s for s in report.statuses if not s.ok]
    if down:
        raise ServiceUnavailable(down)


def _tcp(host: str, port: int, timeout: float) -> str | None:
    """None if a TCP connection opens, else a short reason."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def _check_kafka(settings: Settings, timeout: float) -> ServiceStatus:
    """Reachable when any listed bootstrap server answers (a client needs only one to find the
    whole cluster), asked in order; when none does, the reason for each."""
    down = []
    for address in settings.kafka_addresses:
        status = _check_kafka_server(settings, address, timeout)
        if status.ok:
            return status
        down.append(status)
    if len(down) == 1:  # its address is in the message already
        return down[0]
    return ServiceStatus("kafka", ",".join(s.address for s in down), False, "; ".join(f"{s.address}: {s.detail}" for s in down))


def _check_kafka_server(settings: Settings, address: tuple[str, int], timeout: float) -> ServiceStatus:
    """The one server at `address` (host, port): its port open, then a metadata answer."""
    host, port = address
    where = f"{host}:{port}"
    error = _tcp(host, port, timeout)
    if error:
        return ServiceStatus("kafka", where, False, error)
    # A port that accepts is not yet a broker that answers: ask this server for metadata.
    try:
        from labkit.ops import clients

        consumer = clients.kafka_consumer(settings, bootstrap=where, request_timeout_ms=int(timeout * 1000) + 500)
        try:
            topics = consumer.topics()
        finally:
            consumer.close()
        # Only the lab's own topics matter here; the notebooks' sandboxes make many more.
        lab_topics = settings.topics.all()
        own = len(set(topics) & set(lab_topics))
        return ServiceStatus("kafka", where, True, f"the lab's topics: {own} of {len(lab_topics)} exist")
    except Exception as exc:  # any client failure means "not usable yet"
        return ServiceStatus("kafka", where, False, f"port open but no metadata: {type(exc).__name__}")


def server_name(info: dict) -> str:
    """What a MongoDB-wire server is, from its buildInfo (pure): the lab's local SecantusDB
    answers with MongoDB's version number, so say which server it really is."""
    version = info.get("version", "?")
    if info.get("secantusVersion"):
        return f"SecantusDB {info['secantusVersion']}, a MongoDB-compatible server that answers as MongoDB {version}"
    return f"server {version}"


def _check_mongodb(settings: Settings, timeout: float) -> ServiceStatus:
    host, port = settings.mongodb_host_port
    address = f"{host}:{port}"
    from labkit.ops import clients

    client = clients.mongo_client(settings, serverSelectionTimeoutMS=int(timeout * 1000), connect=False)
    try:
        client.admin.command("ping")
        return ServiceStatus("mongodb", address, True, server_name(client.server_info()))
    except Exception as exc:
        return ServiceStatus("mongodb", address, False, type(exc).__name__)
    finally:
        client.close()


def _check_http(service: str, base_url: str, path: str, timeout: float) -> ServiceStatus:
    import httpx

    try:
        response = httpx.get(base_url.rstrip("/") + path, timeout=timeout)
        return ServiceStatus(service, base_url, response.status_code < 500, f"HTTP {response.status_code}")
    except httpx.HTTPError as exc:
        return ServiceStatus(service, base_url, False, type(exc).__name__)
