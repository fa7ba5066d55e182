"""A chaos run that fails half-way leaves nothing behind: every processor it started is
stopped, and a service it killed is started again. No services: the run's steps are faked
(the processor children, the service kills, the progress waits)."""

import signal
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from labkit.config import Settings
from labkit.ops import infra, sandbox
from labkit.ops.infra import local
from labkit.scenarios import chaos

pytestmark = pytest.mark.unit

NO_DOTENV = Path("/nonexistent/.env")  # unit tests never read a developer's .env


class FakeProcess:
    """What the chaos run uses of a subprocess.Popen: a processor that runs until signalled."""

    def __init__(self, command, **kwargs):
        self.command, self.returncode, self.signals = command, None, []

    def poll(self):
        return self.returncode

    def send_signal(self, sig):
        self.signals.append(sig)
        self.returncode = -sig

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout=None):
        if self.returncode is None:  # a draining run ends by itself
            self.returncode = 0
        return self.returncode


@pytest.fixture
def world(monkeypatch, tmp_path):
    """The chaos run's surroundings, faked; returns what it did (processes, kills, starts)."""
    settings = Settings.from_env({"LAB_HOME": str(tmp_path), "LAB_INFRA": "local"}, dotenv=NO_DOTENV)
    done = SimpleNamespace(settings=settings, processes=[], killed=[], started=[])
    box = sandbox.Sandbox("chaos", sandbox.names(settings, "chaos"), datetime(2026, 1, 1, tzinfo=timezone.utc))
    monkeypatch.setattr(infra, "mode", lambda s: "local")
    monkeypatch.setattr(sandbox, "open", lambda s, name: box)
    monkeypatch.setattr(chaos, "produce", lambda s, messages, **kw: SimpleNamespace(
        sent=len(messages), delivered=[(0, i) for i in range(len(messages))]))
    # subprocess and time are the modules chaos uses: patched for this test only (monkeypatch undoes it).
    monkeypatch.setattr(subprocess, "Popen", lambda command, **kw: done.processes.append(FakeProcess(command)) or done.processes[-1])
    monkeypatch.setattr(local, "kill", lambda service, home: done.killed.append(service.name))
    monkeypatch.setattr(local, "start", lambda service, s, home: done.started.append(service.name) or True)
    monkeypatch.setattr(local, "wait_ready", lambda service, home, ready, timeout=90.0: None)
    monkeypatch.setattr(chaos, "_count", lambda *a, **kw: None)
    return done


def test_a_failing_step_stops_every_processor_it_started(world, monkeypatch):
    waits = []

    def progress(settings, target, process, timeout_s=180):
        waits.append(target)
        if len(waits) == 2:
            raise RuntimeError("MongoDB went away for good")

    monkeypatch.setattr(chaos, "_wait_for_progress", progress)
    plan = chaos.ChaosPlan(events=40, cars=2, processor_kills=2, broker_kills=0, mongo_kills=0)
    with pytest.raises(RuntimeError, match="for good"):
        chaos.run(world.settings, plan, log=lambda *a: None)
    assert len(world.processes) == 2, "the first processor was killed on schedule, the second started"
    running = [p.command for p in world.processes if p.returncode is None]
    assert running == [], "a processor left running stays in the consumer group"


def test_an_interrupted_outage_starts_the_killed_service_again(world, monkeypatch):
    monkeypatch.setattr(chaos, "_wait_for_progress", lambda *a, **kw: None)

    def ctrl_c(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(chaos.time, "sleep", ctrl_c)  # Ctrl+C while the broker is down
    plan = chaos.ChaosPlan(events=40, cars=2, processor_kills=0, broker_kills=1, mongo_kills=0)
    with pytest.raises(KeyboardInterrupt):
        chaos.run(world.settings, plan, log=lambda *a: None)
    assert world.killed == ["kafka"]
    assert world.started == ["kafka"], "the broker is never left down"
    assert all(p.returncode is not None for p in world.processes)


def test_a_processor_that_exits_during_an_outage_is_counted_once_and_started_again(world, monkeypatch):
    monkeypatch.setattr(chaos, "_wait_for_progress", lambda *a, **kw: None)

    def outage(seconds):  # the running processor gives up while the broker is away
        world.processes[-1].returncode = 1

    monkeypatch.setattr(chaos.time, "sleep", outage)
    exits = []
    monkeypatch.setattr(chaos, "_count", lambda settings, report, valid, invalid, sent, n: exits.append(n))
    plan = chaos.ChaosPlan(events=40, cars=2, processor_kills=0, broker_kills=1, mongo_kills=0)
    report = chaos.run(world.settings, plan, log=lambda *a: None)
    assert exits == [1], "one exit, counted once (it was counted twice: in the outage and at the next step)"
    assert any("exited during the broker outage" in e for e in report.events)
    assert len(world.processes) == 3, "the first, the one started after the outage, the draining run"


def test_a_small_run_uses_batches_small_enough_to_put_kills_between_them():
    small = chaos.ChaosPlan(events=5000, processor_kills=2, broker_kills=1, mongo_kills=1)
    assert small.batch_size * 4 <= 5000 // 5, "four batches or more between two kills"
    assert chaos.ChaosPlan(events=1_000_000).batch_size == 2000, "never above the processor's default"
    assert chaos.ChaosPlan(events=40).batch_size == 50
