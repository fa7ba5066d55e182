import os
import subprocess
import sys

from labkit.config import Settings
from labkit.infra import local
from labkit.infra.topics import topic_plan


def test_kafka_advertises_the_address_clients_use():
    s = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "localhost:19092"})
    props = dict(line.split("=", 1) for line in local.kafka_properties(s, local.POM_DIR).splitlines() if line)
    assert props["advertised.listeners"] == "PLAINTEXT://localhost:19092"
    assert props["listeners"].startswith("PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093")
    assert props["auto.create.topics.enable"] == "false"
    assert props["process.roles"] == "broker,controller"


def test_java_version_parsing():
    assert local._java_major('openjdk version "17.0.15" 2025-04-15') == 17
    assert local._java_major('java version "1.8.0_392"') == 8
    assert local._java_major('openjdk version "21-ea"') == 21
    assert local._java_major("garbage") is None


def test_stale_pid_file_is_detected_and_removed(tmp_path):
    service = local.Service("kafka", "kafka.Kafka", 1, ())
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    service.pid_file(tmp_path).parent.mkdir(parents=True)
    service.pid_file(tmp_path).write_text(str(dead.pid))
    assert local.read_pid(service, tmp_path) is None
    assert not service.pid_file(tmp_path).exists()


def test_a_live_process_that_is_not_ours_is_not_mistaken_for_the_server(tmp_path):
    service = local.Service("kafka", "kafka.Kafka", 1, ())
    service.pid_file(tmp_path).parent.mkdir(parents=True)
    service.pid_file(tmp_path).write_text(str(os.getpid()))  # pytest, not Kafka
    assert local.read_pid(service, tmp_path) is None


def test_topic_plan_spreads_only_telemetry():
    plan = topic_plan(Settings.from_env({"TELEMETRY_PARTITIONS": "6"}))
    assert plan == {"car.telemetry.v1": 6, "car.telemetry.dlq.v1": 1, "car.telemetry.anomaly.v1": 1, "car.telemetry.metrics.v1": 1}


def test_cluster_id_never_starts_with_a_dash():
    from labkit.infra.local import new_cluster_id

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
    import pytest

    with pytest.raises(ValueError, match="LAB_MONGO_SERVER"):
        Settings.from_env({"LAB_MONGO_SERVER": "mongod"}, dotenv=tmp_path / "none")
