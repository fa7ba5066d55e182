import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from labkit.config import Settings
from labkit.ops.infra import local
from labkit.ops.infra.cluster import Cluster
from labkit.ops.infra.topics import replication_for, topic_plan

NO_DOTENV = Path("/nonexistent/.env")  # unit tests never read a developer's .env


def test_kafka_advertises_the_address_clients_use():
    s = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "localhost:19092"}, dotenv=NO_DOTENV)
    props = dict(line.split("=", 1) for line in local.kafka_properties(s, local.POM_DIR).splitlines() if line)
    assert props["advertised.listeners"] == "PLAINTEXT://localhost:19092"
    assert props["listeners"].startswith("PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093")
    assert props["auto.create.topics.enable"] == "false"
    assert props["process.roles"] == "broker,controller"


def _props(text: str) -> dict:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_one_node_needs_one_replica_of_the_internal_topics():
    s = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "localhost:9092"}, dotenv=NO_DOTENV)
    props = _props(local.kafka_properties(s, local.POM_DIR))
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert "broker.session.timeout.ms" not in props  # Kafka's default for the everyday broker


def test_cluster_nodes_share_one_quorum_and_each_listens_on_its_own_ports(tmp_path):
    cluster = Cluster(tmp_path, base_port=19092)
    assert cluster.bootstrap == "localhost:19092,localhost:19094,localhost:19096"
    controllers = {n.node_id: n.controller_port for n in cluster.nodes}
    assert controllers == {1: 19093, 2: 19095, 3: 19097}
    node2 = _props(local.node_properties(2, "localhost", 19094, controllers, tmp_path, session_timeout_ms=3000))
    assert node2["node.id"] == "2"
    assert node2["controller.quorum.voters"] == "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"
    assert node2["listeners"] == "PLAINTEXT://127.0.0.1:19094,CONTROLLER://127.0.0.1:19095"
    assert node2["advertised.listeners"] == "PLAINTEXT://localhost:19094"
    assert node2["offsets.topic.replication.factor"] == "3"
    assert node2["transaction.state.log.min.isr"] == "2"
    assert node2["broker.session.timeout.ms"] == "3000"
    assert int(node2["broker.heartbeat.interval.ms"]) < 3000


def test_replication_follows_the_cluster_size():
    assert replication_for(1) == (1, 1)
    assert replication_for(2) == (2, 1)  # two copies, but a write must not wait for a dead one
    assert replication_for(3) == (3, 2)
    assert replication_for(5) == (3, 2)


def test_java_version_parsing():
    assert local._java_major('openjdk version "17.0.15" 2025-04-15') == 17
    assert local._java_major('java version "1.8.0_392"') == 8
    assert local._java_major('openjdk version "21-ea"') == 21
    assert local._java_major("garbage") is None


# Process bookkeeping, checked on short-lived Python processes started here (never the lab's
# servers). MARKER stands in for a server's marker, a whole argument as a Java main class is.
MARKER = "lab.UnitTestServer"
SERVICE = local.Service("unit-test", MARKER, 1)
SLEEP = [sys.executable, "-c", "import time; time.sleep(30)"]


@contextmanager
def _running(argv, **popen_args):
    """A process for one test, killed and reaped after it (the with closes its pipes too)."""
    with subprocess.Popen(argv, **popen_args) as process:
        try:
            yield process
        finally:
            process.kill()


def _write_pid(home: Path, pid: int) -> None:
    SERVICE.pid_file(home).parent.mkdir(parents=True, exist_ok=True)
    SERVICE.pid_file(home).write_text(str(pid))


def _wait_for_zombie(pid: int) -> None:
    deadline = time.monotonic() + 10
    while psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, f"{pid} did not exit"
        time.sleep(0.02)


def test_a_live_process_with_the_marker_is_ours(tmp_path):
    with _running([*SLEEP, MARKER]) as process:
        _write_pid(tmp_path, process.pid)
        assert local.read_pid(SERVICE, tmp_path) == process.pid
        assert local.spawned_alive(SERVICE, tmp_path)
        assert SERVICE.pid_file(tmp_path).exists()


@pytest.mark.parametrize("args", [[], [f"logs/{MARKER}.log"]], ids=["no marker", "marker only mentioned"])
def test_a_live_process_that_is_not_ours_is_not_mistaken_for_the_server(tmp_path, args):
    with _running([*SLEEP, *args]) as process:  # as if the pid had been reused
        _write_pid(tmp_path, process.pid)
        assert local.read_pid(SERVICE, tmp_path) is None
        assert not SERVICE.pid_file(tmp_path).exists()


