"""Several processors in one consumer group: start, stop and kill them one by one, and see
which one had which partitions when.

    with Workers(settings, group="lab09.processor") as workers:
        workers.start("w1"); workers.start("w2")       # each: python -m labkit process --worker w1 ...
        workers.wait_until(lambda owners: len(owners) == 2)   # both have partitions
        workers.kill("w1")                              # SIGKILL: no goodbye to the group
        workers.wait_until(lambda owners: set(owners) == {"w2"}, timeout_s=30)
    rows = timeline(db, settings, group)               # every assigned / revoked, oldest first

    run = kill_one(settings, group, backlog)           # the same, with a backlog, timed and its lag sampled

Each worker is a separate process (as on separate machines: Python runs one thread of Python
at a time, so threads would not show parallel work). Kafka's group coordinator gives each
partition to exactly one member; when a member leaves (stop) it hands its partitions over at
once; when it dies (kill) the coordinator waits for its session timeout first. Every change
is logged by the processor in MongoDB (`consumer_assignments`), which `owners` and
`timeline` read. Pure: `owners_from`, `ownership`, `holds_all`. Never leaves a process
behind: `stop_all` (or leaving the `with` block) ends every worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from labkit.config import Settings
from labkit.ops.waiting import wait_until


class Workers:
    def __init__(self, settings: Settings, group: str, batch_size: int = 100, session_timeout_ms: int = 6000,
                 extra_args: tuple[str, ...] = (), transaction_timeout_ms: int = 60_000):
        self.settings = settings
        self.group = group
        self.args = ("--batch-size", str(batch_size), "--session-timeout-ms", str(session_timeout_ms),
                     "--transaction-timeout-ms", str(transaction_timeout_ms), *extra_args)
        self.processes: dict[str, subprocess.Popen] = {}
        self.started_at = datetime.now().astimezone()

    def start(self, name: str) -> None:
        """Start worker `name` (a new process joins the group: the group rebalances)."""
        if name in self.processes and self.processes[name].poll() is None:
            raise ValueError(f"worker {name!r} is already running")
        env = {**os.environ, **self.settings.as_env()}
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "labkit", "process", "--group", self.group, "--worker", name, "--metrics-port", "0", *self.args],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self, name: str, timeout_s: float = 30.0) -> None:
        """Ask worker `name` to finish its batch, commit and leave the group (SIGTERM)."""
        stop_gracefully(self.processes.pop(name), timeout_s)

    def kill(self, name: str) -> None:
        """Kill worker `name` at once (SIGKILL), as a crash would: no commit, no goodbye."""
        process = self.processes.pop(name)
        process.kill()
        process.wait()

    def running(self) -> list[str]:
        return sorted(name for name, p in self.processes.items() if p.poll() is None)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def owners(self, db) -> dict[str, list[int]]:
        """Running worker -> the partitions it holds now, by the assignment log (a killed
        worker never logs its partitions away, so only the running ones count)."""
        alive = set(self.running())
        return {w: parts for w, parts in owners_from(timeline(db, self.settings, self.group)).items() if w in alive}

    def wait_until(self, db, condition: Callable[[dict[str, list[int]]], bool], timeout_s: float = 60.0,
                   poll_s: float = 0.5) -> dict[str, list[int]]:
        """Poll `owners` until `condition(owners)` holds; returns them. Raises TimeoutError
        (with the owners last seen) after `timeout_s`."""
        seen: list[dict] = [{}]

        def met() -> tuple | None:  # a tuple, so that "nobody holds anything" counts as an answer
            seen[0] = self.owners(db)
            return (seen[0],) if condition(seen[0]) else None

        try:
            return wait_until(met, timeout_s, poll_s)[0]
        except TimeoutError:
            raise TimeoutError(f"after {timeout_s:.0f} s the partitions are held so: {seen[0]}") from None

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes.values() if p.poll() is None]

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()


@dataclass(frozen=True)
class Drain:
    """How `count` workers in one group drained a backlog."""

    workers: int
    seconds: float  # from the backlog's first send, every worker holding partitions, until lag 0
    owners: dict[str, list[int]]  # who held which partitions once every worker had joined
    rebalances: int  # revocations of partitions while it drained: a rebalance takes them from every holder
    # CPU seconds each side used while it drained: "all workers", "database server",
    # "broker". A server missing from it is not a local process this machine can measure
    # (the Docker stack, a class's shared stack).
    cpu_s: dict[str, float] = field(default_factory=dict)

    def busy(self) -> dict[str, float]:
        """Each side's CPU seconds over the drain's seconds: 1.0 is one core busy all the time."""
        return {side: round(used / self.seconds, 2) for side, used in self.cpu_s.items()}


def drain(settings: Settings, group: str, count: int, backlog: list, batch_size: int = 500,
          timeout_s: float = 120.0, poll_s: float = 0.2) -> Drain:
    """Start `count` workers in a new group on `settings`' telemetry topic (new and empty), wait
    until all of them hold partitions (or every partition is held, when there are more
    workers than partitions), then send `backlog` (simulator messages) and wait until the
    group's lag at the broker is 0; stop them. The clock runs from the first send to lag 0:
    joining the group is not counted, so the rows compare processing, not start-up. Raises
    TimeoutError after `timeout_s`."""
    from labkit.ops import clients, kafka_io
    from labkit.simulate.producer import produce

    topic = settings.topics.telemetry
    partitions = len(kafka_io.end_offsets(settings, topic))
    mongo = clients.mongo_client(settings)
    db = mongo[settings.mongodb_db]
    try:
        with Workers(settings, group, batch_size=batch_size) as workers:
            for i in range(1, count + 1):
                workers.start(f"w{i}")
            owners = workers.wait_until(db, lambda o: len(o) == min(count, partitions), timeout_s=timeout_s)
            sides = {"all workers": workers.pids(), **_local_servers(settings)}
            cpu_before = {side: _cpu_seconds(pids) for side, pids in sides.items()}
            began = time.time()
            produce(settings, backlog)
            wait_until(lambda: sum(kafka_io.consumer_lag(settings, group, topic).values()) == 0,
                       timeout_s, poll_s, what=f"{count} workers to drain the backlog")
            drained = time.time()
            cpu_s = {side: round(_cpu_seconds(pids) - cpu_before[side], 2) for side, pids in sides.items()}
        # A revocation with partitions while it drained: one worker giving up partitions in a
        # rebalance. (kafka-python also logs an empty one at a worker's first join.)
        rebalances = sum(1 for e in timeline(db, settings, group)
                         if e["event"] == "revoked" and e["partitions"] and began <= e["at"].timestamp() <= drained)
    finally:
        mongo.close()
    return Drain(count, drained - began, owners, rebalances, cpu_s)


def _local_servers(settings: Settings) -> dict[str, list[int]]:
    """The lab's local database server and broker, when they run on this machine."""
    from labkit.ops.infra import local

    found = {}
    for service in local.services(settings):
        pid = local.read_pid(service, settings.lab_home)
        if pid is not None:
            found["database server" if service.name == "mongo" else "broker"] = [pid]
    return found


