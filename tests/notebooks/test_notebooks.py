"""Every notebook runs top to bottom, shows nothing broken, and gives the same numbers in any
order and on every run.

The notebooks run once under papermill, in a shuffled order (the seed is printed; set
NOTEBOOK_ORDER_SEED to repeat an order), each executed copy kept under runs/tests/forward; a
session that includes these tests starts that run in the background as soon as it has collected
them (tests/notebooks/forward_run.py; FORWARD_EARLY=0 runs it in the first test instead). Its
outputs are checked (no errors, warnings or frozen widgets; every chart non-empty, titled, with
dated axes inside the run's time), the numbers each notebook records (`labkit.teach.records`)
must obey the conservation laws and equal the committed expected values
(tests/notebooks/expected_records.json: in any order, the same numbers as the run that wrote
them; `python -m tests.notebooks.expected runs/<run>` rewrites them from an executed run after
a deliberate change). nbval (lax), as instructors' CI usually runs it, reruns notebook 00: the
tagged records cell must show what it showed the first time.
"""

import json
import subprocess
import sys
from datetime import datetime, timezone

import nbformat
import pytest

from labkit.config import REPO_ROOT
from labkit.teach import notebook_runner, records
from tests.notebooks import forward_run
from tests.notebooks.output_checks import notebook_figure_problems, output_problems

NOTEBOOKS = notebook_runner.lab_notebooks()

#: Budget per notebook with its default (small) parameters, in seconds. It catches a runaway
#: loop, not a slow machine. Notebook 11 starts (and stops) three Kafka brokers of its own
#: for its failover section: about 40 s more; 09 drains its backlog three times (about 60 s).
BUDGET_S = 90
BUDGETS_S = {"09_scale_out.ipynb": 120, "11_change_in_production.ipynb": 150}

#: The test that first asks for `forward` runs every notebook in its setup: up to the budget
#: each, plus kernels starting. pytest-timeout counts fixture setup in the test's time.
FORWARD_TIMEOUT_S = sum(BUDGETS_S.get(p.name, BUDGET_S) for p in NOTEBOOKS) + 120

#: nbval's rerun (of notebook 00), in a pytest of its own.
NBVAL_TIMEOUT_S = 300
NBVAL_NOTEBOOKS = ("00_start_here.ipynb",)

#: What each notebook records with its default parameters (see the module docstring).
EXPECTED = REPO_ROOT / "tests" / "notebooks" / "expected_records.json"

#: Charts with fixed, documented dates (a reproducible morning) besides "around now".
FIXED_WINDOWS = [(datetime(2026, 2, 25, tzinfo=timezone.utc), datetime(2026, 2, 26, tzinfo=timezone.utc)),
                 (datetime(2026, 11, 1, tzinfo=timezone.utc), datetime(2026, 11, 2, tzinfo=timezone.utc))]


@pytest.fixture(scope="module")
def forward(services):
    """The forward run: started in the background when the session began (forward_run.start),
    else now. Either way its seed is printed, to repeat the order."""
    early = forward_run.EARLY
    if early is not None:
        print(f"\nnotebook order (NOTEBOOK_ORDER_SEED={early.seed}), run in the background since the session began")
        return early.wait(FORWARD_TIMEOUT_S)
    seed = forward_run.choose_seed()
    order = forward_run.shuffled(NOTEBOOKS, seed)
    print(f"\nnotebook order (NOTEBOOK_ORDER_SEED={seed}): {', '.join(p.name[:2] for p in order)}")
    return forward_run.run(seed)


def _executed(run: dict, name: str):
    result = run["results"][name]
    assert result.status == "ok", f"{name} failed: {result.error} (see {result.output})"
    return nbformat.read(result.output, as_version=4)


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_start_here.ipynb"


@pytest.mark.timeout(FORWARD_TIMEOUT_S)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_and_shows_nothing_broken(forward, path):
    nb = _executed(forward, path.name)
    seconds = forward["results"][path.name].seconds
    budget = BUDGETS_S.get(path.name, BUDGET_S)
    assert seconds < budget, f"{path.name} took {seconds:.0f} s, budget {budget} s"
    assert output_problems(nb) == []
    start, end = forward["window"]
    problems = [p for p in notebook_figure_problems(nb, (start, end))
                if not _inside_fixed_window(nb, p)]
    assert problems == []
    assert records.read(nb), f"{path.name} records no numbers (labkit.teach.records.record)"


