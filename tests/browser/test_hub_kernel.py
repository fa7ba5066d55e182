"""A JupyterLab started as a hub starts a user's server (under the user's prefix, with the
user's own home) lists the lab's kernel that `python -m labkit hub setup` registered for
that user, and no second JupyterLab is involved."""

import os
import subprocess
import sys

import httpx
import pytest

from labkit.config import REPO_ROOT
from tests.browser.conftest import jupyterlab_server

SHOTS = REPO_ROOT / "runs" / "browser"
USER = "student-07"


@pytest.mark.timeout(240)
def test_a_hub_style_jupyterlab_lists_the_kernel_setup_registered(tmp_path, offline_page, services):
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "JUPYTERHUB_USER": USER}
    setup = subprocess.run([sys.executable, "-m", "labkit", "hub", "setup"], cwd=REPO_ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert setup.returncode == 0, setup.stdout + setup.stderr

    base = f"/user/{USER}/"  # where a hub's proxy sends the user's requests
    # A hub's JupyterLab runs from its own environment: it sees the user's kernels folder, not the
    # lab's .venv, so the kernel `make env` put there (--sys-prefix) is left out here.
    user_kernels = home / ".local" / "share" / "jupyter" / "kernels"
    options = [f"--ServerApp.root_dir={tmp_path}", f"--KernelSpecManager.kernel_dirs={user_kernels}"]
    with jupyterlab_server(options, env=env, base_url=base) as (url, token):
        url += "/"
        specs = httpx.get(f"{url}api/kernelspecs", params={"token": token}, timeout=10).json()["kernelspecs"]
        assert specs["telemetry-lab"]["spec"]["display_name"] == "Python (telemetry-lab)"
        assert specs["telemetry-lab"]["spec"]["argv"][0] == sys.executable  # the lab's environment runs the kernel
        page = offline_page
        page.set_default_timeout(30_000)
        page.goto(f"{url}lab?reset&token={token}")
        card = page.locator(".jp-LauncherCard", has_text="Python (telemetry-lab)").first
        card.wait_for()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / "hub-launcher.png")
        assert card.is_visible()
