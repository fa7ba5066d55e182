"""The processor's loop with in-memory collaborators (tests/fakes.py): what it stores,
records as too late, dead-letters and commits, and in which order. The same step against real Kafka and
MongoDB is in tests/integration/test_processor.py and the reliability tier."""

import json
from datetime import datetime, timedelta, timezone

import pytest
from pymongo.errors import AutoReconnect

from labkit.config import Settings
from labkit.process.dlq import DLQGuardTripped
from labkit.process.processor import Processor, ProcessorConfig
from labkit.simulate.faults import FaultRates
from labkit.simulate.simulator import SimConfig, Simulator, backfill_start
from tests.fakes import FakeSource, MemoryStore, RecordingDelivery, records_for

NOW = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
SETTINGS = Settings()  # names only: nothing here connects
TOPIC = SETTINGS.topics.telemetry
FAULTS = FaultRates(episode=0.02, invalid=0.05, duplicate=0.03, late=0.02)


def simulate(count: int, seed: int = 1, faults: FaultRates = FAULTS, end: datetime = NOW, cars: int = 4):
    config = SimConfig(cars=cars, seed=seed, faults=faults)
    return list(Simulator(config).messages(count=count, start=backfill_start(config, count=count, now=end)))


class Harness:
    """A processor wired to in-memory collaborators, and those collaborators."""

    def __init__(self, partitions=(0, 1, 2, 3), clock=lambda: NOW, store: MemoryStore | None = None, **config):
        self.store, self.source = store or MemoryStore(), FakeSource(TOPIC, partitions)
        self.delivery = RecordingDelivery(self.store)
        self.p = Processor(SETTINGS, ProcessorConfig(**config), clock=clock, store=self.store, source=self.source,
                           delivery=self.delivery)

    @property
    def commits(self):
        return self.delivery.commits

    def deliver(self, records) -> None:
        """Queue one batch and run the processor until it has processed it."""
        self.source.queue(records)
        self.p.run(max_messages=self.p.stats.processed + len(records))


def test_a_batch_stores_each_valid_event_once_and_dead_letters_the_rest_before_committing():
    messages = simulate(300)
    records = records_for(messages, TOPIC, 4)
    h = Harness()
    h.deliver(records)

    valid = {m.event_id for m in messages if m.is_valid}
    invalid = [r for r, m in zip(records, messages) if not m.is_valid]
    assert valid and invalid and len(valid) < sum(m.is_valid for m in messages)  # duplicates were sent
    assert h.store.ids("telemetry") == valid
    assert h.store.ids("dead_letters") == {f"{TOPIC}:{r.partition}:{r.offset}" for r in invalid}
    assert all(d["reason"] for d in h.store.collections["dead_letters"].values())
    assert h.p.stats.stored == len(valid) and h.p.stats.invalid == len(invalid)
    assert h.p.stats.processed == h.p.stats.stored + h.p.stats.duplicates + h.p.stats.invalid

    [(writes_before, offsets, outgoing)] = h.commits
    # The batch's writes, then the commit; what is owed to the rollups and latest states is
    # stored with the batch (write_owed) and written when the run ends, after the commit.
    # (Buckets a minute behind the newest reading are due at once: write_derived in the batch.)
    assert h.store.calls[:writes_before] == ["prepare", "write_owed", "insert_events", "write_derived", "write_owed",
                                             "insert_anomalies", "insert_dead_letters", "record_too_late", "write_windows"]
    assert h.store.calls[writes_before:] == ["write_derived", "write_owed"]
    assert set(h.store.collections["latest"]) == {d["car_id"] for d in h.store.collections["telemetry"].values()}
    assert h.store.collections["owed"]["telemetry-processor"] == {0: None, 1: None, 2: None, 3: None}
    last = {}
    for r in records:
        last[r.partition] = r.offset
    assert offsets == {partition: offset + 1 for partition, offset in last.items()}
    dlq_out = [o for o in outgoing if o[0] == SETTINGS.topics.dlq]
    assert len(dlq_out) == len(invalid)


def test_a_redelivered_batch_is_written_again_under_the_same_ids():
    """What makes redelivery harmless on the processor's side: the second time it hands the
    store exactly the same `_id`s (events, dead letters, anomalies), so an idempotent store
    (MongoDB's unique `_id`, tested in the integration tier) keeps one copy."""
    records = records_for(simulate(200), TOPIC, 4)
    h = Harness()
    h.deliver(records)
    first = {name: list(ids) for name, ids in h.store.sent.items()}
    assert all(first[name] for name in ("telemetry", "dead_letters", "anomalies"))

    h.p.detector.cars.clear()  # as a restarted processor: it has not seen these events
    h.store.sent.clear()
    h.deliver(records)
    assert {name: sorted(h.store.sent[name]) for name in first} == {name: sorted(ids) for name, ids in first.items()}
    assert h.p.stats.duplicates >= len(first["telemetry"])  # the store said: already there
    assert len(h.commits) == 2


