"""The simulator in a process of its own, running ahead of the sends.

Simulating an event costs about as much Python as sending it (bench/results/producer.md), and
in one process the two take turns on one core: simulate + send runs at half of what the
client sends alone. Here a child process simulates, in chunks, while this one sends: the
same messages in the same order, byte for byte (the simulator is deterministic), at the rate
of the slower of the two instead of their sum.

    >>> for message in simulate_ahead(SimConfig(cars=100), count=100_000, start=start):
    ...     producer.send(...)

A bounded queue between the two keeps the child at most a few chunks ahead, so memory stays
small however long the run. The child stops when the run ends, when the caller stops reading
(the generator is closed), or on an error, which is raised here with the child's traceback.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import threading
import traceback
from collections.abc import Iterator
from datetime import datetime

from labkit.simulate.faults import Message
from labkit.simulate.simulator import SimConfig, Simulator

#: Messages per chunk sent between the processes, and how many chunks may wait.
CHUNK = 1000
DEPTH = 8


def simulate_ahead(config: SimConfig, count: int | None = None, duration_s: float | None = None,
                   start: datetime | None = None) -> Iterator[Message]:
    """`Simulator(config).messages(count, duration_s, start)`, simulated in a child process.

    `start` should be given (as-fast-as-possible runs give it): left out, each process would
    take its own "now". Raises RuntimeError if the child fails or dies."""
    # "spawn": a fresh interpreter. Forking a process that runs client threads (Kafka's I/O
    # thread, a notebook's kernel) can copy a lock in its held state into the child.
    context = multiprocessing.get_context("spawn")
    chunks = context.Queue(maxsize=DEPTH)
    child = context.Process(target=_simulate_into, args=(config, count, duration_s, start, chunks),
                            name="labkit-simulate-ahead", daemon=True)
    _start_ignoring_ctrl_c(child)
    try:
        while True:
            try:
                chunk = chunks.get(timeout=1.0)
            except queue.Empty:
                if child.is_alive():
                    continue
                try:  # it may have put its last chunks just before it ended
                    chunk = chunks.get(timeout=1.0)
                except queue.Empty:
                    raise RuntimeError(f"the simulator's process ended without finishing "
                                       f"(exit code {child.exitcode})") from None
            if chunk is None:
                return
            if isinstance(chunk, str):
                raise RuntimeError(f"the simulator's process failed:\n{chunk}")
            for fields in chunk:
                yield Message(*fields)
    finally:
        if child.is_alive():  # the caller stopped early: the child may be blocked on a full queue
            child.terminate()
        child.join(timeout=5)
        chunks.close()


def _start_ignoring_ctrl_c(child) -> None:
    """Start `child` with Ctrl+C ignored from its first instruction (a spawned process keeps
    an ignored signal): Ctrl+C reaches the whole process group, and the parent decides."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread sets handlers
        child.start()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        child.start()
    finally:
        signal.signal(signal.SIGINT, previous)


def _simulate_into(config: SimConfig, count: int | None, duration_s: float | None, start: datetime | None,
                   chunks) -> None:
    """The child: put chunks of message fields on `chunks`, then None; on an error, its traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as it started (started from a thread, it was not)
    try:
        chunk = []
        for m in Simulator(config).messages(count=count, duration_s=duration_s, start=start):
            chunk.append((m.key, m.value, m.car_id, m.event_id, m.seq, m.timestamp, m.labels))
            if len(chunk) >= CHUNK:
                _put(chunks, chunk)
                chunk = []
        if chunk:
            _put(chunks, chunk)
        _put(chunks, None)
    except ParentGone:
        chunks.cancel_join_thread()  # exit without waiting to write what nobody will read
    except Exception:  # noqa: BLE001 - reported to the parent, which raises it
        _put(chunks, traceback.format_exc())


class ParentGone(Exception):
    """The process reading the chunks has ended: nobody will read more."""


def _put(chunks, item) -> None:
    """Put `item` once there is room; a parent killed meanwhile never makes room (ParentGone)."""
    while True:
        try:
            chunks.put(item, timeout=1.0)
            return
        except queue.Full:
            parent = multiprocessing.parent_process()
            if parent is not None and not parent.is_alive():
                raise ParentGone from None
