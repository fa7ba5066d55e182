"""The Docker path: `docker compose` with the pinned images in infra/docker-compose.yml."""

from __future__ import annotations

import json
import subprocess

from labkit.config import REPO_ROOT, Settings
from labkit.ops.infra.local import InfraError

COMPOSE_FILE = REPO_ROOT / "infra" / "docker-compose.yml"


def engine_available(timeout: float = 3.0) -> bool:
    """True when a Docker engine answers (a docker client alone is not enough)."""
    try:
        return subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True, timeout=timeout,
        ).returncode == 0
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False


def grafana_password(settings: Settings) -> str:
    """Grafana's admin password: GRAFANA_ADMIN_PASSWORD if set, else one generated once per
    machine and kept in the lab folder (git-ignored), never a known default."""
    import os
    import secrets

    if os.environ.get("GRAFANA_ADMIN_PASSWORD"):
        return os.environ["GRAFANA_ADMIN_PASSWORD"]
    path = settings.lab_home / "grafana-admin-password"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(18))
        path.chmod(0o600)
    return path.read_text().strip()


#: What `up --brokers 3` adds: the cluster profile's nodes, a three-voter quorum, internal
#: topics replicated three times with two in sync, and node 1's own volume.
CLUSTER_ENV = {
    "COMPOSE_PROFILES": "cluster",
    "KAFKA_VOTERS": "1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093",
    "KAFKA_REPLICAS": "3",
    "KAFKA_MIN_ISR": "2",
    "KAFKA_VOLUME": "kafka-1-data",
}


def _env(settings: Settings, brokers: int = 1, prometheus: bool = False) -> dict:
    import os

    profiles = ["cluster"] * (brokers == 3) + ["prometheus"] * prometheus
    return {
        **os.environ,
        **(CLUSTER_ENV if brokers == 3 else {}),
        "COMPOSE_PROFILES": ",".join(profiles),
        "KAFKA_PORT": str(settings.kafka_host_port[1]),
        "MONGODB_PORT": str(settings.mongodb_host_port[1]),
        "GRAFANA_PORT": str(settings.grafana_host_port[1]),
        "GRAFANA_ADMIN_PASSWORD": grafana_password(settings),
    }


def _compose(settings: Settings, *args: str, capture: bool = False, brokers: int = 1,
             prometheus: bool = False) -> subprocess.CompletedProcess:
    command = ["docker", "compose", "-f", str(COMPOSE_FILE), *args]
    result = subprocess.run(command, env=_env(settings, brokers, prometheus), capture_output=capture, text=True)
    if result.returncode != 0:
        raise InfraError(
            f"`{' '.join(command)}` failed (exit {result.returncode}). "
            "Is Docker Compose v2 installed? `docker compose version` tells."
            + (f"\n{result.stderr[-2000:]}" if capture else "")
        )
    return result


def running_services(settings: Settings) -> set[str]:
    out = _compose(settings, "ps", "--format", "json", capture=True, brokers=3, prometheus=True).stdout  # every profile
    rows = [json.loads(line) for line in out.splitlines() if line.strip().startswith("{")]
    return {row["Service"] for row in rows if row.get("State") == "running"}


def up(settings: Settings, log=print, brokers: int = 1, prometheus: bool = False) -> list[str]:
    before = running_services(settings)
    if brokers == 1 and {"kafka-2", "kafka-3"} & before:
        raise InfraError("The three-broker cluster runs. Stop it first (`python -m labkit infra down`).")
    log("Starting the Docker stack (first run pulls images)...")
    _compose(settings, "up", "-d", "--wait", brokers=brokers, prometheus=prometheus)
    return sorted(running_services(settings) - before)


def down(settings: Settings, log=print, services: list[str] | None = None) -> list[str]:
    """Stop `services` (default: all) and return the names of those that were running."""
    before = running_services(settings)
    chosen = sorted(before if services is None else before & set(services))
    if chosen:
        _compose(settings, "stop", *chosen, brokers=3, prometheus=True)  # stop, not down: volumes and containers keep the data
    log(f"  stopped {', '.join(chosen) or 'nothing'}")
    return chosen


def status(settings: Settings) -> dict[str, dict]:
    running = running_services(settings)
    return {
        name: {"mode": "docker", "running": name in running}
        for name in ("kafka", "kafka-2", "kafka-3", "mongodb", "grafana")
        if name in running or not name.startswith("kafka-")
    }


def reset(settings: Settings, log=print) -> None:
    _compose(settings, "down", "--volumes", brokers=3)
    log("  removed the containers and their volumes")