def test_a_failing_store_is_retried_and_nothing_is_committed_before_it_succeeds():
    records = records_for(simulate(100, faults=FaultRates.none()), TOPIC, 4)
    h = Harness()
    h.store.fail["insert_events"] = [AutoReconnect("server gone"), AutoReconnect("still gone")]
    h.deliver(records)
    assert h.store.calls.count("insert_events") == 3
    assert h.p.stats.retries == 2 and h.p.stats.stored == 100
    assert len(h.commits) == 1


def test_a_fatal_store_error_stops_the_batch_without_a_commit():
    records = records_for(simulate(50, faults=FaultRates.none()), TOPIC, 4)
    h = Harness()
    h.store.fail["insert_anomalies"] = [ValueError("a bug")]
    with pytest.raises(ValueError):
        h.deliver(records)
    assert h.commits == []
    assert h.p.detector.cars == {}  # it forgot what it saw: the batch will be delivered again


def test_an_error_while_deciding_forgets_the_batch_so_a_rerun_stores_all_of_it():
    """Interrupted halfway through deciding (Ctrl+C, a bug in a detector), the processor must
    forget the events its detector saw: the batch comes back, and they are not duplicates."""
    from labkit.process.detectors import AnomalyDetector

    class Interrupted(AnomalyDetector):
        calls = 0

        def detect(self, event):
            Interrupted.calls += 1
            if Interrupted.calls == 50:
                raise KeyboardInterrupt
            return super().detect(event)

    records = records_for(simulate(100, faults=FaultRates.none()), TOPIC, 4)
    h = Harness()
    h.p.detector = Interrupted()
    with pytest.raises(KeyboardInterrupt):
        h.deliver(records)
    h.source.rewind(records)  # not committed: the group delivers the batch again
    h.p.run(max_messages=100)
    assert len(h.store.ids("telemetry")) == 100 and h.p.stats.duplicates == 0


def test_the_guard_stops_a_mostly_invalid_batch_before_anything_is_written():
    messages = simulate(300, faults=FaultRates(episode=0, invalid=0.9, duplicate=0, late=0))
    h = Harness()
    with pytest.raises(DLQGuardTripped):
        h.deliver(records_for(messages, TOPIC, 4))
    assert h.store.calls == ["prepare", "write_owed"] and h.commits == []  # its partitions claimed, no data written


def test_an_abandoned_batch_is_rewound_and_read_again_as_if_new():
    records = records_for(simulate(200, faults=FaultRates(episode=0.05, invalid=0, duplicate=0, late=0)), TOPIC, 4)
    h = Harness()
    h.delivery.abandon = 1  # the group rebalances while the first attempt commits
    h.deliver(records)
    first = {}
    for r in records:
        first.setdefault(r.partition, r.offset)
    assert h.source.seeks == first  # back to the batch's first record in every partition
    anomalies = h.store.ids("anomalies")
    assert anomalies  # the episodes were detected on both attempts, under the same ids
    assert sorted(h.store.sent["anomalies"]) == sorted(list(anomalies) * 2)
    assert len(h.commits) == 1 and h.p.stats.processed == len(records)  # counted once, when committed


def test_readings_ten_minutes_older_than_the_watermark_are_stored_and_recorded_as_too_late():
    """Valid readings are never hidden: lateness decides what the windows publish, not what is
    stored. The final windows stay final; each too-late reading is recorded against the one it missed."""
    h = Harness(partitions=[0], watermark_delay_ms=0, allowed_lateness_ms=10_000)
    recent = simulate(40, faults=FaultRates.none(), cars=1)
    old = simulate(10, seed=2, faults=FaultRates.none(), cars=1, end=NOW - timedelta(minutes=10))
    h.deliver(records_for(recent, TOPIC, 1))
    finals_before = {k: w for k, w in h.store.collections["windows"].items() if w.state == "final"}
    h.deliver(records_for(old, TOPIC, 1, first_offsets={0: 40}))
    assert h.store.ids("telemetry") == {m.event_id for m in recent} | {m.event_id for m in old}
    assert h.store.ids("too_late") == {m.event_id for m in old}
    assert h.p.stats.too_late == 10 and h.p.stats.stored == 50
    for record in h.store.collections["too_late"].values():
        event_ms = int(record["timestamp"].timestamp() * 1000)
        assert record["window_start_ms"] <= event_ms < record["window_start_ms"] + 10_000
        assert record["window_start_ms"] + 10_000 + 10_000 <= record["watermark_ms"]  # final when it came
    windows = h.store.collections["windows"]
    assert all(windows[k].count == w.count for k, w in finals_before.items())  # no final window changed


