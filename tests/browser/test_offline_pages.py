"""In a real chromium with no internet: the maps draw their cars and the API's /docs works.

The browser may reach this machine (the API, files) and nothing else: every other request
is aborted, as in a classroom without internet. Screenshots go to runs/browser/. Needs the
system's chromium (`apt-get install chromium`; `make test` installs it when run as root).
"""

import httpx
import pandas as pd
import pytest

from labkit import contract
from labkit.api.runner import ApiServer
from labkit.config import REPO_ROOT
from labkit.observe import basemap

SHOTS = REPO_ROOT / "runs" / "browser"


def cars_frame(n: int = 5) -> pd.DataFrame:
    return pd.DataFrame({"latitude": [52.50 + i * 0.01 for i in range(n)], "longitude": [13.38 + i * 0.01 for i in range(n)],
                         "status": ["ok", "alert", "ok", "offline", "ok"][:n], "car_id": [contract.car_id(i + 1) for i in range(n)]})


@pytest.mark.parametrize("draw", [basemap.points, basemap.track], ids=["fleet map", "trip map"])
def test_a_map_without_internet_draws_every_car(offline_page, tmp_path, draw):
    frame = cars_frame()
    fig = draw(frame, kind=basemap.NO_TILES, hover_name="car_id")
    page_file = tmp_path / "map.html"
    fig.write_html(page_file, include_plotlyjs=True)  # plotly.js inline: nothing to fetch
    offline_page.goto(page_file.as_uri())
    offline_page.wait_for_selector(".geo path.js-line, .geo path.point", timeout=15_000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    offline_page.screenshot(path=SHOTS / f"{draw.__name__}-map.png")
    drawn = offline_page.locator(".geo path.point").count() if draw is basemap.points else \
        offline_page.locator(".geo path.js-line").count()
    assert drawn == (len(frame) if draw is basemap.points else 1)
    assert offline_page.locator(".geo text", has_text="Alexanderplatz").count() == 1  # a landmark names the place
    assert not offline_page.errors and not offline_page.blocked, (offline_page.errors, offline_page.blocked)


def test_the_street_map_needs_the_internet_so_it_is_not_used_without(offline_page, tmp_path):
    """What the fallback is for: the street map asks the tile server, which is not there."""
    fig = basemap.points(cars_frame(), kind=basemap.STREETS)
    page_file = tmp_path / "streets.html"
    fig.write_html(page_file, include_plotlyjs=True)
    offline_page.goto(page_file.as_uri())
    for _ in range(50):  # the map asks for its first tiles as soon as it has a WebGL context
        if any("tile.openstreetmap.org" in url for url in offline_page.blocked):
            break
        offline_page.wait_for_timeout(100)
    assert any("tile.openstreetmap.org" in url for url in offline_page.blocked)
    assert basemap.choose(False) == basemap.NO_TILES


def test_docs_lists_every_route_and_runs_a_request_without_internet(pipeline, offline_page):
    with ApiServer(pipeline, port=18777) as api:
        api_paths = sorted(httpx.get(api.url + "/openapi.json").json()["paths"])
        offline_page.goto(api.url + "/docs")
        offline_page.wait_for_selector(".opblock", timeout=15_000)
        shown = offline_page.locator(".opblock .opblock-summary-path").all_inner_texts()
        assert sorted({p.replace("\u200b", "") for p in shown}) == sorted(set(api_paths)), "every route on the page"
        health = offline_page.locator(".opblock", has=offline_page.locator('[data-path="/health"]')).first
        health.locator(".opblock-summary").click()
        health.get_by_role("button", name="Try it out").click()
        health.get_by_role("button", name="Execute").click()
        status = health.locator(".live-responses-table tbody td.response-col_status").first
        status.wait_for(timeout=15_000)
        SHOTS.mkdir(parents=True, exist_ok=True)
        offline_page.screenshot(path=SHOTS / "api-docs.png", full_page=False)
        assert status.inner_text().strip() == "200"
        assert api_paths and not offline_page.blocked, offline_page.blocked
