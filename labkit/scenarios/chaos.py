"""A chaos run anyone can repeat: a faulty stream, a processor, the broker and the database
killed while it runs, a draining run, then everything counted.

    python -m labkit chaos --events 60000 --processor-kills 6 --broker-kills 1 --mongo-kills 1

It works in its own sandbox (`labchaos.*` topics, `labchaos_telemetry` database) against the
running local services (`make infra-up`); the lab's own data is not touched. The processor
runs as a child process, as `make process` runs it, with its log in the lab's log folder.
Kills are spread over the run by progress (documents stored), not by the clock, so they land
mid-stream on any machine. The verdict is exact: every distinct valid event stored once,
every invalid message in the DLQ once, no record twice in any output topic, and the
processor never exited on its own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from labkit.config import Settings
from labkit.ops import clients, kafka_io, sandbox
from labkit.ops.waiting import wait_until
from labkit.process import dlq
from labkit.scenarios.workers import stop_gracefully
from labkit.simulate.faults import FaultRates
from labkit.simulate.producer import produce
from labkit.simulate.simulator import SimConfig, Simulator, backfill_start


@dataclass(frozen=True)
class ChaosPlan:
    events: int = 60_000
    cars: int = 20
    invalid_rate: float = 0.02
    duplicate_rate: float = 0.01
    late_rate: float = 0.01
    processor_kills: int = 6
    broker_kills: int = 1
    mongo_kills: int = 1
    outage_s: float = 5.0
    seed: int = 21

    @property
    def batch_size(self) -> int:
        """The processor's batch size for this run: small enough that several batches fall
        between two kills. With the default 2,000 a small run would be stored in two or three
        batches, each kill's progress target reached before the restarted processor had even
        connected, and the next kill would land on its start-up."""
        kills = self.processor_kills + self.broker_kills + self.mongo_kills
        return max(50, min(2000, self.events // ((kills + 1) * 4)))


@dataclass
class ChaosReport:
    rows: dict = field(default_factory=dict)  # what was counted -> number
    problems: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)  # what was done, in order

    @property
    def ok(self) -> bool:
        return not self.problems

    def table(self) -> str:
        width = max(len(k) for k in self.rows)
        lines = [f"{k:<{width}}  {v:>9,}" for k, v in self.rows.items()]
        verdict = "PASS: nothing lost, nothing twice" if self.ok else "FAIL: " + "; ".join(self.problems)
        return "\n".join(lines + ["", verdict])


def kill_schedule(plan: ChaosPlan) -> list[str]:
    """The kinds of kill in the order they happen: outages spread between processor kills."""
    kinds = ["processor"] * plan.processor_kills
    outages = ["broker"] * plan.broker_kills + ["mongo"] * plan.mongo_kills
    for j, kind in enumerate(outages):
        kinds.insert(round((j + 1) * plan.processor_kills / (len(outages) + 1)) + j, kind)
    return kinds


def run(settings: Settings, plan: ChaosPlan = ChaosPlan(), log=print) -> ChaosReport:
    """Run the scenario against the running local services and count everything."""
    from labkit.ops import infra
    from labkit.ops.infra import local

    if infra.mode(settings) != "local":
        raise RuntimeError("the chaos run kills local service processes: run it with LAB_INFRA=local")
    box = sandbox.open(settings, "chaos")
    report = ChaosReport()
    rates = FaultRates(episode=0.004, invalid=plan.invalid_rate, duplicate=plan.duplicate_rate, late=plan.late_rate)
    config = SimConfig(cars=plan.cars, seed=plan.seed, faults=rates)
    messages = list(Simulator(config).messages(count=plan.events, start=backfill_start(config, count=plan.events)))
    delivery = produce(box.settings, messages, progress=True, total=len(messages))
    valid_ids = {m.event_id for m in messages if m.is_valid}
    invalid = sum(not m.is_valid for m in messages)
    # Where each invalid message landed: the DLQ must name exactly these sources.
    invalid_sources = {(box.settings.topics.telemetry, *where) for m, where in zip(messages, delivery.delivered)
                       if not m.is_valid and where}
    log(f"produced {delivery.sent:,} messages: {len(valid_ids):,} distinct valid events, {invalid:,} invalid")

    services = {s.name: s for s in local.services(settings)}
    schedule = kill_schedule(plan)
    log_path = settings.lab_home / "logs" / "chaos-processor.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    exits = 0
    with open(log_path, "ab") as processor_log, Processors(box.settings, box.group("processor"), processor_log) as processors:
        def start():
            return processors.start("--batch-size", str(plan.batch_size))

        process = start()
        for i, kind in enumerate(schedule, start=1):
            target = len(valid_ids) * i // (len(schedule) + 1)
            _wait_for_progress(box.settings, target, process)
            if process.poll() is not None:
                exits += 1
                report.events.append(f"processor had exited (code {process.returncode}); restarted")
                process = start()
            if kind == "processor":
                process.send_signal(signal.SIGKILL)
                process.wait()
                process = start()
            else:
                with _down(services["kafka" if kind == "broker" else "mongo"], kind, settings):
                    time.sleep(plan.outage_s)
                if process.poll() is not None:  # it must wait the outage out, not exit
                    exits += 1
                    report.events.append(f"processor exited during the {kind} outage (code {process.returncode}); restarted")
                    process = start()
            report.events.append(f"killed the {kind} at ~{target:,} stored")
            log(f"  {report.events[-1]}")
        _wait_for_progress(box.settings, len(valid_ids), process, timeout_s=300)
        if process.poll() is not None:
            exits += 1
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        drain = processors.start("--idle-timeout", "5")
        if drain.wait(timeout=600) != 0:
            report.events.append(f"the draining run failed (exit {drain.returncode})")
            exits += 1
    log(f"processor log: {log_path}")
    _count(box.settings, report, valid_ids, invalid_sources, delivery.sent, exits)
    return report


class Processors:
    """The run's processor children, as `make process` runs them. Used as a `with` block, it
    stops every one still running when the block ends, however it ends (a failed step,
    Ctrl+C): a processor left behind would stay in the consumer group and keep consuming."""

    def __init__(self, settings: Settings, group: str, log_file):
        self.settings, self.group, self.log_file = settings, group, log_file
        self.started: list[subprocess.Popen] = []

    def start(self, *extra: str) -> subprocess.Popen:
        """Start one processor in the group (with `extra` arguments), writing to the log file."""
        command = [sys.executable, "-m", "labkit", "process", "--group", self.group, "--metrics-port", "0", *extra]
        process = subprocess.Popen(command, env={**os.environ, **self.settings.as_env()},
                                   stdout=self.log_file, stderr=subprocess.STDOUT)
        self.started.append(process)
        return process

    def __enter__(self) -> Processors:
        return self

    def __exit__(self, *exc) -> None:
        for process in self.started:
            stop_gracefully(process)


@contextmanager
def _down(service, kind: str, settings: Settings):
    """`service` killed for the `with` block, then started again and waited for, however the
    block ends: a chaos run never leaves the lab's broker or database down."""
    from labkit.ops.infra import local

    local.kill(service, settings.lab_home)
    try:
        yield
    finally:
        local.start(service, settings, settings.lab_home)
        local.wait_ready(service, settings.lab_home, _ready(kind, settings))