def test_a_partition_with_messages_waiting_at_the_broker_holds_the_watermark_however_long_it_waits():
    """The chaos run's case: partition 0's backlog is read for longer than the idle time while
    partition 1's waits; partition 1's events must count in their windows, not be too late."""
    clock = [NOW]
    h = Harness(partitions=[0, 1], clock=lambda: clock[0], watermark_delay_ms=0,
                                   allowed_lateness_ms=10_000, watermark_idle_ms=30_000)
    h.source.ends[1] = 10  # partition 1: ten messages waiting, not read yet
    recent = records_for(simulate(80, faults=FaultRates.none(), cars=1), TOPIC, 1)
    h.deliver(recent[:40])  # partition 0 only ...
    clock[0] = NOW + timedelta(seconds=45)  # ... for longer than the idle time
    h.deliver(recent[40:])
    old = simulate(10, seed=2, faults=FaultRates.none(), cars=1, end=NOW - timedelta(minutes=10))
    h.deliver([r._replace(partition=1) for r in records_for(old, TOPIC, 1)])
    assert h.store.ids("too_late") == set()  # they counted in their windows


def test_an_empty_partition_stops_holding_the_watermark_once_idle():
    """The other side of the rule: a partition with nothing waiting must not hold every window
    open forever."""
    clock = [NOW]
    h = Harness(partitions=[0, 1], clock=lambda: clock[0], watermark_delay_ms=0,
                                   allowed_lateness_ms=10_000, watermark_idle_ms=30_000)
    h.source.ends[1] = 0  # partition 1 is empty
    recent = records_for(simulate(80, faults=FaultRates.none(), cars=1), TOPIC, 1)
    h.deliver(recent[:40])
    assert h.store.collections.get("windows", {}) == {}  # partition 1 holds the watermark back ...
    clock[0] = NOW + timedelta(seconds=45)
    h.deliver(recent[40:])
    assert h.store.collections["windows"]  # ... until it has been idle for 30 s: windows are published


def test_two_processors_in_one_process_keep_their_own_metrics_windows():
    """A notebook runs one processor after another in the same kernel, often within one 10 s
    window: each must keep its own window document, not replace the other's counts."""
    store = MemoryStore()
    for seed in (1, 2):
        Harness(store=store).deliver(records_for(simulate(50, seed=seed), TOPIC, 4))  # run() flushes its window
    windows = list(store.collections["metrics"].values())
    assert len(windows) == 2 and sum(w["processed"] for w in windows) == 100


def test_a_rewound_batch_counts_once_in_the_dlq_guards_history():
    """The guard judges each message once: a batch abandoned in a rebalance and read again
    must not count its invalid messages twice (which could trip the guard on its own)."""
    messages = simulate(300, faults=FaultRates(episode=0, invalid=0.4, duplicate=0, late=0))
    records = records_for(messages, TOPIC, 4)
    h = Harness(guard_window=1000, guard_min_messages=1, max_invalid_ratio=0.5)
    h.delivery.abandon = 1
    h.deliver(records)
    assert len(h.p.guard.history) == len(records)
    assert sum(h.p.guard.history) == sum(not m.is_valid for m in messages)


def test_being_fenced_twice_stops_the_processor_even_while_publishing_metrics():
    """Metrics are best effort, but 'fenced twice within a minute' means a live twin writes
    with our transactional id: that must stop the processor, not be logged and ignored."""
    from labkit.process.delivery import FencedTwice

    h = Harness()
    from kafka.errors import KafkaConnectionError

    h.delivery.fail_metrics = [KafkaConnectionError("a passing failure: logged"),
                               FencedTwice("another processor uses this transactional id")]
    h.deliver(records_for(simulate(20, seed=1, faults=FaultRates.none()), TOPIC, 4))
    assert len(h.commits) == 1 and len(h.delivery.fail_metrics) == 1  # the first run ended normally
    with pytest.raises(FencedTwice):
        h.deliver(records_for(simulate(20, seed=2, faults=FaultRates.none()), TOPIC, 4))