def _cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds the processes `pids` (and their children) have used so far."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            for one in (process, *process.children(recursive=True)):
                times = one.cpu_times()
                total += times.user + times.system
        except psutil.Error:  # it ended meanwhile: its time is no longer counted
            pass
    return total


@dataclass(frozen=True)
class Takeover:
    """What `kill_one` saw. Every time is in seconds since the backlog was sent (0 s)."""

    before: dict[str, list[int]]  # who held which partitions before the kill: w1 and w2
    killed_s: float  # when w1 was killed
    takeover_s: float  # when w2 alone held every partition
    after: dict[str, list[int]]  # who held which partitions then: w2 all of them
    lag_samples: list[dict]  # {"seconds", "partition" (a string), "lag"} at the broker, from 0 s until lag 0
    t0_wall: datetime  # 0 s on the wall clock (UTC), to put the assignment log on the same time axis


def kill_one(settings: Settings, group: str, backlog: list, *, batch_size: int = 50, session_timeout_ms: int = 6000,
             transaction_timeout_ms: int = 10_000, kill_after_s: float = 1.0, timeout_s: float = 120.0) -> Takeover:
    """Two workers, w1 and w2, join `group` on `settings`' telemetry topic. Once both hold
    partitions, `backlog` (simulator messages) is sent to the topic; the clock starts when the
    broker has confirmed every message (0 s). w1 is killed (SIGKILL: no commit, no goodbye) as
    soon as its partitions' lag has begun to fall with some still left, `kill_after_s` after 0 s
    at the latest. Then the owners are read, once per check, until w2 alone holds all
    `settings.telemetry_partitions` (`holds_all`), and the group's lag at the broker until it is 0.
    The lag is sampled at the broker from 0 s until it is 0, as often as it can be read.

    Raises TimeoutError when the two workers do not both hold partitions within `timeout_s`,
    when w2 does not hold everything `timeout_s` after the kill, or when the lag is not 0
    `timeout_s` after that. Stops its workers whatever happens (w2 leaves the group; w1 is
    dead already). The workers store the backlog in `settings`' database like any processor:
    checking what was stored is the caller's part.

    If w1 dies inside a transaction that carries its offsets (the short step after its MongoDB
    writes), the group's committed offsets of those partitions cannot be read (so w2 cannot start
    on them) until the broker aborts it, `transaction_timeout_ms` after it began (10 s here, the
    processor's default is 60 s)."""
    from labkit.ops import clients, kafka_io
    from labkit.simulate.producer import produce

    topic, partitions = settings.topics.telemetry, settings.telemetry_partitions
    samples: list[dict] = []

    def sample_lag(t0: float) -> dict[int, int]:
        """Append the lag of every partition now to `samples`; returns it, by partition."""
        lag = kafka_io.consumer_lag(settings, group, topic)
        for partition, behind in lag.items():
            samples.append({"seconds": round(time.monotonic() - t0, 2), "partition": str(partition), "lag": behind})
        return lag

    mongo = clients.mongo_client(settings)
    db = mongo[settings.mongodb_db]
    try:
        with Workers(settings, group, batch_size=batch_size, session_timeout_ms=session_timeout_ms,
                     transaction_timeout_ms=transaction_timeout_ms) as crew:
            crew.start("w1")
            crew.start("w2")
            before = crew.wait_until(db, lambda owners: len(owners) == 2, timeout_s=timeout_s)
            produce(settings, backlog)
            t0 = time.monotonic()
            t0_wall = datetime.now(timezone.utc)
            # Kill w1 while it is at work: once its partitions' lag has begun to fall (its first
            # batch is committed), and still above 0, so that some of its backlog must wait for w2.
            # A fixed delay let w1 finish first on a fast machine, and the takeover showed nothing.
            w1_partitions, first_lag = set(before.get("w1", [])), None
            while time.monotonic() - t0 < kill_after_s:
                w1_lag = sum(behind for partition, behind in sample_lag(t0).items() if partition in w1_partitions)
                first_lag = w1_lag if first_lag is None else first_lag
                if 0 < w1_lag < first_lag:
                    break
            crew.kill("w1")
            killed_s = time.monotonic() - t0
            # One read of the owners per check: between two reads, w2 may give its partitions back
            # for the rebalance and vanish from them for a moment.
            while not holds_all(owners := crew.owners(db), "w2", partitions):
                sample_lag(t0)
                if time.monotonic() - t0 - killed_s > timeout_s:  # a few seconds here; a loaded machine takes longer
                    raise TimeoutError(f"w2 did not take over w1's partitions within {timeout_s:g} s of the kill; "
                                       f"the partitions are held so: {owners}")
            takeover_s = time.monotonic() - t0
            drained_by = time.monotonic() + timeout_s
            while sum(sample_lag(t0).values()) > 0:
                if time.monotonic() > drained_by:
                    raise TimeoutError(f"w2 had not drained the backlog {timeout_s:g} s after it took over: "
                                       f"lag {samples[-partitions:]}")
    finally:
        mongo.close()
    return Takeover(before, killed_s, takeover_s, owners, samples, t0_wall)