def _inside_fixed_window(nb, problem: str) -> bool:
    """A reported time outside the run's window is fine when the figure is inside one of the
    documented fixed windows instead (notebooks 01 and 06 chart a fixed morning)."""
    cell = int(problem.split(":")[0].removeprefix("cell "))
    return any(notebook_figure_problems({"cells": [nb.cells[cell]]}, window) == [] for window in FIXED_WINDOWS)


@pytest.mark.timeout(FORWARD_TIMEOUT_S)
def test_recorded_numbers_obey_conservation(forward):
    nb01 = records.read(_executed(forward, "01_simulate.ipynb"))
    assert nb01["sent"] == nb01["read_back"] == sum(nb01["per_partition"].values())
    assert sum(nb01["end_offsets"].values()) == nb01["sent"] + len(nb01["hand_offsets"])

    nb02 = records.read(_executed(forward, "02_consume_and_validate.ipynb"))
    assert nb02["processed"] == nb02["sent"] == nb02["stored"] + nb02["duplicates"] + nb02["invalid"]
    assert nb02["stored"] == nb02["distinct_valid"]
    assert nb02["invalid"] == sum(nb02["invalid_by_reason"].values())
    assert nb02["crash_after_insert"] == nb02["hand_valid"] + nb02["first_poll_valid"]
    assert nb02["crash_after_commit"] == nb02["hand_valid"] - nb02["first_poll_valid"]
    assert nb02["crash_idempotent"] == nb02["hand_valid"]

    nb04 = records.read(_executed(forward, "04_dead_letters.ipynb"))
    assert nb04["processed"] == nb04["sent"] == nb04["stored"] + nb04["duplicates"] + nb04["invalid"]
    assert (nb04["sent"], nb04["stored"], nb04["invalid"]) == (nb02["sent"], nb02["stored"], nb02["invalid"])  # one batch
    nb05 = records.read(_executed(forward, "05_detection.ipynb"))
    assert nb05["sent"] == nb04["sent"]  # the same batch again
    assert nb05["anomalies"] == sum(nb05["anomalies_by_type"].values())
    assert (nb04["second_pass_processed"], nb04["second_pass_stored"]) == (nb04["sent"], 0)
    assert nb04["replayed"] == 5  # the five autobahn events, recovered from the DLQ

    nb08 = records.read(_executed(forward, "08_read_dashboards.ipynb"))
    assert nb08["processed"] == nb08["stored"] + nb08["duplicates"] + nb08["invalid"]
    assert sum(nb08["burst_jump"].values()) == 40
    assert (nb08["lag_stopped"], nb08["lag_after"], nb08["caught_up"]) == (50, 0, 50)
    assert (nb08["sampled_lag_highest"], nb08["sampled_lag_last"]) == (50, 0)  # the board's lag, from the broker

    nb09 = records.read(_executed(forward, "09_scale_out.ipynb"))
    assert all(sorted(p for parts in owners.values() for p in parts) == [0, 1, 2, 3] and len(owners) == int(n)
               for n, owners in nb09["owners"].items())  # every partition held, by exactly one worker
    assert sorted(nb09["kill_after"]) == ["w2"] and len(nb09["kill_before"]) == 2
    assert nb09["kill_valid"] == nb09["kill_stored"] == nb09["kill_distinct"]

    nb03 = records.read(_executed(forward, "03_groups_and_transactions.ipynb"))
    assert nb03["read_with_defaults"] == 0  # a new group at the default 'latest' reads nothing already there
    assert nb03["read_again"] == 0  # the same group with 'earliest': its close() had auto-committed the ends
    assert sorted(p for held in nb03["members_held"] for p in held) == [0, 1, 2, 3]  # each partition, one member
    assert (nb03["demo_committed"], nb03["demo_uncommitted"], nb03["demo_end_offset"]) == (3, 6, 8)  # markers
    assert nb03["copied_once"] == nb03["copied_committed"] == nb03["messages"]  # exactly once, after a crash

    nb10 = records.read(_executed(forward, "10_event_time.ipynb"))
    verdicts = nb10["verdicts"]
    assert nb10["readings"] == sum(verdicts.values()) == nb10["stored"]  # every valid reading is stored
    assert (nb10["processor_late"], nb10["processor_too_late"]) == (verdicts["late"], verdicts["too_late"]) != (0, 0)
    assert nb10["too_late_recorded"] == nb10["processor_too_late"]

    nb11 = records.read(_executed(forward, "11_change_in_production.ipynb"))
    assert nb11["failover"] == {"lost": 0, "duplicates": 0, "leader_moved": True}  # on three brokers of its own
    assert nb11["acks_lost"]["all"] == 0 and nb11["acks_lost"]["1"] > 0  # followers frozen, then the leader killed
    assert nb11["mixed_processed"] == nb11["mixed_stored"] == sum(nb11["by_version"].values())
    assert {key.split()[1] for key in nb11["by_version"]} == {"v1", "v2"}
    assert nb11["rejected"] == {"unsupported_version": 1, "missing_field:speed": 1, "wrong_type:battery_v": 1}


