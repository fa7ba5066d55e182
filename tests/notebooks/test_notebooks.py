"""Every notebook runs top to bottom: under papermill (as `make lab` runs them, executed
copies kept in runs/) and under nbval in lax mode (as instructors' CI usually does)."""

import subprocess
import sys

import pytest

from labkit import notebook_runner
from labkit.config import REPO_ROOT

NOTEBOOKS = notebook_runner.lab_notebooks()

#: Budget per notebook with its default (small) parameters, in seconds. Generous on
#: purpose: it catches a runaway loop, not a slow machine.
BUDGET_S = {"00_start_here.ipynb": 60, "01_simulate.ipynb": 60, "02_consume_and_validate.ipynb": 150,
            "03_query_mongo.ipynb": 120, "04_serve_api.ipynb": 90,
            "05_read_dashboards.ipynb": 120}
DEFAULT_BUDGET_S = 300


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_start_here.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_under_papermill(services, path):
    result = notebook_runner.run_notebook(path, notebook_runner.RUNS_DIR / "tests")
    assert result.status == "ok", f"{path.name} failed: {result.error} (see {result.output})"
    budget = BUDGET_S.get(path.name, DEFAULT_BUDGET_S)
    assert result.seconds < budget, f"{path.name} took {result.seconds:.0f} s, budget {budget} s"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_passes_nbval_lax(services, path):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider",
         "--nbval-kernel-name", notebook_runner.KERNEL_NAME, "-W", "ignore::DeprecationWarning", str(path)],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_notebooks_are_committed_without_outputs():
    import nbformat

    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
        assert not dirty, f"{path.name}: strip outputs of cells {dirty}"
        assert nb.metadata["kernelspec"]["name"] == notebook_runner.KERNEL_NAME
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{path.name} needs exactly one `parameters` cell"
