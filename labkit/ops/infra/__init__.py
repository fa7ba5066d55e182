"""Bring the lab's services up, report on them, take them down: with Docker or without.

`up()` picks Docker when an engine answers (or LAB_INFRA=docker), else local Java
processes (LAB_INFRA=local forces them). Both expose the same ports. After the servers
answer, the four topics are created (idempotently) so nothing relies on auto-create.

    python -m labkit infra up | status | down
    python -m labkit infra up --brokers 3   # a three-broker Kafka cluster (infra.cluster)
    python -m labkit infra run -- CMD ...   # up, run CMD, stop only what was started

The one-broker Kafka and the three-broker cluster share the broker port (node 1 of the
cluster answers where the one broker would), so every program works against either; only
one of them runs at a time.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from contextlib import contextmanager, suppress
from pathlib import Path

from labkit.config import Settings
from labkit.ops.infra import docker, local, scraper
from labkit.ops.infra.cluster import Cluster
from labkit.ops.infra.local import InfraError
from labkit.ops.infra.readiness import kafka_ready, mongodb_ready
from labkit.ops.infra.topics import ensure_topics

__all__ = ["InfraError", "mode", "up", "down", "reset", "status", "run_with_services"]


def mode(settings: Settings) -> str:
    """'docker' or 'local', from LAB_INFRA or by asking the Docker engine."""
    if settings.infra_mode != "auto":
        return settings.infra_mode
    return "docker" if docker.engine_available() else "local"


def lab_cluster(settings: Settings) -> Cluster:
    """The lab's three-broker cluster: node 1 on the settings' Kafka port, data in .lab/cluster."""
    host, port = settings.kafka_host_port
    return Cluster(settings.lab_home, base_port=port, host=host)


def three_brokers(settings: Settings, home, base_port: int, log=print) -> tuple[Cluster, bool]:
    """Three brokers for a lesson: the lab's cluster when it runs (`infra up --brokers 3`),
    else three of the lesson's own, with their data in `home`, on the first six free ports
    from `base_port`, started now. Returns (cluster, started): when `started`, the lesson stops
    the cluster (`cluster.down()`) once it is done with it.

    A student on a class's shared stack (`settings.student`) always gets brokers of their own:
    the lesson stops one of them, and the class's cluster is not theirs to stop."""
    from labkit.ops.hub import first_free

    cluster = lab_cluster(settings)
    if not settings.student and sorted(cluster.running()) == [1, 2, 3]:
        return cluster, False
    with ports_lock():  # until they listen: a classmate starting at the same moment sees them taken
        cluster = Cluster(home, base_port=first_free(base_port, width=6))
        log(f"Starting three brokers on {cluster.bootstrap} (about half a minute) ...")
        cluster.up(log=lambda *_: None)
    return cluster, True


@contextmanager
def ports_lock():
    """Held by one process of this machine at a time, whoever runs it: the lessons that pick
    free ports and start servers on them hold it until the servers listen. Without it, two
    students reaching notebook 11 together both found ports 19192-19197 free, and one's
    brokers failed ("Address already in use")."""
    import fcntl

    path = Path(tempfile.gettempdir()) / "labkit-ports.lock"
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)  # a lock needs no write access
    try:
        with suppress(OSError):
            os.fchmod(fd, 0o666)  # other users of a shared machine take the same lock
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def up(settings: Settings, log=print, brokers: int | None = None, prometheus: bool = False) -> list[str]:
    """Start whatever is not running, wait until ready, create topics.

    `brokers`: 1 for one Kafka broker, 3 for the three-broker cluster; None keeps whichever
    runs (one broker when none does). Returns the names of the services started by this call
    (empty when all were up). `prometheus`: also a Prometheus server scraping the API and
    the processor (never by default). Raises InfraError with a plain explanation when something
    cannot start.
    """
    started_at = time.monotonic()
    if brokers not in (None, 1, 3):
        raise InfraError(f"--brokers {brokers}: the lab runs 1 broker or a cluster of 3.")
    if mode(settings) == "docker":
        started = docker.up(settings, log, brokers=brokers or 1, prometheus=prometheus)
    else:
        local.require_tools(settings)
        local.ensure_jars(log)
        home = settings.lab_home
        started = []
        cluster = lab_cluster(settings)
        single = local.read_pid(local.services(settings)[0], home)
        if brokers == 3 and single:
            raise InfraError("The one-broker Kafka runs on the port the cluster's node 1 needs. "
                             "Stop it first (`python -m labkit infra down`), then `infra up --brokers 3`.")
        if brokers == 1 and cluster.running():
            raise InfraError("The three-broker cluster runs. Stop it first (`python -m labkit infra down`), "
                             "then `infra up`.")
        use_cluster = brokers == 3 or (brokers is None and bool(cluster.running()))
        if use_cluster:
            started += [f"kafka-{i}" for i in cluster.up(log)]
            log(f"  Kafka cluster of 3 brokers: {cluster.bootstrap} (a client that must survive any "
                f"node's loss lists all three in KAFKA_BOOTSTRAP_SERVERS)")
        for service in local.services(settings)[1 if use_cluster else 0:]:
            if local.start(service, settings, home):
                started.append(service.name)
                log(f"  starting {_label(service, settings)} on port {service.port} (log: {service.log_file(home)})")
            else:
                log(f"  {service.name} already running on port {service.port}")
        for service in local.services(settings)[1 if use_cluster else 0:]:
            ready = (lambda: kafka_ready(settings)) if service.name == "kafka" else (lambda: mongodb_ready(settings))
            local.wait_ready(service, home, ready)
        if prometheus and scraper.start(settings, log):
            started.append("prometheus")
    created = ensure_topics(settings)  # replicated to match the cluster's size
    if created:
        log(f"  created topics: {', '.join(created)}")
    log(f"Services ready in {time.monotonic() - started_at:.1f} s "
        f"(Kafka {settings.kafka_bootstrap_servers}, MongoDB {settings.mongodb_uri_shown}).")
    return started


