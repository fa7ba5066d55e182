"""Bring the lab's services up, report on them, take them down: with Docker or without.

`up()` picks Docker when an engine answers (or LAB_INFRA=docker), else local Java
processes (LAB_INFRA=local forces them). Both expose the same ports. After the servers
answer, the four topics are created (idempotently) so nothing relies on auto-create.

    python -m labkit infra up | status | down
    python -m labkit infra run -- CMD ...   # up, run CMD, stop only what was started
"""

from __future__ import annotations

import subprocess
import time

from labkit.config import Settings
from labkit.infra import docker, local
from labkit.infra.local import InfraError
from labkit.infra.readiness import kafka_ready, mongodb_ready
from labkit.infra.topics import ensure_topics

__all__ = ["InfraError", "mode", "up", "down", "reset", "status", "run_with_services"]


def mode(settings: Settings) -> str:
    """'docker' or 'local', from LAB_INFRA or by asking the Docker engine."""
    if settings.infra_mode != "auto":
        return settings.infra_mode
    return "docker" if docker.engine_available() else "local"


def up(settings: Settings, log=print) -> list[str]:
    """Start whatever is not running, wait until ready, create topics.

    Returns the names of the services started by this call (empty when all were up).
    Raises InfraError with a plain explanation when something cannot start.
    """
    started_at = time.monotonic()
    if mode(settings) == "docker":
        started = docker.up(settings, log)
    else:
        local.require_tools(settings)
        local.ensure_jars(log)
        home = settings.lab_home
        started = []
        for service in local.services(settings):
            if local.start(service, settings, home):
                started.append(service.name)
                log(f"  starting {_label(service, settings)} on port {service.port} (log: {service.log_file(home)})")
            else:
                log(f"  {service.name} already running on port {service.port}")
        for service in local.services(settings):
            ready = (lambda: kafka_ready(settings)) if service.name == "kafka" else (lambda: mongodb_ready(settings))
            local.wait_ready(service, home, ready)
    created = ensure_topics(settings)
    if created:
        log(f"  created topics: {', '.join(created)}")
    log(f"Services ready in {time.monotonic() - started_at:.1f} s "
        f"(Kafka {settings.kafka_bootstrap_servers}, MongoDB {settings.mongodb_uri}).")
    return started


def down(settings: Settings, only: list[str] | None = None, log=print) -> list[str]:
    """Stop the services (all, or the names in `only`). Data is kept. Returns what was stopped."""
    if mode(settings) == "docker":
        return docker.down(settings, log, services=only)
    stopped = []
    for service in local.services(settings):
        if only is not None and service.name not in only:
            continue
        if local.stop(service, settings.lab_home):
            stopped.append(service.name)
            log(f"  stopped {service.name}")
        else:
            log(f"  {service.name} was not running")
    return stopped


def reset(settings: Settings, log=print) -> None:
    """Stop the services and delete their data: the next `up` starts from empty topics and
    an empty database. Logs are kept."""
    import shutil

    if mode(settings) == "docker":
        docker.reset(settings, log)
        return
    down(settings, log=log)
    for folder in ("kafka", "mongo", "secantus"):
        shutil.rmtree(settings.lab_home / folder, ignore_errors=True)
    log(f"  deleted Kafka and MongoDB data under {settings.lab_home}")


def status(settings: Settings) -> dict[str, dict]:
    """Per service: pid (local mode), port open, and answering its protocol."""
    result = {}
    if mode(settings) == "docker":
        return docker.status(settings)
    for service in local.services(settings):
        pid = local.read_pid(service, settings.lab_home)
        answering = kafka_ready(settings) if service.name == "kafka" else mongodb_ready(settings)
        result[service.name] = {
            "mode": "local",
            "server": _label(service, settings),
            "pid": pid,
            "port": service.port,
            "running": pid is not None,
            "answering": answering,
            "log": str(service.log_file(settings.lab_home)),
        }
    return result


def _label(service, settings: Settings) -> str:
    """"kafka", "mongo (secantus)" or "mongo (java)": which program serves the name."""
    return f"mongo ({local.mongo_server(settings)})" if service.name == "mongo" else service.name


def run_with_services(settings: Settings, command: list[str], log=print) -> int:
    """Bring services up, run `command`, then stop only the services this call started.

    This is how `make test` leaves the machine as it found it.
    """
    started = up(settings, log)
    try:
        return subprocess.call(command)
    finally:
        if started:
            log(f"Stopping the services this run started: {', '.join(started)}")
            down(settings, only=started, log=log)
