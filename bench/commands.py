"""Where a benchmark's database time goes: every MongoDB command timed, summed by command and
collection; and the CPU each process spent meanwhile.

    commands = Commands()            # before any MongoClient is made: pymongo tells its listeners
    with commands.timing({"processor": os.getpid(), "database server": server_pid}):
        run_the_side()
    commands.top(12)                 # (command, collection, calls, seconds, share of the wall time)
    commands.cpu                     # {name: CPU seconds of that process during the side}

The times are the client's (a command's round trip, its wait behind other commands included).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import contextmanager

import psutil
from pymongo import monitoring


class Commands(monitoring.CommandListener):
    """Make it before any MongoClient: pymongo tells the listeners registered when a client is
    made, for the whole process. Called from the clients' threads, hence the lock."""

    def __init__(self):
        self.seconds: Counter = Counter()
        self.calls: Counter = Counter()
        self.wall = 0.0
        self.cpu: dict[str, float] = {}
        self._started: dict[tuple, tuple[str, str]] = {}
        self._on = False
        self._lock = threading.Lock()
        monitoring.register(self)

    @contextmanager
    def timing(self, pids: dict[str, int]):
        """Count the commands sent meanwhile, and the CPU of the processes `pids` names."""
        processes = {name: psutil.Process(pid) for name, pid in pids.items() if pid}
        before = {name: _cpu(p) for name, p in processes.items()}
        self.seconds.clear()
        self.calls.clear()
        began, self._on = time.perf_counter(), True
        try:
            yield self
        finally:
            self._on = False
            self.wall = time.perf_counter() - began
            self.cpu = {name: _cpu(p) - before[name] for name, p in processes.items()}

    def top(self, n: int) -> list[tuple[str, str, str, str, str]]:
        return [(command, collection or "-", f"{self.calls[(command, collection)]:,}", f"{seconds:.2f}",
                 f"{seconds / self.wall:.0%}" if self.wall else "-")
                for (command, collection), seconds in self.seconds.most_common(n)]

    # pymongo's listener interface (called from the client's threads)
    def started(self, event):
        if self._on:
            # A getMore names its cursor first and its collection under "collection".
            target = event.command.get("collection" if event.command_name == "getMore" else event.command_name)
            with self._lock:
                self._started[(event.connection_id, event.request_id)] = (
                    event.command_name, target if isinstance(target, str) else "")

    def succeeded(self, event):
        with self._lock:
            key = self._started.pop((event.connection_id, event.request_id), None)
            if key is not None:
                self.seconds[key] += event.duration_micros / 1e6
                self.calls[key] += 1

    def failed(self, event):
        self.succeeded(event)  # a failed command took its time too


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system