def down(settings: Settings, only: list[str] | None = None, log=print) -> list[str]:
    """Stop the services (all, or the names in `only`). Data is kept. Returns what was stopped."""
    if mode(settings) == "docker":
        return docker.down(settings, log, services=only)
    stopped = []
    nodes = [n.service for n in lab_cluster(settings).nodes if only is None or n.service.name in only]
    for service in local.stop_together(nodes, settings.lab_home):
        stopped.append(service.name)
        log(f"  stopped {service.name}")
    for service in local.services(settings):
        if only is not None and service.name not in only:
            continue
        if service.name == "kafka" and stopped:  # the cluster was Kafka
            continue
        if local.stop(service, settings.lab_home):
            stopped.append(service.name)
            log(f"  stopped {service.name}")
        else:
            log(f"  {service.name} was not running")
    if (only is None or "prometheus" in only) and scraper.stop(settings):  # started only on request
        stopped.append("prometheus")
        log("  stopped prometheus")
    return stopped


def reset(settings: Settings, log=print) -> None:
    """Stop the services and delete their data: the next `up` starts from empty topics and
    an empty database. Logs are kept."""
    import shutil

    if mode(settings) == "docker":
        docker.reset(settings, log)
        return
    down(settings, log=log)
    for folder in ("kafka", "cluster", "mongo", "secantus"):
        shutil.rmtree(settings.lab_home / folder, ignore_errors=True)
    log(f"  deleted Kafka and MongoDB data under {settings.lab_home}")


def status(settings: Settings) -> dict[str, dict]:
    """Per service: pid (local mode), port open, and answering its protocol."""
    result = {}
    if mode(settings) == "docker":
        return docker.status(settings)
    cluster = lab_cluster(settings)
    if cluster.running():
        result.update(_cluster_status(settings, cluster))
    for service in local.services(settings)[1 if cluster.running() else 0:]:
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


def _cluster_status(settings: Settings, cluster: Cluster) -> dict[str, dict]:
    """Per node: pid, port, answering; under "partitions", the telemetry topic's partitions
    with their leader and in-sync replicas."""
    from labkit.ops.infra.topics import partition_table

    result = {}
    for node in cluster.nodes:
        pid = local.read_pid(node.service, settings.lab_home)
        result[node.service.name] = {
            "mode": "local", "server": f"kafka node {node.node_id}", "pid": pid, "port": node.port,
            "running": pid is not None, "answering": pid is not None and local.port_open(node.port),
            "log": str(node.service.log_file(settings.lab_home)),
        }
    live = ",".join(f"{cluster.host}:{n.port}" for n in cluster.nodes if result[n.service.name]["answering"])
    try:
        result["partitions"] = {"mode": "local", "server": "partitions", "running": True,
                                "table": partition_table(live, [settings.topics.telemetry]) if live else []}
    except Exception as exc:  # metadata unavailable: say so rather than fail the status
        result["partitions"] = {"mode": "local", "server": "partitions", "running": False, "error": str(exc)}
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
        child = subprocess.Popen(command)
        try:
            return child.wait()
        except KeyboardInterrupt:
            # Ctrl+C reached the command too (one process group): let it finish its own clean-up
            # (a test's fixtures stop the servers they started) before the services go.
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
            raise
    finally:
        if started:
            log(f"Stopping the services this run started: {', '.join(started)}")
            down(settings, only=started, log=log)