def test_what_a_stopped_processor_owed_is_rebuilt_by_the_next_one_from_the_stored_time():
    """Rollups and latest states are written when due, not with every batch; what is owed is
    stored with the batch as a time per partition, so nothing is lost when the processor
    stops before writing it: the next processor rebuilds from that time before reading."""
    store = MemoryStore()
    first = Harness(store=store)
    store.fail["write_derived"] = [AutoReconnect("MongoDB went away as the run ended")]
    records = records_for(simulate(200), TOPIC, 4)
    first.deliver(records)
    owed = dict(store.collections["owed"]["telemetry-processor"])
    oldest_reading = min(d["timestamp"] for d in store.collections["telemetry"].values())
    assert min(t for t in owed.values() if t is not None) <= oldest_reading.timestamp() * 1000
    assert "recover_derived" not in store.calls

    second = Harness(store=store)
    second.deliver(records[-10:])  # a batch the first processor had not committed, say
    assert store.collections["recovered_from"] == {0: min(t for t in owed.values() if t is not None)}
    assert store.calls.index("recover_derived") < len(store.calls) - store.calls[::-1].index("insert_events") - 1, \
        "rebuilt before the first batch is stored"
    assert store.collections["owed"]["telemetry-processor"] == {0: None, 1: None, 2: None, 3: None}


def test_a_late_reading_has_its_bucket_rebuilt_in_the_batch_that_brought_it():
    """The watermark has passed a late reading's bucket: it is due at once, before the commit."""
    from labkit.contract import bucket_start, to_ms

    h = Harness()
    records = records_for(simulate(400, faults=FaultRates(), cars=8), TOPIC, 4)
    late = records[5]
    h.deliver([r for r in records if r is not late])
    calls_before = len(h.store.calls)
    rebuilt = dict(h.store.collections["rebuilt"])

    h.deliver([late])
    event = json.loads(late.value)
    bucket = (event["car_id"], bucket_start(to_ms(datetime.fromisoformat(event["timestamp"])), 10_000))
    assert h.store.collections["rebuilt"][bucket] == rebuilt.get(bucket, 0) + 1
    writes_before_commit = h.commits[-1][0]
    assert "write_derived" in h.store.calls[calls_before:writes_before_commit]


def test_after_a_rebalance_that_gives_the_partitions_back_the_owed_time_is_stored_again():
    """A rebalance revokes every partition, then may hand the same ones back: the new claim
    stores "nothing owed", and the next batch, owing the same bucket as before, must store its
    time again, not take it as stored already (else a crash then would lose that bucket)."""

    class Rebalancing(FakeSource):
        def open(self, on_assigned, on_revoked):
            self.callbacks = (on_assigned, on_revoked)
            on_assigned(self.partitions)

        def poll(self, timeout_ms, max_records):
            if len(self.batches) == 1:  # before the second batch: everything revoked, then given back
                on_assigned, on_revoked = self.callbacks
                on_revoked(self.partitions)
                on_assigned(self.partitions)
            return super().poll(timeout_ms, max_records)

    store = MemoryStore()
    h = Harness(store=store, partitions=(0,))
    h.source = Rebalancing(TOPIC, (0,))
    h.p.source = h.source
    owed_at_commit = []
    publish = h.delivery.publish

    def publish_and_look(outgoing, offsets):
        publish(outgoing, offsets)
        if offsets:
            owed_at_commit.append(dict(store.collections["owed"]["telemetry-processor"]))

    h.delivery.publish = publish_and_look
    t0 = datetime(2026, 11, 2, 7, 59, 0, tzinfo=timezone.utc)
    values = [json.dumps({"car_id": "CAR_001", "event_id": f"e{i}", "seq": i + 1, "timestamp": (t0 + timedelta(
        seconds=i)).isoformat(), "speed": 50.0, "rpm": 2000, "engine_temp": 90.0, "fuel_level": 50.0, "latitude": 52.5,
        "longitude": 13.4}).encode() for i in range(4)]
    from tests.fakes import Record

    h.source.queue([Record(TOPIC, 0, i, b"CAR_001", v) for i, v in enumerate(values[:2])])
    h.source.queue([Record(TOPIC, 0, i + 2, b"CAR_001", v) for i, v in enumerate(values[2:])])
    h.p.run(max_messages=4)
    bucket = int(t0.timestamp() * 1000)
    assert owed_at_commit == [{0: bucket}, {0: bucket}], "owed when each batch committed"
