"""The processor rides through broker and database outages, and the chaos run counts
everything: nothing lost, nothing twice, in MongoDB or in any output topic."""

import threading
import time
import uuid

import pytest

from labkit.ops import infra
from labkit.ops.infra import local
from labkit.ops.infra.readiness import kafka_ready
from labkit.process.delivery import TransactionalDelivery
from labkit.process.processor import Processor, ProcessorConfig
from labkit.process.source import GroupSource
from labkit.scenarios import chaos
from tests.pipeline_helpers import distinct_sources, dlq_records, expected, send_batch, stored_ids


@pytest.fixture
def kafka_service(pipeline):
    assert infra.mode(pipeline) == "local", "these tests kill local service processes"
    service = next(s for s in local.services(pipeline) if s.name == "kafka")
    yield service
    if not kafka_ready(pipeline):  # never leave the broker down for the next test
        local.start(service, pipeline, pipeline.lab_home)
        local.wait_ready(service, pipeline.lab_home, lambda: kafka_ready(pipeline))


def _restart_after(service, settings, seconds: float) -> None:
    time.sleep(seconds)
    local.start(service, settings, settings.lab_home)
    local.wait_ready(service, settings.lab_home, lambda: kafka_ready(settings))


class KillsBrokerWhileSending(TransactionalDelivery):
    """The processor's delivery, killing the broker right before the second batch's transaction."""

    def __init__(self, *args, service, **kwargs):
        super().__init__(*args, **kwargs)
        self.service, self.transactions_seen, self.killed = service, 0, threading.Event()

    def publish(self, outgoing, offsets):
        if offsets:
            self.transactions_seen += 1
            if self.transactions_seen == 2 and not self.killed.is_set():
                local.kill(self.service, self.settings.lab_home)
                self.killed.set()
        return super().publish(outgoing, offsets)


@pytest.mark.timeout(720)  # its own bounded waits add up to ~620 s (60 + 90 + 120 + 90 + 240)
def test_broker_killed_while_sending_then_while_polling_loses_and_duplicates_nothing(pipeline, kafka_service):
    first = send_batch(pipeline, 3000, seed=31)
    group = f"g-{uuid.uuid4().hex[:6]}"
    source = GroupSource(pipeline, group, client_id=f"{group}-processor", max_poll_records=300)
    delivery = KillsBrokerWhileSending(pipeline, f"{group}.tx", 60_000, group=source, service=kafka_service)
    processor = Processor(pipeline, ProcessorConfig(group_id=group, batch_size=300), source=source, delivery=delivery)
    result = {}
    # The claim is "nothing lost", not "back within seconds": after a broker restart a partition
    # can stay unreadable for a while; the processor counts that as an outage, not idleness
    # (GroupSource.caught_up), so a short idle timeout cannot end the run early.
    worker = threading.Thread(target=lambda: result.update(stats=processor.run(idle_timeout_s=8)))
    worker.start()
    try:
        assert delivery.killed.wait(60), "the broker was killed during a send"
        _restart_after(kafka_service, pipeline, 5)
        assert worker.is_alive(), "the processor waited for the broker instead of exiting"
        valid_first, _ = expected(first)
        deadline = time.monotonic() + 120
        while len(stored_ids(pipeline)) < len(valid_first) and time.monotonic() < deadline:
            time.sleep(0.2)
        # Now it is polling an idle topic: take the broker away again.
        local.kill(kafka_service, pipeline.lab_home)
        time.sleep(4)
        assert worker.is_alive(), "the processor survives a broker loss while polling"
        _restart_after(kafka_service, pipeline, 0)
        second = send_batch(pipeline, 1000, seed=32)
    finally:
        worker.join(timeout=240)
    assert not worker.is_alive()
    valid_ids, invalid = expected(first + second)
    ids = stored_ids(pipeline)
    assert len(ids) == len(valid_ids) and set(ids) == valid_ids
    dead = dlq_records(pipeline)
    assert len(dead) == len(distinct_sources(dead)) == invalid, "every invalid message in the DLQ exactly once"


@pytest.mark.timeout(1200)  # four kills, catching up, a draining run: each step is bounded, together past the default
def test_small_chaos_run_loses_nothing_and_duplicates_nothing(services):
    plan = chaos.ChaosPlan(events=5000, cars=8, processor_kills=2, broker_kills=1, mongo_kills=1, outage_s=2)
    report = chaos.run(services, plan, log=lambda *a, **k: None)
    assert report.ok, report.table() + "\n" + "\n".join(report.events)
    assert report.rows["stored in MongoDB"] == report.rows["distinct valid events"]
    assert report.rows["DLQ records"] == report.rows["invalid messages"]
    assert len(report.events) == 4


#: Acknowledged documents before the database is killed, and how long they may take: 100
#: journaled batches of 200 take seconds; two minutes (with the restart after it, still
#: inside the default per-test timeout) means something is wrong.
WRITES_BEFORE_KILL, WRITES_WITHIN_S = 20_000, 120


def test_acknowledged_journaled_writes_survive_a_killed_database(pipeline):
    """What the offset commit relies on: once MongoDB acknowledges a journaled write, a
    server crash right after must not take it back."""
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    from labkit.ops.infra.readiness import mongodb_ready

    mongo = next(s for s in local.services(pipeline) if s.name == "mongo")
    client = MongoClient(pipeline.mongodb_uri, journal=True, serverSelectionTimeoutMS=2000, socketTimeoutMS=5000)
    collection = client[pipeline.mongodb_db]["acknowledged"]
    acknowledged, stop = [], threading.Event()

    def write():
        batch = 0
        while not stop.is_set():
            docs = [{"_id": f"{batch}-{i}", "pad": "x" * 200} for i in range(200)]
            try:
                collection.insert_many(docs)
            except PyMongoError:
                return  # the server is gone: this batch was never acknowledged
            acknowledged.extend(d["_id"] for d in docs)
            batch += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        # Bounded: a writer that stalls, or stopped on an error, fails the test instead of hanging it.
        deadline = time.monotonic() + WRITES_WITHIN_S
        while len(acknowledged) < WRITES_BEFORE_KILL:
            assert writer.is_alive(), f"the writer stopped after {len(acknowledged):,} acknowledged documents (a write failed)"
            assert time.monotonic() < deadline, \
                f"only {len(acknowledged):,} of {WRITES_BEFORE_KILL:,} documents acknowledged within {WRITES_WITHIN_S} s"
            time.sleep(0.05)
        local.kill(mongo, pipeline.lab_home)  # SIGKILL mid-stream: no chance to flush
    finally:
        stop.set()
        writer.join(timeout=30)
        local.start(mongo, pipeline, pipeline.lab_home)
        local.wait_ready(mongo, pipeline.lab_home, lambda: mongodb_ready(pipeline))
    client.close()
    client = MongoClient(pipeline.mongodb_uri, serverSelectionTimeoutMS=5000)
    try:
        kept = {d["_id"] for d in client[pipeline.mongodb_db]["acknowledged"].find({}, {"_id": 1})}
    finally:
        client.close()
    lost = [i for i in acknowledged if i not in kept]
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged documents lost, e.g. {lost[:3]}"
