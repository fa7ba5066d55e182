"""Live mode's children work with the settings live mode was given (a sandbox's topics and
database, another API port), not with whatever the shell's environment says. No services:
the children's processes are faked."""

import subprocess
import threading
from pathlib import Path

import pytest

from labkit.config import Settings
from labkit.ops import infra, preflight
from labkit.scenarios import live

pytestmark = pytest.mark.unit

NO_DOTENV = Path("/nonexistent/.env")  # unit tests never read a developer's .env


@pytest.fixture
def box_settings(tmp_path) -> Settings:
    """Settings as a sandbox names things: nothing here is a default."""
    return Settings.from_env({"TOPIC_TELEMETRY": "labx.car.telemetry.v1", "MONGODB_DB": "labx_telemetry",
                              "API_URL": "http://127.0.0.1:18999", "LAB_HOME": str(tmp_path)}, dotenv=NO_DOTENV)


def test_the_children_environment_rebuilds_the_given_settings(box_settings, monkeypatch):
    monkeypatch.setenv("TOPIC_TELEMETRY", "from.the.shell")  # the given settings win over the shell
    env = live.child_environment(box_settings)
    assert env["TOPIC_TELEMETRY"] == "labx.car.telemetry.v1" and env["MONGODB_DB"] == "labx_telemetry"
    assert env["PATH"], "the rest of the environment is kept (PATH, the venv)"
    assert Settings.from_env(env, dotenv=NO_DOTENV) == box_settings


class FakeProcess:
    """What live mode uses of a subprocess.Popen: runs until asked to stop."""

    pid = 4242

    def __init__(self):
        self.returncode = None

    def poll(self):
        return self.returncode

    def send_signal(self, sig):
        self.returncode = -sig

    def wait(self, timeout=None):
        return self.returncode


def test_run_starts_every_child_with_the_given_settings(box_settings, monkeypatch):
    started = []
    monkeypatch.setattr(subprocess, "Popen", lambda command, **kw: started.append(kw.get("env")) or FakeProcess())
    monkeypatch.setattr(infra, "up", lambda settings, log: [])
    monkeypatch.setattr(preflight, "check", lambda settings, services: {"grafana": preflight.ServiceStatus("grafana", "-", False)})
    stop = threading.Event()
    stop.set()  # stop at once: only the start matters here
    # Another thread than the main one: live mode installs no signal handlers there.
    worker = threading.Thread(target=live.run, args=(box_settings,), kwargs=dict(stop=stop, log=lambda *a: None))
    worker.start()
    worker.join(timeout=10)
    assert len(started) == 3, "simulator, processor and API"
    for env in started:
        assert env is not None, "a child started without the settings reads the shell's environment"
        assert env["TOPIC_TELEMETRY"] == "labx.car.telemetry.v1" and env["MONGODB_DB"] == "labx_telemetry"
        assert env["API_URL"] == "http://127.0.0.1:18999"
