"""The lab inside a JupyterHub user's server: the kernel where the hub's Jupyter finds it, the
ports written for that user, and services that start without any network (what the hub
image promises once it is built)."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from labkit.config import REPO_ROOT
from labkit.ops import hub

PYTHON = sys.executable


def test_setup_registers_the_kernel_in_the_users_folder_every_jupyter_searches(services, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # the user's kernels folder is under it
    env_file = tmp_path / ".env"
    said = hub.setup(services, env_file=env_file)
    assert any("telemetry-lab" in line for line in said)
    user_kernels = home / ".local" / "share" / "jupyter" / "kernels"
    spec = json.loads((user_kernels / hub.KERNEL_NAME / "kernel.json").read_text())
    assert spec["argv"][0] == PYTHON and spec["display_name"] == hub.KERNEL_DISPLAY
    # Every Jupyter searches the user's data folder, whatever environment it runs from (a hub's
    # JupyterLab is not this environment's, so the --sys-prefix kernel of `make env` is invisible to it).
    searched = subprocess.run([PYTHON, "-c", "from jupyter_core.paths import jupyter_path; print(jupyter_path('kernels'))"],
                              capture_output=True, text=True, check=True, env={**os.environ, "HOME": str(home)}).stdout
    assert str(user_kernels) in searched, searched
    # The test's services run on the default ports and are the lab's own: they keep them.
    written = env_file.read_text() if env_file.exists() else ""
    defaults = hub.default_ports(services)
    assert all(line in (f"KAFKA_BOOTSTRAP_SERVERS=localhost:{defaults.kafka}", f"MONGODB_URI=mongodb://localhost:{defaults.mongodb}")
               for line in written.splitlines() if line.startswith(("KAFKA_", "MONGODB_URI"))), written


def test_setup_moves_the_ports_another_program_holds(services, tmp_path, monkeypatch):
    import socket

    monkeypatch.setenv("HOME", str(tmp_path))
    with socket.socket() as other_student:  # another user's API on this user's default port
        other_student.bind(("127.0.0.1", hub.default_ports(services).api))
        other_student.listen()
        env_file = tmp_path / ".env"
        env_file.write_text("MONGODB_DB=class\n")
        hub.setup(services, env_file=env_file)
    lines = env_file.read_text().splitlines()
    assert lines[0] == "MONGODB_DB=class"
    api = next(line for line in lines if line.startswith("API_URL="))
    assert api != f"API_URL=http://localhost:{hub.default_ports(services).api}"


@pytest.mark.timeout(240)
@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs root and unshare(1)")
def test_the_services_start_and_answer_without_any_network(tmp_path):
    """In a network namespace of its own (loopback only: no PyPI, no Maven Central), the
    services start from what is installed and a message and a document make a round trip."""
    round_trip = textwrap.dedent("""
        from labkit.config import Settings
        from labkit.ops import clients, kafka_io
        settings = Settings.from_env()
        records = kafka_io.round_trip(settings, count=3)
        client = clients.mongo_client(settings)
        client.offline.check.insert_one({"_id": 1})
        print("kafka", len(records), "mongodb", client.offline.check.count_documents({}))
    """)
    script = (f"ip link set lo up && {PYTHON} -m labkit infra run -- {PYTHON} -c '{round_trip}'")
    env = {**os.environ, "LAB_HOME": str(tmp_path / "lab"), "LAB_INFRA": "local", "MAVEN_OPTS": "--offline"}
    done = subprocess.run(["unshare", "--net", "sh", "-c", script], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "kafka 3 mongodb 1" in done.stdout
