"""Where a benchmark's time goes: py-spy samples of running processes, summed by function.

    with Profiles({"processor": os.getpid(), "database server": server_pid}) as profiles:
        run_the_side()
    for name, rows in profiles.top(12).items(): ...   # (function, file, share of samples)

py-spy (in the dev extra) samples a process's Python stack from outside it, so the process
runs unchanged; it needs ptrace (root, or kernel.yama.ptrace_scope=0). A process that cannot
be sampled is reported as such, never fails the benchmark. Only samples where the process was
busy count (py-spy leaves idle threads out), so the shares say where the CPU went.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

#: Samples per second: enough for a run of tens of seconds, little cost to the sampled process.
RATE = 50


def py_spy() -> str | None:
    """The py-spy executable next to this Python, or on PATH; None when not installed."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def own_time(collapsed: str) -> Counter:
    """Samples per function where it was the innermost frame (its own time), from py-spy's
    raw output: one line per stack, `outer (file:line);...;inner (file:line) count`. The line
    numbers are dropped, so a function's samples add up wherever in it they fell (pure)."""
    counts: Counter = Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        inner = stack.split(";")[-1]
        name, _, where = inner.partition(" (")
        file = where.rsplit(":", 1)[0].rstrip(")")
        counts[(name.strip(), _short(file))] += int(count)
    return counts


def _short(file: str) -> str:
    """A path from its package down (`labkit/process/processor.py`, `pymongo/...`)."""
    parts = Path(file).parts
    for anchor in ("site-packages", "lib"):
        if anchor in parts:
            return "/".join(parts[len(parts) - parts[::-1].index(anchor):])
    return "/".join(parts[-3:])


class Profiles:
    """py-spy recording each of `pids` ({name: pid}) for the duration of a `with` block."""

    def __init__(self, pids: dict[str, int | None]):
        self.pids = {name: pid for name, pid in pids.items() if pid}
        self.problems: dict[str, str] = {name: "no process" for name, pid in pids.items() if not pid}
        self.samples: dict[str, Counter] = {}
        self._runs: dict[str, tuple[subprocess.Popen, Path]] = {}
        self._dir = Path(tempfile.mkdtemp(prefix="bench-profiles-"))

    def __enter__(self) -> Profiles:
        exe = py_spy()
        for name, pid in self.pids.items():
            if exe is None:
                self.problems[name] = "py-spy is not installed (pip install py-spy)"
                continue
            out = self._dir / f"{pid}.txt"
            # --nonblocking: never pause the sampled process; --native would add C frames but
            # needs debug symbols to say much.
            run = subprocess.Popen([exe, "record", "--pid", str(pid), "--rate", str(RATE), "--format", "raw",
                                    "--nonblocking", "--output", str(out)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            self._runs[name] = (run, out)
        return self

    def __exit__(self, *exc) -> None:
        for name, (run, out) in self._runs.items():
            if run.poll() is None:
                run.send_signal(signal.SIGINT)  # py-spy writes its output when interrupted
            try:
                _, err = run.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                run.kill()
                _, err = run.communicate()
            if out.exists() and out.stat().st_size:
                self.samples[name] = own_time(out.read_text())
            else:
                self.problems[name] = (err or "no samples").strip().splitlines()[-1][:200]
        shutil.rmtree(self._dir, ignore_errors=True)

    def top(self, n: int = 12) -> dict[str, list[tuple[str, str, str]]]:
        """{process: [(function, file, share of its busy samples), ...]}, the `n` largest."""
        return {name: [(func, file, f"{count / max(sum(counts.values()), 1):.0%}")
                       for (func, file), count in counts.most_common(n)]
                for name, counts in self.samples.items()}


def database_pid() -> int | None:
    """The pid of the local MongoDB-wire server the lab started (None under Docker)."""
    return service_pid("mongo")


def service_pid(name: str) -> int | None:
    """The pid of the local service `name` ("kafka", "mongo") the lab started (None under Docker)."""
    from labkit.config import Settings
    from labkit.ops.infra import local

    settings = Settings.from_env()
    service = next((s for s in local.services(settings) if s.name == name), None)
    return local.read_pid(service, settings.lab_home) if service else None
