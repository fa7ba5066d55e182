import os
import signal
import subprocess
import sys
import time

import httpx

from tests.pipeline_helpers import pipeline_env


def test_live_mode_flows_end_to_end_and_stops_everything(pipeline):
    env = {**pipeline_env(pipeline), "API_URL": "http://127.0.0.1:18790"}
    process = subprocess.Popen([sys.executable, "-m", "labkit", "live", "--cars", "3", "--rate", "2"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        fleet = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(fleet) < 3:
            time.sleep(1)
            try:
                fleet = httpx.get("http://127.0.0.1:18790/fleet/latest", timeout=2).json()
            except (httpx.HTTPError, ValueError):
                fleet = []
        assert [c["car_id"] for c in fleet] == ["CAR_001", "CAR_002", "CAR_003"], "events flowed to the API"
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=90)
    assert process.returncode == 0, err
    assert out.count("stopped ") == 3
    # Nothing left behind: no child of the live session still runs.
    leftovers = subprocess.run(["pgrep", "-s", str(process.pid)], capture_output=True, text=True).stdout.split()
    assert leftovers == [] or leftovers == [str(os.getpid())]


def test_live_mode_restarts_a_dead_part_then_gives_up_and_logs_why(pipeline):
    from labkit.scenarios import live

    lines = []
    dying = [sys.executable, "-c", "import sys; print('about to fail'); sys.exit(3)"]
    code = live.run(pipeline, log=lines.append, max_restarts=2, parts=[("flaky", dying)])
    text = "\n".join(lines)
    assert code == 1
    assert "restarted flaky (1 of 2 restarts)" in text and "restarted flaky (2 of 2 restarts)" in text
    assert "flaky died 3 times" in text
    assert "about to fail" in text, "the last lines of the part's log file are shown"
