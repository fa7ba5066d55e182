import socket
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from labkit.config import Settings
from labkit.ops import clients, preflight
from labkit.ops.infra import readiness


def closed_port() -> int:
    """A port that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


NO_DOTENV = Path("/nonexistent/.env")  # unit tests never read a developer's .env


@pytest.fixture
def nothing_running() -> Settings:
    p = closed_port()
    return Settings.from_env(
        {"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{p}", "MONGODB_URI": f"mongodb://127.0.0.1:{p}",
         "API_URL": f"http://127.0.0.1:{p}", "GRAFANA_URL": f"http://127.0.0.1:{p}"},
        dotenv=NO_DOTENV,
    )


def test_every_service_down_is_reported_within_three_seconds(nothing_running):
    started = time.monotonic()
    report = preflight.check(nothing_running)
    assert time.monotonic() - started < 3.0
    assert [s.service for s in report.statuses] == list(preflight.SERVICES)
    assert not any(s.ok for s in report.statuses)


def test_messages_name_the_address_and_the_fix(nothing_running):
    report = preflight.check(nothing_running)
    kafka = report["kafka"].message
    assert kafka.startswith("Kafka is not reachable at 127.0.0.1:")
    assert "make infra-up" in kafka
    assert "make infra-up" in report["mongodb"].message
    assert "make api" in report["api"].message
    assert "Docker" in report["grafana"].message


def test_require_raises_only_for_needed_services(nothing_running, capsys):
    with pytest.raises(preflight.ServiceUnavailable) as info:
        preflight.require(nothing_running, "kafka")
    assert [s.service for s in info.value.down] == ["kafka"]
    assert "make infra-up" in str(info.value)
    printed = capsys.readouterr().out.splitlines()
    # Only what the notebook needs is shown: no line about Grafana in a Kafka notebook.
    assert len(printed) == 1 and printed[0].startswith("✘ Kafka is not reachable")


def test_require_with_nothing_named_shows_every_service(nothing_running, capsys):
    report = preflight.require(nothing_running)
    printed = capsys.readouterr().out.splitlines()
    assert [s.service for s in report.statuses] == list(preflight.SERVICES) and len(printed) == 4
    assert all(line.startswith("✘") for line in printed)


def test_a_service_that_was_not_checked_is_a_clear_key_error(nothing_running):
    report = preflight.check(nothing_running, ("kafka",))
    with pytest.raises(KeyError, match="'grafana' was not checked"):
        report["grafana"]


def test_a_service_down_but_not_needed_is_a_note_not_a_failure(nothing_running):
    report = preflight.Report(preflight.check(nothing_running, ("grafana",)).statuses, needed=("kafka",))
    assert str(report).startswith("· Grafana is not reachable at ") and "not needed here" in str(report)


def test_require_nothing_never_raises(nothing_running):
    assert preflight.require(nothing_running) is not None


def test_unknown_service_is_an_error(nothing_running):
    with pytest.raises(ValueError, match="unknown service"):
        preflight.check(nothing_running, ("redis",))


# ---------------------------------------------------------------- several bootstrap servers
# A client needs only one listed server to find the whole cluster, so "Kafka is up" must mean
# "some listed server answers", not "the first one does". The per-server metadata request is
# faked through labkit.ops.clients (the one place clients are built); the TCP probe is real.


@contextmanager
def listening_port():
    """A port that accepts TCP connections (the kernel completes them; nothing is read)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def first_down_second_up(port: int) -> Settings:
    return Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port()},127.0.0.1:{port}"}, dotenv=NO_DOTENV)


class AnsweringConsumer:
    """What preflight uses of a KafkaConsumer, answering as a broker would."""

    def topics(self):
        return {"car.telemetry.v1"}

    def close(self):
        pass


class AnsweringAdmin:
    """What the readiness check uses of a KafkaAdminClient, answering as a broker would."""

    def describe_cluster(self):
        return {"brokers": [{"node_id": 2}]}

    def close(self):
        pass


def test_preflight_finds_kafka_when_the_first_listed_server_is_down_and_another_answers(monkeypatch):
    asked = []
    monkeypatch.setattr(clients, "kafka_consumer",
                        lambda settings, bootstrap=None, **kw: asked.append(bootstrap) or AnsweringConsumer())
    with listening_port() as port:
        status = preflight.check(first_down_second_up(port), ("kafka",))["kafka"]
    assert status.ok, status.message
    assert status.address == f"127.0.0.1:{port}", "the server that answered"
    assert asked == [f"127.0.0.1:{port}"], "metadata asked of the open server only"


def test_preflight_names_every_listed_server_when_none_answers():
    first, second = closed_port(), closed_port()
    s = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{first},127.0.0.1:{second}"}, dotenv=NO_DOTENV)
    status = preflight.check(s, ("kafka",))["kafka"]
    assert not status.ok
    assert status.message.startswith(f"Kafka is not reachable at 127.0.0.1:{first},127.0.0.1:{second}: ")
    assert f"127.0.0.1:{first}: " in status.detail and f"127.0.0.1:{second}: " in status.detail


def test_kafka_ready_when_the_first_listed_server_is_down_and_another_answers(monkeypatch):
    asked = []
    monkeypatch.setattr(clients, "kafka_admin", lambda settings, bootstrap=None, **kw: asked.append(bootstrap) or AnsweringAdmin())
    with listening_port() as port:
        assert readiness.kafka_ready(first_down_second_up(port))
    assert asked == [f"127.0.0.1:{port}"]


def test_kafka_is_not_ready_when_no_listed_server_is_open(monkeypatch):
    monkeypatch.setattr(clients, "kafka_admin", lambda *a, **kw: pytest.fail("no port is open: no client is needed"))
    s = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port()},127.0.0.1:{closed_port()}"}, dotenv=NO_DOTENV)
    assert not readiness.kafka_ready(s)


def test_a_mongodb_compatible_server_is_named_for_what_it_is():
    from labkit.ops.preflight import server_name

    assert server_name({"version": "8.2.11", "secantusVersion": "0.7.0b3"}) == (
        "SecantusDB 0.7.0b3, a MongoDB-compatible server that answers as MongoDB 8.2.11")
    assert server_name({"version": "7.0.4"}) == "server 7.0.4"
