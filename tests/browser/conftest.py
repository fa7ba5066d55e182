"""The browser tier's chromium: the system's, driven by playwright, with no internet."""

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