@pytest.mark.timeout(FORWARD_TIMEOUT_S)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_recorded_numbers_are_the_committed_ones_whatever_the_order(forward, path):
    expected = json.loads(EXPECTED.read_text())[path.name]
    recorded = records.read(_executed(forward, path.name))
    assert recorded == expected, (f"{path.name} recorded other numbers than {EXPECTED.name} (this order's seed is "
                                  "printed above). After a deliberate change: python -m tests.notebooks.expected "
                                  "runs/tests/forward")


@pytest.mark.timeout(FORWARD_TIMEOUT_S + NBVAL_TIMEOUT_S + 60)
def test_nbval_reruns_a_notebook_with_the_same_numbers(forward):
    """nbval over executed copies (notebook 00, seconds long). Lax: every cell must run without
    error, and the tagged records cell must show what it showed the first time."""
    copies = [notebook_runner.RUNS_DIR / "tests" / "forward" / name for name in NBVAL_NOTEBOOKS]
    for copy in copies:
        _executed(forward, copy.name)  # the first run succeeded, so its outputs are a reference
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider",
         "--nbval-kernel-name", notebook_runner.KERNEL_NAME, "-W", "ignore::DeprecationWarning", *map(str, copies)],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=NBVAL_TIMEOUT_S,
    )
    assert result.returncode == 0, _first_failure(result.stdout) + result.stderr[-2000:]


def _first_failure(output: str) -> str:
    """nbval's summary lines and its first failing cell in full: the cells after it often fail
    only because it did (a name it should have defined), so the tail alone would mislead."""
    summary = [line for line in output.splitlines() if line.startswith("FAILED ") or " failed" in line]
    start = output.find("Notebook cell execution failed")
    first = output[max(0, start - 200):start + 5000] if start >= 0 else output[-5000:]
    return "\n".join(summary[-12:]) + "\n--- first failing cell ---\n" + first


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS:
        ids = [c.get("id") for c in json.loads(path.read_text())["cells"]]
        assert len(set(ids)) == len(ids) and None not in ids, f"{path.name}: every cell needs an id of its own"
        nb = nbformat.read(path, as_version=4)
        dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
        assert not dirty, f"{path.name}: strip outputs of cells {dirty}"
        assert nb.metadata["kernelspec"]["name"] == notebook_runner.KERNEL_NAME
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{path.name} needs exactly one `parameters` cell"
        # The session's numbers, and a going-further part's of its own: each recording cell is checked.
        checked = [i for i, c in enumerate(nb.cells) if "nbval-check-output" in c.metadata.get("tags", [])]
        recording = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "record(" in c.source]
        assert recording and checked == recording, \
            f"{path.name}: tag each cell that calls records.record (and only those) with nbval-check-output"
        prose = " ".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert "original project" not in prose, f"{path.name}: say what is done and why, not what a project we never showed did"
