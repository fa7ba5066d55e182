import json
import subprocess
import sys
import time

from labkit.ops import infra


def test_up_when_up_starts_nothing_and_is_quick(services):
    started_at = time.monotonic()
    assert infra.up(services, log=lambda *a, **k: None) == []
    assert time.monotonic() - started_at < 20


def test_status_reports_both_services_running_and_answering(services):
    result = subprocess.run([sys.executable, "-m", "labkit", "infra", "status", "--json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for name in ("kafka", "mongo"):
        assert report[name]["running"] and report[name]["answering"], report
