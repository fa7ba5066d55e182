"""The browser tier's chromium: the system's, driven by playwright, with no internet."""

import contextlib
import shutil
from urllib.parse import urlparse

import pytest

LOCAL = {"127.0.0.1", "localhost", None}  # None: a file:// page


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: `sudo apt-get install chromium` (make test installs it as root)",
                    pytrace=False)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def offline_page(browser):
    """A page whose requests beyond this machine are aborted; `page.blocked` lists them."""
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.blocked, page.errors = [], []

    def only_local(route):
        if urlparse(route.request.url).hostname in LOCAL:
            route.continue_()
        else:
            page.blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    page.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab_server(options: list[str], env: dict, base_url: str = "/"):
    """A JupyterLab on a spare port with `options`, as `(url, token)` once /api/status answers
    (up to 60 s); stopped when the block ends."""
    import os
    import secrets
    import subprocess
    import sys
    import time

    import httpx

    port, token = free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               f"--IdentityProvider.token={token}", f"--ServerApp.base_url={base_url}", *options]
    if os.geteuid() == 0:
        command.append("--allow-root")
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}{base_url.rstrip('/')}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/status", params={"token": token}, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail("JupyterLab did not start within 60 s", pytrace=False)
            time.sleep(0.5)
        yield url, token
    finally:
        server.terminate()
        server.wait(timeout=30)
