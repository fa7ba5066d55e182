from pathlib import Path

import pytest

from labkit.config import REPO_ROOT, Settings

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
    assert s.grafana_url == "http://localhost:3000"  # in neither: the default


def test_os_environ_is_read_only_when_no_mapping_is_given(monkeypatch):
    monkeypatch.setenv("MONGODB_DB", "from_shell")
    assert Settings.from_env(dotenv=NO_DOTENV).mongodb_db == "from_shell"
    assert Settings.from_env({}, dotenv=NO_DOTENV).mongodb_db == "telemetry"


def test_dotenv_keeps_a_hash_inside_quotes_and_drops_a_trailing_comment(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text('# a comment\nTOPIC_DLQ="a #b"\nexport TOPIC_ANOMALY=plain # trailing\nTOPIC_METRICS=\'single $HOME\'\nBROKEN\n')
    s = Settings.from_env({}, dotenv=dotenv)
    assert (s.topics.dlq, s.topics.anomaly, s.topics.metrics) == ("a #b", "plain", "single $HOME")


def test_a_missing_dotenv_gives_the_defaults():
    assert Settings.from_env({}, dotenv=NO_DOTENV) == Settings()


def test_an_empty_value_counts_as_unset(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("MONGODB_DB=\nAPI_URL=http://api:9000\n")
    s = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "", "TELEMETRY_PARTITIONS": "", "API_URL": ""}, dotenv=dotenv)
    assert (s.kafka_bootstrap_servers, s.telemetry_partitions, s.mongodb_db) == ("localhost:9092", 4, "telemetry")
    assert s.api_url == "http://api:9000"  # an empty variable does not hide the .env file's value


def test_unknown_and_lowercase_variables_are_ignored(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("SOMETHING_ELSE=1\nmongodb_db=lower\n")
    s = Settings.from_env({"UNRELATED": "x", "kafka_bootstrap_servers": "lower:1", "TOPIC_": "y"}, dotenv=dotenv)
    assert s == Settings()


def test_lab_home_is_a_path(tmp_path):
    s = Settings.from_env({"LAB_HOME": str(tmp_path / "lab")}, dotenv=NO_DOTENV)
    assert s.lab_home == tmp_path / "lab" and isinstance(s.lab_home, Path)
    assert Settings.from_env({}, dotenv=NO_DOTENV).lab_home == REPO_ROOT / ".lab"


def test_a_bad_value_in_the_dotenv_file_names_the_variable(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("TELEMETRY_PARTITIONS=many\n")
    with pytest.raises(ValueError, match=r"^TELEMETRY_PARTITIONS='many' is not a valid int$"):
        Settings.from_env({}, dotenv=dotenv)
    assert Settings.from_env({"TELEMETRY_PARTITIONS": "2"}, dotenv=dotenv).telemetry_partitions == 2


def test_as_env_rebuilds_the_same_settings():
    s = Settings.from_env({"TOPIC_DLQ": "my.dlq", "TELEMETRY_PARTITIONS": "6", "LAB_HOME": "/tmp/lab"}, dotenv=NO_DOTENV)
    assert Settings.from_env(s.as_env(), dotenv=NO_DOTENV) == s


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


def test_a_bad_int_says_what_it_needs_in_one_short_line():
    with pytest.raises(ValueError) as caught:
        Settings.from_env({"TELEMETRY_PARTITIONS": "x"}, dotenv=NO_DOTENV)
    assert str(caught.value) == "TELEMETRY_PARTITIONS='x' is not a valid int"


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
        "import labkit, labkit.config, labkit.ops.preflight, labkit.ops.infra, labkit.ops.kafka_io\n"
        "labkit.config.Settings.from_env()\n"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    assert socket  # imported to document intent


def test_every_bootstrap_server_is_an_address_in_the_order_given():
    s = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "b1:19092, b2:19094,b3"}, dotenv=NO_DOTENV)
    assert s.kafka_addresses == [("b1", 19092), ("b2", 19094), ("b3", 9092)]
    assert s.kafka_host_port == ("b1", 19092)
