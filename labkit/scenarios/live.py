"""Live mode: simulator, processor and API running together until Ctrl+C, then all stopped.

    python -m labkit live --cars 10        # or: make live

Each part runs in its own process (the same commands as `make simulate`, `make process`,
`make api`), writing its output to its own log file under the lab's log folder (a file never
fills up and blocks its writer, as an unread pipe does). A part that dies is restarted, up to
`max_restarts` times each; one line says so. Ctrl+C or SIGTERM stops them in data order
(simulator first, so the processor can drain and commit, then the API) and waits for each.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from labkit.config import Settings


def commands(cars: int, rate: float, api_host: str) -> list[tuple[str, list[str]]]:
    python = [sys.executable, "-m", "labkit"]
    return [
        ("simulator", [*python, "simulate", "--cars", str(cars), "--rate", str(rate)]),
        ("processor", [*python, "process"]),
        ("api", [*python, "api", "--host", api_host]),
    ]


def child_environment(settings: Settings) -> dict[str, str]:
    """The environment for a child: this process's, with `settings` as variables on top.
    Each child builds its settings with Settings.from_env, so it gets these ones (a sandbox's
    topics and database, another API port), whatever the shell or .env say."""
    return {**os.environ, **settings.as_env()}


@dataclass
class Child:
    """One part of live mode: its command, its log file, its environment (None: this
    process's), its process and its restarts."""

    name: str
    command: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    process: subprocess.Popen | None = None
    restarts: int = 0
    history: list[str] = field(default_factory=list)

    def start(self) -> None:
        with open(self.log_path, "ab") as out:  # the child keeps its own descriptor
            self.process = subprocess.Popen(self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def stop(self, timeout: float = 30) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _last_lines(path: Path, count: int = 5) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-count:])
    except FileNotFoundError:
        return ""


def run(settings: Settings, cars: int = 10, rate: float = 1.0, api_host: str = "127.0.0.1",
        stop: threading.Event | None = None, log=print, max_restarts: int = 3,
        parts: list[tuple[str, list[str]]] | None = None) -> int:
    """Start the three parts (or `parts`: name and command each), each with `settings` in its
    environment, and block until `stop` is set (or Ctrl+C / SIGTERM).

    Returns 0 after a requested stop, 1 when a part died more than `max_restarts` times.
    """
    from labkit.observe import dashboards
    from labkit.ops import infra, preflight

    infra.up(settings, log)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    log_dir = settings.lab_home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = child_environment(settings)
    children = [Child(name, cmd, log_dir / f"live-{name}.log", env) for name, cmd in parts or commands(cars, rate, api_host)]
    for child in children:
        child.start()
        log(f"  started {child.name} (pid {child.process.pid}, log {child.log_path})")
    log(f"Live: {cars} cars at {rate} Hz -> Kafka -> processor -> MongoDB -> API {settings.api_url} (docs: /docs)")
    if preflight.check(settings, ("grafana",))["grafana"].ok:
        for uid in dashboards.dashboards():
            log(f"  Grafana: {dashboards.grafana_link(settings.grafana_url, uid)}")
    log("Ctrl+C stops everything.")
    gave_up = None
    while gave_up is None and not stop.wait(0.5):
        for child in children:
            code = child.process.poll()
            if code is None:
                continue
            log(f"{child.name} exited with {code}; last lines of {child.log_path}:\n{_last_lines(child.log_path)}")
            if child.restarts >= max_restarts:
                log(f"{child.name} died {child.restarts + 1} times: stopping live mode")
                gave_up = child
                break
            child.restarts += 1
            child.start()
            log(f"  restarted {child.name} ({child.restarts} of {max_restarts} restarts)")
    for child in children:  # simulator first: the processor drains what was sent
        child.stop()
        log(f"  stopped {child.name}")
    return 1 if gave_up else 0
