import socket
import time
from pathlib import Path

import pytest

from labkit.config import Settings
from labkit.ops import preflight


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
    # The whole report is shown; only the needed service that is down is marked as failing.
    assert len(printed) == 4 and printed[0].startswith("✘ Kafka is not reachable")
    assert sum(line.startswith("✘") for line in printed) == 1
    assert any(line.startswith("· Grafana is not reachable at ") and "not needed here. To start it: run `make infra-up`" in line
               for line in printed)


def test_require_nothing_never_raises(nothing_running):
    assert preflight.require(nothing_running) is not None


def test_unknown_service_is_an_error(nothing_running):
    with pytest.raises(ValueError, match="unknown service"):
        preflight.check(nothing_running, ("redis",))
