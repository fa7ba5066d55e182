from pathlib import Path

import pytest

from labkit.config import Settings, read_dotenv

NO_DOTENV = Path("/nonexistent/.env")


def test_defaults_are_localhost():
    s = Settings.from_env({}, dotenv=NO_DOTENV)
    assert s.kafka_bootstrap_servers == "localhost:9092"
    assert s.mongodb_uri == "mongodb://localhost:27017"
    assert s.mongodb_db == "telemetry"
    assert s.topics.all() == ("car.telemetry.v1", "car.telemetry.dlq.v1", "car.telemetry.anomaly.v1", "car.telemetry.metrics.v1")
    assert s.collections.telemetry == "car_telemetry"
    assert s.collections.metrics == "pipeline_metrics"
    assert s.api_url == "http://localhost:8000"
    assert s.grafana_url == "http://localhost:3000"


def test_environment_overrides_defaults_and_nested_names():
    s = Settings.from_env(
        {"KAFKA_BOOTSTRAP_SERVERS": "broker:19092", "TOPIC_DLQ": "my.dlq", "COLLECTION_LATEST": "latest",
         "TELEMETRY_PARTITIONS": "6", "UNRELATED": "x"},
        dotenv=NO_DOTENV,
    )
    assert s.kafka_bootstrap_servers == "broker:19092"
    assert s.kafka_host_port == ("broker", 19092)
    assert s.topics.dlq == "my.dlq" and s.topics.telemetry == "car.telemetry.v1"
    assert s.collections.latest == "latest"
    assert s.telemetry_partitions == 6


def test_environment_wins_over_dotenv_which_wins_over_defaults(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text('# comment\nexport MONGODB_DB="from_file"\nAPI_URL=http://api:9000  # trailing\nGARBAGE LINE\n')
    s = Settings.from_env({"MONGODB_DB": "from_env"}, dotenv=dotenv)
    assert s.mongodb_db == "from_env"
    assert s.api_url == "http://api:9000"
    assert s.api_host_port == ("api", 9000)


def test_read_dotenv_missing_file_is_empty():
    assert read_dotenv(NO_DOTENV) == {}


def test_read_dotenv_keeps_a_hash_inside_quotes_and_drops_a_trailing_comment(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text('# a comment\nA="a #b"\nexport B=plain # trailing\nC=\'single $HOME\'\nBROKEN\n')
    assert read_dotenv(dotenv) == {"A": "a #b", "B": "plain", "C": "single $HOME"}


@pytest.mark.parametrize(
    "env, names",
    [
        ({"TELEMETRY_PARTITIONS": "many"}, "TELEMETRY_PARTITIONS"),
        ({"TELEMETRY_PARTITIONS": "0"}, "TELEMETRY_PARTITIONS"),
        ({"LAB_INFRA": "kubernetes"}, "LAB_INFRA"),
        ({"MONGODB_URI": "localhost:27017"}, "MONGODB_URI"),
        ({"API_URL": "localhost:8000"}, "API_URL"),
    ],
)
def test_bad_values_name_the_variable(env, names):
    with pytest.raises(ValueError, match=names):
        Settings.from_env(env, dotenv=NO_DOTENV)


def test_mongodb_host_port_parsing():
    s = Settings.from_env({"MONGODB_URI": "mongodb://user:pw@db.example:27018/?authSource=admin"}, dotenv=NO_DOTENV)
    assert s.mongodb_host_port == ("db.example", 27018)
    assert Settings.from_env({}, dotenv=NO_DOTENV).mongodb_host_port == ("localhost", 27017)


def test_settings_are_immutable_and_replace_makes_a_copy():
    s = Settings.from_env({}, dotenv=NO_DOTENV)
    with pytest.raises(AttributeError):
        s.mongodb_db = "x"
    t = s.replace(mongodb_db="other")
    assert (s.mongodb_db, t.mongodb_db) == ("telemetry", "other")


def test_importing_labkit_connects_to_nothing():
    import socket
    import subprocess
    import sys

    # A fresh interpreter where opening any socket raises: importing must still work.
    code = (
        "import socket\n"
        "def boom(*a, **k): raise RuntimeError('connected at import')\n"
        "socket.socket.connect = boom\n"
        "import labkit, labkit.config, labkit.preflight, labkit.infra, labkit.kafka_io\n"
        "labkit.config.Settings.from_env()\n"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    assert socket  # imported to document intent