def holds_all(owners: dict[str, list[int]], worker: str, partitions: int) -> bool:
    """True when `worker` is the only one holding partitions and holds all `partitions` of
    them (pure). `owners` is one read of `Workers.owners`: in a rebalance a worker gives its
    partitions back and is missing from it for a moment."""
    return owners.keys() == {worker} and len(owners[worker]) >= partitions


def timeline(db, settings: Settings, group: str) -> list[dict]:
    """Every assignment change of `group`, oldest first: `{worker, event, partitions, at}`."""
    return list(db[settings.collections.assignments].find({"group": group}, {"_id": 0}).sort("at", 1))


def owners_from(events: list[dict]) -> dict[str, list[int]]:
    """Replay assignment events (oldest first) into worker -> partitions held at the end (pure).
    A worker's `assigned` replaces what it held; `revoked` takes those partitions away."""
    held: dict[str, set[int]] = {}
    for e in events:
        mine = held.setdefault(e["worker"], set())
        if e["event"] == "assigned":
            mine.clear()
            mine.update(e["partitions"])
        else:
            mine.difference_update(e["partitions"])
    return {worker: sorted(parts) for worker, parts in sorted(held.items()) if parts}


def ownership(events: list[dict], until: datetime) -> list[dict]:
    """Intervals `{worker, partition, start, end}`: who held which partition from when to when
    (pure; `until` closes the intervals still open). A killed worker's interval ends when the
    group gave its partitions to another (it never says goodbye itself)."""
    open_: dict[int, tuple[str, datetime]] = {}
    intervals = []

    def close(partition: int, at: datetime) -> None:
        worker, start = open_.pop(partition)
        intervals.append({"worker": worker, "partition": partition, "start": start, "end": at})

    for e in events:
        for partition in e["partitions"]:
            if e["event"] == "revoked":
                if partition in open_ and open_[partition][0] == e["worker"]:
                    close(partition, e["at"])
            else:
                if partition in open_:  # its holder died without a revoke
                    close(partition, e["at"])
                open_[partition] = (e["worker"], e["at"])
    for partition in list(open_):
        close(partition, until)
    return sorted(intervals, key=lambda i: (i["partition"], i["start"]))


