"""Live mode: simulator, processor and API running together until Ctrl+C, then all stopped.

    python -m labkit live --cars 10        # or: make live

Each part runs in its own process (the same commands as `make simulate`, `make process`,
`make api`); Ctrl+C or SIGTERM stops them in data order (simulator first, so the processor
can drain and commit, then the API) and waits for each to exit.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

from labkit.config import Settings


def commands(cars: int, rate: float, api_host: str) -> list[tuple[str, list[str]]]:
    python = [sys.executable, "-m", "labkit"]
    return [
        ("simulator", [*python, "simulate", "--cars", str(cars), "--rate", str(rate)]),
        ("processor", [*python, "process"]),
        ("api", [*python, "api", "--host", api_host]),
    ]


def run(settings: Settings, cars: int = 10, rate: float = 1.0, api_host: str = "0.0.0.0",
        stop: threading.Event | None = None, log=print) -> int:
    """Start the three parts and block until `stop` is set (or Ctrl+C / SIGTERM)."""
    from labkit import dashboards, infra, preflight

    infra.up(settings, log)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    children = [(name, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
                for name, cmd in commands(cars, rate, api_host)]
    log(f"Live: {cars} cars at {rate} Hz -> Kafka -> processor -> MongoDB -> API {settings.api_url} (docs: /docs)")
    if preflight.check(settings, ("grafana",))["grafana"].ok:
        for uid in dashboards.dashboards():
            log(f"  Grafana: {dashboards.grafana_link(settings.grafana_url, uid)}")
    log("Ctrl+C stops everything.")
    failed = None
    while not stop.wait(0.5):
        failed = next(((n, p) for n, p in children if p.poll() is not None), None)
        if failed:
            log(f"{failed[0]} exited with {failed[1].returncode}: {failed[1].stderr.read()[-500:]}")
            break
    for name, process in children:  # simulator first: the processor drains what was sent
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log(f"  stopped {name}")
    return 1 if failed else 0