def test_stale_pid_file_is_detected_and_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass", MARKER])
    dead.wait()
    _write_pid(tmp_path, dead.pid)
    assert not local._alive(dead.pid)
    assert local.read_pid(SERVICE, tmp_path) is None
    assert not SERVICE.pid_file(tmp_path).exists()


def test_an_exited_child_is_reaped_and_not_ours(tmp_path):
    with _running([sys.executable, "-c", "pass", MARKER]) as child:
        _wait_for_zombie(child.pid)  # exited, not yet reaped
        _write_pid(tmp_path, child.pid)
        assert local.read_pid(SERVICE, tmp_path) is None
        assert not SERVICE.pid_file(tmp_path).exists()
        assert not psutil.pid_exists(child.pid), "reaped: no zombie left behind"


def test_a_zombie_we_cannot_reap_is_not_alive(tmp_path):
    # A child that forks a grandchild and never reaps it: a zombie that is not our child.
    parent = [sys.executable, "-c", "import os, time\n"
              "pid = os.fork()\n"
              "if pid == 0: os._exit(0)\n"
              "print(pid, flush=True); time.sleep(30)", MARKER]
    with _running(parent, stdout=subprocess.PIPE, text=True) as process:  # killing it ends its zombie too
        zombie = int(process.stdout.readline())
        _wait_for_zombie(zombie)
        assert not local._alive(zombie)
        _write_pid(tmp_path, zombie)
        assert local.read_pid(SERVICE, tmp_path) is None


def test_a_damaged_pid_file_is_not_a_process(tmp_path):
    for text in ["0", "-1", "not a pid"]:
        SERVICE.pid_file(tmp_path).parent.mkdir(parents=True, exist_ok=True)
        SERVICE.pid_file(tmp_path).write_text(text)
        assert local.read_pid(SERVICE, tmp_path) is None
        assert not local.spawned_alive(SERVICE, tmp_path)


def test_topic_plan_spreads_only_telemetry():
    plan = topic_plan(Settings.from_env({"TELEMETRY_PARTITIONS": "6"}, dotenv=NO_DOTENV))
    assert plan == {"car.telemetry.v1": 6, "car.telemetry.dlq.v1": 1, "car.telemetry.anomaly.v1": 1, "car.telemetry.metrics.v1": 1}


def test_cluster_id_never_starts_with_a_dash():
    from labkit.ops.infra.local import new_cluster_id

    # 0xF8 as the first byte encodes to "-" in URL-safe base64: the case that broke `infra up`.
    dash_first = iter([bytes([0xF8]) + bytes(15), bytes(16)])
    assert new_cluster_id(lambda: next(dash_first)) == "AAAAAAAAAAAAAAAAAAAAAA"
    ids = [new_cluster_id() for _ in range(5000)]  # a leading "-" would come ~78 times in 5000
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_the_mongo_server_is_chosen_by_setting_or_by_what_is_installed(tmp_path, monkeypatch):
    s = Settings.from_env({"LAB_MONGO_SERVER": "java"}, dotenv=tmp_path / "none")
    assert local.mongo_server(s) == "java"
    assert next(x for x in local.services(s) if x.name == "mongo").marker == "lab.MongoWireServer"
    auto = Settings.from_env({"LAB_MONGO_SERVER": "auto"}, dotenv=tmp_path / "none")
    monkeypatch.setattr(local, "SECANTUS", tmp_path / "not-installed")
    assert local.mongo_server(auto) == "java"
    monkeypatch.setattr(local, "SECANTUS", tmp_path)  # exists
    assert local.mongo_server(auto) == "secantus"


def test_secantus_runs_durable_on_loopback_with_its_data_under_lab_home(tmp_path):
    s = Settings.from_env({"LAB_MONGO_SERVER": "secantus", "MONGODB_URI": "mongodb://localhost:27999"},
                          dotenv=tmp_path / "none").replace(lab_home=tmp_path)
    mongo = next(x for x in local.services(s) if x.name == "mongo")
    argv = local.command(mongo, s, tmp_path)
    assert argv[0].endswith("secantusd-py") and mongo.marker in argv[0] and not mongo.heap
    flags = dict(zip(argv[1::2], argv[2::2]))
    assert flags["--host"] == "127.0.0.1" and flags["--port"] == "27999"
    assert flags["--storage-path"] == str(tmp_path / "secantus") and (tmp_path / "secantus").is_dir()
    assert "--sync-on-commit" in argv, "j=True must mean on disk"


def test_an_unknown_mongo_server_is_refused_with_the_variable_name(tmp_path):
    with pytest.raises(ValueError, match="LAB_MONGO_SERVER"):
        Settings.from_env({"LAB_MONGO_SERVER": "mongod"}, dotenv=tmp_path / "none")