def stop_gracefully(process: subprocess.Popen, timeout_s: float = 30.0) -> None:
    """Stop a processor process that may still run: SIGTERM first (it finishes its batch,
    commits and leaves the group), SIGKILL if it has not exited within `timeout_s`."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class WaitingDrain:
    """How `workers` threads drained a topic when each batch also waited for another service."""

    workers: int
    seconds: float  # from the common start until the last worker reached the end
    messages: int  # read by all of them together (each message once)
    partitions: dict[str, list[int]]  # worker -> the partitions it read


def range_split(partitions: int, count: int) -> list[list[int]]:
    """Partitions 0..partitions-1 split into `count` runs of consecutive partitions, the first
    runs one longer when they do not divide evenly (what Kafka's range assignor gives a group
    of `count` members on one topic). Pure. range_split(4, 3) == [[0, 1], [2], [3]]"""
    size, extra = divmod(partitions, count)
    runs, first = [], 0
    for i in range(count):
        take = size + (1 if i < extra else 0)
        runs.append(list(range(first, first + take)))
        first += take
    return runs


def drain_waiting(settings: Settings, topic: str, count: int, wait_ms: float, batch: int = 50,
                  timeout_s: float = 120.0) -> WaitingDrain:
    """`count` workers (threads, each with its own consumer) read `topic` from the beginning to
    its end, each the partitions a group of `count` would give it (`range_split`), in polls of
    at most `batch` messages; after each poll a worker waits `wait_ms` for a full poll and in
    proportion for a smaller one, standing for a lookup per message in another service (a car
    registry, a database across a network): the waits add up to the same total however the
    polls fall, so a worker's share of the messages is its share of the waiting. The
    clock starts when every consumer is ready. Commits nothing, stores nothing. Raises
    TimeoutError when a worker has not reached its end after `timeout_s`.

    Threads suffice here: a waiting thread releases Python's lock, so the waits overlap even
    on one core. The CPU work between the waits does not."""
    import threading

    from kafka import TopicPartition

    from labkit.ops import clients, kafka_io

    partitions = len(kafka_io.end_offsets(settings, topic))
    shares = range_split(partitions, count)
    consumers = []
    try:
        for share in shares:
            consumer = clients.kafka_consumer(settings)
            tps = [TopicPartition(topic, p) for p in share]
            if tps:  # a spare (more workers than partitions) reads nothing
                consumer.assign(tps)
                consumer.seek_to_beginning(*tps)
            consumers.append((consumer, tps, consumer.end_offsets(tps) if tps else {}))
        start = threading.Barrier(count + 1)
        read = [0] * count
        failures: list[BaseException] = []

        def work(i: int) -> None:
            consumer, tps, ends = consumers[i]
            start.wait()
            deadline = time.monotonic() + timeout_s
            try:
                while any(consumer.position(tp) < ends[tp] for tp in tps):
                    polled = consumer.poll(timeout_ms=1000, max_records=batch)
                    got = sum(len(records) for records in polled.values())
                    if got:
                        read[i] += got
                        time.sleep(wait_ms / 1000 * got / batch)
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"worker w{i + 1} had not read {tps} to the end after {timeout_s:.0f} s")
            except BaseException as error:  # noqa: BLE001  (reported by the caller's thread)
                failures.append(error)

        threads = [threading.Thread(target=work, args=(i,), name=f"w{i + 1}") for i in range(count)]
        for thread in threads:
            thread.start()
        start.wait()
        began = time.monotonic()
        for thread in threads:
            thread.join()
        seconds = time.monotonic() - began
        if failures:
            raise failures[0]
    finally:
        for consumer, _, _ in consumers:
            consumer.close()
    return WaitingDrain(count, seconds, sum(read), {f"w{i + 1}": share for i, share in enumerate(shares)})

