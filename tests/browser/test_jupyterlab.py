"""What a student sees: JupyterLab in chromium, notebooks run from the Run menu, no internet.

JupyterLab serves copies of two notebooks (so the UI's saved outputs never touch the
committed, stripped ones) on a spare port, with the lab's kernel. Each notebook is opened,
run with Run > Run All Cells, and checked as a student would look at it: every code cell
ran, no cell shows an error, and every plotly chart is drawn as SVG with data in it.
Screenshots go to runs/browser/.
"""

import json
import os
import shutil
import time

import pytest

from labkit.config import REPO_ROOT
from tests.browser.conftest import jupyterlab_server

SHOTS = REPO_ROOT / "runs" / "browser"
NOTEBOOKS = ("00_start_here.ipynb", "01_simulate.ipynb")
RUN_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory, services):
    """(url, token) of a JupyterLab on a copy of the notebooks; stopped at the end."""
    root = tmp_path_factory.mktemp("notebooks")
    for name in NOTEBOOKS:
        shutil.copy(REPO_ROOT / "notebooks" / name, root / name)
    # JupyterLab renders only the cells in view by default; render them all, so every prompt
    # and output can be checked (and seen in the screenshot).
    settings = tmp_path_factory.mktemp("lab-settings")
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    options = [f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={settings}"]
    with jupyterlab_server(options, env={**os.environ, **services.as_env()}) as running:
        yield running


# The first one also starts JupyterLab (up to 60 s); then up to RUN_TIMEOUT_S for the cells,
# and 30 s per page step.
@pytest.mark.timeout(420)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_notebook_runs_from_the_run_menu_with_every_chart_drawn(jupyterlab, offline_page, name):
    url, token = jupyterlab
    page = offline_page
    page.set_default_timeout(30_000)
    # A workspace of its own: only this notebook is open.
    page.goto(f"{url}/lab/workspaces/{name.split('_')[0]}/tree/{name}?reset&token={token}")
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    notebook.locator(".jp-Cell").first.wait_for()
    # The lab's kernel is picked from the notebook's metadata, without a dialog.
    page.wait_for_selector(".jp-Toolbar-kernelName:has-text('telemetry-lab')")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

    prompts = notebook.locator(".jp-CodeCell .jp-InputPrompt")
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:  # every code cell has an execution count, none is still running ([*]) or not run ([ ])
        texts = [t.strip() for t in prompts.all_inner_texts()]
        # A cell whose code is folded (the records cell at the end) shows an empty prompt, never
        # "[ ]" or "[*]"; its errors would show in its output, which is checked below.
        counts = [t for t in texts if t]
        if counts and all(t.strip("[]:").isdigit() for t in counts):
            break
        assert time.monotonic() < deadline, f"{name}: still running after {RUN_TIMEOUT_S} s: {texts}"
        page.wait_for_timeout(500)

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name.removesuffix('.ipynb')}.png", full_page=True)
    errors = notebook.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]:has-text("Traceback"),'
                          ' .jp-OutputArea-output:has-text("Traceback (most recent call last)")')
    assert errors.count() == 0, f"{name}: {errors.first.inner_text()[:500]}"
    charts = notebook.locator(".jp-OutputArea .js-plotly-plot")
    for i in range(charts.count()):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        drawn = chart.locator(".main-svg .trace, .main-svg path.point, .main-svg .js-line")
        assert drawn.count() > 0, f"{name}: chart {i + 1} of {charts.count()} has no data drawn"
        chart.screenshot(path=SHOTS / f"{name.removesuffix('.ipynb')}-chart-{i + 1}.png")
    if name == "01_simulate.ipynb":
        assert charts.count() >= 2, "notebook 01 draws its trip map and its charts"
    assert not page.errors, page.errors
