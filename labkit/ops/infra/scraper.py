"""A local Prometheus server, started only on request (`python -m labkit infra up --prometheus`).

It scrapes the API's and the processor's `/metrics` (labkit.observe.prometheus) with the same
scrape configuration as the compose stack's Prometheus (infra/prometheus/prometheus.yml),
its targets moved from `host.docker.internal` to `localhost`. Prometheus is not a Python
package: it comes from the system (Debian and Ubuntu: `apt-get install prometheus`).

    .lab/prometheus/prometheus.yml   the configuration it runs with
    .lab/prometheus/data/            its time series
"""

from __future__ import annotations

import shutil

from labkit.config import REPO_ROOT, Settings
from labkit.ops.infra import local
from labkit.ops.infra.local import InfraError, Service

CONFIG = REPO_ROOT / "infra" / "prometheus" / "prometheus.yml"
PORT = 9090
SERVICE = Service("prometheus", "prometheus", PORT)


def local_config(compose_config: str) -> str:
    """The compose stack's scrape configuration for a Prometheus on the host itself. Pure."""
    return compose_config.replace("host.docker.internal", "localhost")


def start(settings: Settings, log=print) -> bool:
    """Start Prometheus unless it runs; returns True when started now. Raises InfraError
    when it is not installed, with the command that installs it."""
    home = settings.lab_home
    if local.read_pid(SERVICE, home):
        log(f"  prometheus already running: http://localhost:{PORT}")
        return False
    binary = shutil.which("prometheus")
    if binary is None:
        raise InfraError("Prometheus is not installed, so `--prometheus` cannot start it. On Debian or Ubuntu: "
                         "`sudo apt-get install prometheus` (then stop the system service it starts: "
                         "`sudo systemctl disable --now prometheus`); with Docker, the compose stack runs it.")
    if local.port_open(PORT):
        raise InfraError(f"Port {PORT} is already in use (a system Prometheus? `ss -ltnp | grep {PORT}` shows it).")
    folder = home / "prometheus"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "prometheus.yml"
    config.write_text(local_config(CONFIG.read_text()))
    local.spawn(SERVICE, [binary, f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
                          f"--web.listen-address=127.0.0.1:{PORT}"], home)
    local.wait_ready(SERVICE, home, lambda: local.port_open(PORT), timeout=60)
    log(f"  prometheus on http://localhost:{PORT} scraping the API (:8000) and the processor (:9108) "
        f"(log: {SERVICE.log_file(home)})")
    return True


def stop(settings: Settings) -> bool:
    """Stop it if it runs (idempotent)."""
    return local.stop(SERVICE, settings.lab_home)
