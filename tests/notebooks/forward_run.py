"""The forward run of tests/notebooks/test_notebooks.py: every notebook once, in a shuffled
order, each executed copy kept under runs/tests/forward.

A test session that will need it starts it in a process of its own as soon as the tests are
collected (`start`), so that its few minutes, mostly spent waiting on the services, overlap
the unit and integration tiers; the `forward` fixture then waits for it (`wait`). The
notebooks work in sandboxes of their own (labkit.ops.sandbox), and the integration tests in
topics and databases named `labkit.test.<tag>`, so neither sees the other's data. The browser
tier, which runs notebooks 00 and 01 in JupyterLab and so in the same sandboxes, comes after
the notebook tier. As a program (what `start` runs):

    python -m tests.notebooks.forward_run SEED RESULTS.json
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from labkit.config import REPO_ROOT
from labkit.teach import notebook_runner

OUT_DIR = notebook_runner.RUNS_DIR / "tests" / "forward"


def choose_seed() -> int:
    """NOTEBOOK_ORDER_SEED when set (to repeat an order), else a random one (printed)."""
    return int(os.environ.get("NOTEBOOK_ORDER_SEED") or random.randrange(10_000))


def shuffled(notebooks: list, seed: int) -> list:
    order = list(notebooks)
    random.Random(seed).shuffle(order)
    return order


def run(seed: int) -> dict:
    """Run every notebook in the order `seed` gives. {"results": {name: NotebookResult},
    "window": (earliest, latest)}: the window is the time its charts' axes must fall inside."""
    began = datetime.now(timezone.utc)
    order = shuffled(notebook_runner.lab_notebooks(), seed)
    results = {path.name: notebook_runner.run_notebook(path, OUT_DIR) for path in order}
    return {"results": results, "window": (began - timedelta(minutes=45), datetime.now(timezone.utc) + timedelta(minutes=2))}


def _to_json(run_: dict) -> dict:
    return {"results": {name: asdict(r) for name, r in run_["results"].items()},
            "window": [moment.isoformat() for moment in run_["window"]]}


def _from_json(data: dict) -> dict:
    return {"results": {name: notebook_runner.NotebookResult(**r) for name, r in data["results"].items()},
            "window": tuple(datetime.fromisoformat(moment) for moment in data["window"])}


class Early:
    """The forward run started in its own process (and process group: its kernels go with it)."""

    def __init__(self, seed: int, results: Path):
        self.seed, self.results = seed, results
        results.parent.mkdir(parents=True, exist_ok=True)
        self.log = results.with_suffix(".log")
        with self.log.open("w") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "tests.notebooks.forward_run", str(seed), str(results)],
                                            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout_s: float) -> dict:
        """The run's results once it has ended; RuntimeError (with its log) if it failed."""
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.stop()
            raise RuntimeError(f"the forward run had not ended after {timeout_s:g} s (log: {self.log})") from None
        if code != 0 or not self.results.exists():
            raise RuntimeError(f"the forward run exited with {code}:\n{self.log.read_text()[-3000:]}")
        return _from_json(json.loads(self.results.read_text()))

    def stop(self) -> None:
        """End the run if it still runs (a session that ends early): Ctrl+C first, so that
        papermill shuts its kernel down, then a kill."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


#: The run this test session started early, if it did (`start`).
EARLY: Early | None = None


def start(settings) -> Early | None:
    """Start the forward run now, in the background, when Kafka and MongoDB answer (else the
    fixture runs it in the session itself, and fails there with the fix). Not when
    FORWARD_EARLY=0."""
    global EARLY
    from labkit.ops import preflight

    if os.environ.get("FORWARD_EARLY", "1") == "0":
        return None
    if not all(status.ok for status in preflight.check(settings, ("kafka", "mongodb")).statuses):
        return None
    EARLY = Early(choose_seed(), OUT_DIR / "results.json")
    return EARLY


def main(argv: list[str]) -> int:
    seed, results = int(argv[0]), Path(argv[1])
    results.write_text(json.dumps(_to_json(run(seed)), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