def _ready(kind: str, settings: Settings):
    from labkit.ops.infra.readiness import kafka_ready, mongodb_ready

    return (lambda: kafka_ready(settings)) if kind == "broker" else (lambda: mongodb_ready(settings))


def _wait_for_progress(settings: Settings, target: int, process, timeout_s: float = 180) -> None:
    """Until `target` events are stored or the processor exits; after `timeout_s` the run
    goes on regardless (the count at the end tells what was missed). One client for the
    whole wait: it reconnects by itself across a database outage."""
    client = clients.mongo_client(settings, serverSelectionTimeoutMS=1000)
    collection = client[settings.mongodb_db][settings.collections.telemetry]

    def progressed() -> bool:
        if process.poll() is not None:
            return True
        try:
            return collection.estimated_document_count() >= target
        except Exception:
            return False  # the database is down right now: progress unknown, keep waiting

    try:
        wait_until(progressed, timeout_s, what=f"{target} stored events")
    except TimeoutError:
        pass
    finally:
        client.close()


def _count(settings: Settings, report: ChaosReport, valid_ids: set[str], invalid_sources: set[tuple],
           produced: int, exits: int) -> None:
    client = clients.mongo_client(settings, serverSelectionTimeoutMS=5000)
    try:
        db = client[settings.mongodb_db]
        stored_ids = [d["_id"] for d in db[settings.collections.telemetry].find({}, {"_id": 1})]
        # Readings too late for their event-time window are stored like the others and recorded
        # apart. A replayed backlog should have none: the simulator's late events come well
        # within the allowed lateness, and a partition whose backlog waits holds the watermark.
        too_late = {d["_id"] for d in db[settings.collections.too_late].find({}, {"_id": 1})}
        anomalies_db = db[settings.collections.anomalies].count_documents({})
    finally:
        client.close()

    def everything(topic: str) -> list:
        return kafka_io.read_topic(settings, topic, max_messages=10_000_000, timeout_s=120)

    dead = [dlq.parse(r.value) for r in everything(settings.topics.dlq)]
    sources = {(d["source"]["topic"], d["source"]["partition"], d["source"]["offset"]) for d in dead}
    anomalies = [json.loads(r.value) for r in everything(settings.topics.anomaly)]
    anomaly_keys = {(a["event_id"], a["type"]) for a in anomalies}
    metrics = [json.loads(r.value) for r in everything(settings.topics.metrics)]
    metric_ids = {m["_id"] for m in metrics}
    missing = len(valid_ids - set(stored_ids))
    report.rows = {
        "produced": produced, "distinct valid events": len(valid_ids), "invalid messages": len(invalid_sources),
        "stored in MongoDB": len(stored_ids), "recorded too late for their window": len(too_late),
        "missing from MongoDB": missing,
        "DLQ records": len(dead), "distinct DLQ sources": len(sources),
        "anomaly records": len(anomalies), "distinct anomalies (event, type)": len(anomaly_keys),
        "anomalies in MongoDB": anomalies_db,
        "metrics records": len(metrics), "distinct metrics windows": len(metric_ids),
        "processor exits on its own": exits,
    }
    checks = {
        "events missing from MongoDB": missing,
        "valid events too late for their window": len(too_late & valid_ids),
        "events in MongoDB that were never sent": len(set(stored_ids) - valid_ids),
        "invalid messages missing from the DLQ": len(invalid_sources - sources),
        "DLQ records for messages that were valid": len(sources - invalid_sources),
        "DLQ duplicates": len(dead) - len(sources),
        "anomaly duplicates": len(anomalies) - len(anomaly_keys),
        "metrics duplicates": len(metrics) - len(metric_ids),
        "processor exits": exits,
    }
    report.problems = [f"{name}: {n}" for name, n in checks.items() if n]
