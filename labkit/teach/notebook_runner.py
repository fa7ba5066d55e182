"""Run the lab's notebooks headless with papermill, in order, and report per notebook.

This is what `make lab` does. Executed notebooks go to `runs/<timestamp>/` (git-ignored),
so a failed cell can be opened and read with its traceback.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from labkit.config import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
RUNS_DIR = REPO_ROOT / "runs"
KERNEL_NAME = "telemetry-lab"

#: A cell that runs longer than this is stuck (every bounded step is far shorter).
CELL_TIMEOUT_S = 300


@dataclass(frozen=True)
class NotebookResult:
    notebook: str
    status: str  # "ok" or "FAILED"
    seconds: float
    output: str
    error: str = ""


def lab_notebooks(directory: Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered notebooks (`NN_name.ipynb`) in order."""
    return sorted(p for p in directory.glob("[0-9][0-9]_*.ipynb"))


def _local_kernel_manager():
    from jupyter_client.manager import AsyncKernelManager

    class IpcKernelManager(AsyncKernelManager):
        """The kernel on this machine talks over local sockets (IPC) instead of TCP: nothing
        to encrypt, and the kernel does not warn about plain-text TCP on every run.

        Each kernel's sockets get a name of their own: by default they are `kernel-ipc-1`, ...
        in the working directory, picked by "the first name not taken", so two runs that start
        a kernel at the same moment (two students' `make lab` on one machine) could share them,
        and one kernel would then never answer."""

        def __init__(self, **kwargs):
            kwargs.setdefault("ip", os.path.join(tempfile.gettempdir(), f"labkit-kernel-{uuid.uuid4().hex[:12]}"))
            super().__init__(transport="ipc", **kwargs)

    return IpcKernelManager


def run_notebook(path: Path, out_dir: Path, parameters: dict | None = None,
                 cell_timeout: int = CELL_TIMEOUT_S) -> NotebookResult:
    """Execute one notebook with its own default parameters (or `parameters`). Never raises
    for a failing cell: the failure is in the result and in the executed notebook."""
    import papermill

    from labkit.teach.exercises import HEADLESS

    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / path.name
    started = time.monotonic()
    before = os.environ.get(HEADLESS)
    os.environ[HEADLESS] = "1"  # the kernel inherits it: predictions' answers are shown unanswered
    try:
        papermill.execute_notebook(
            str(path), str(output),
            parameters=parameters or {},
            kernel_name=KERNEL_NAME,
            cwd=str(path.parent),  # same working directory as in JupyterLab
            execution_timeout=cell_timeout,
            progress_bar=False,
            log_output=False,
            kernel_manager_class=_local_kernel_manager(),
        )
        return NotebookResult(path.name, "ok", time.monotonic() - started, str(output))
    except Exception as exc:  # PapermillExecutionError, timeouts, kernel death
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:300]
        return NotebookResult(path.name, "FAILED", time.monotonic() - started, str(output), first_line)
    finally:
        if before is None:
            os.environ.pop(HEADLESS, None)
        else:
            os.environ[HEADLESS] = before


def run_all(notebooks: list[Path] | None = None, runs_dir: Path = RUNS_DIR, log=print,
            student: str = "") -> list[NotebookResult]:
    """Run `notebooks` (default: all, in order) into runs/<time> (runs/<time>-<student> in a
    student's corner); print a line as each one finishes."""
    notebooks = lab_notebooks() if notebooks is None else notebooks
    out_dir = runs_dir / (datetime.now().strftime("%Y%m%d-%H%M%S") + (f"-{student}" if student else ""))
    results = []
    for path in notebooks:
        log(f"▶ {path.name} ...", flush=True)
        result = run_notebook(path, out_dir)
        log(f"  {result.status} in {result.seconds:.1f} s" + (f": {result.error}" if result.error else ""))
        results.append(result)
    (out_dir / "summary.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    return results


def format_table(results: list[NotebookResult]) -> str:
    width = max([len("notebook"), *(len(r.notebook) for r in results)])
    lines = [f"{'notebook':<{width}}  status  seconds", f"{'-' * width}  ------  -------"]
    lines += [f"{r.notebook:<{width}}  {r.status:<6}  {r.seconds:7.1f}" for r in results]
    lines.append(f"{'total':<{width}}  {'':<6}  {sum(r.seconds for r in results):7.1f}")
    return "\n".join(lines)
