"""A plain-text progress line for long cells and terminals.

A widget progress bar looks live in JupyterLab but is frozen in an executed copy (papermill,
nbval, a notebook opened later shows "0/1500"). Plain lines read the same everywhere: one
line at most every `every_s` seconds, and one at the end with the total and the time.

    >>> bar = Progress(2000, "producing")
    >>> bar.update(500)      # prints "producing: 500/2000 msg (25%)" if `every_s` has passed
    >>> bar.close()          # prints "producing: 2000/2000 msg in 0.4 s"
"""

from __future__ import annotations

import sys
import time


class Progress:
    """Counts work done and prints a short line now and then (to stdout, not stderr: a
    student should not see progress in red as if it were an error)."""

    def __init__(self, total: int | None, desc: str, unit: str = "msg", every_s: float = 2.0, out=None):
        self.total, self.desc, self.unit, self.every_s = total, desc, unit, every_s
        self.out = out or sys.stdout
        self.done = 0
        self.began = self.last_print = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last_print >= self.every_s:
            self.last_print = now
            share = f" ({self.done / self.total:.0%})" if self.total else ""
            print(f"{self.desc}: {self.done:,}{self._of()} {self.unit}{share}", file=self.out, flush=True)

    def close(self) -> None:
        seconds = time.monotonic() - self.began
        print(f"{self.desc}: {self.done:,}{self._of()} {self.unit} in {seconds:.1f} s", file=self.out, flush=True)

    def _of(self) -> str:
        return f"/{self.total:,}" if self.total else ""
