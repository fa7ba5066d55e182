"""The processor's batch step with in-memory fakes (tests/fakes.py): what it stores, sets
aside, dead-letters and commits, and in which order. The same step against real Kafka and
MongoDB is in tests/integration/test_processor.py and the reliability tier."""

from datetime import datetime, timedelta, timezone

import pytest
from pymongo.errors import AutoReconnect

from labkit.config import Settings
from labkit.process.processor import DLQGuardTripped, ProcessorConfig
from labkit.simulate.faults import FaultRates
from labkit.simulate.simulator import SimConfig, Simulator, backfill_start
from tests.fakes import FakeConsumer, MemoryStore, OfflineProcessor, records_for

NOW = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
SETTINGS = Settings()  # names only: nothing here connects
TOPIC = SETTINGS.topics.telemetry
FAULTS = FaultRates(episode=0.02, invalid=0.05, duplicate=0.03, late=0.02)


def simulate(count: int, seed: int = 1, faults: FaultRates = FAULTS, end: datetime = NOW, cars: int = 4):
    config = SimConfig(cars=cars, seed=seed, faults=faults)
    return list(Simulator(config).messages(count=count, start=backfill_start(config, count=count, now=end)))


def processor(partitions=(0, 1, 2, 3), clock=lambda: NOW, **config) -> tuple[OfflineProcessor, MemoryStore, FakeConsumer]:
    store, consumer = MemoryStore(), FakeConsumer(TOPIC, partitions)
    p = OfflineProcessor(SETTINGS, ProcessorConfig(**config), clock=clock, store=store, consumer=consumer)
    return p, store, consumer


def deliver(p: OfflineProcessor, consumer: FakeConsumer, records) -> None:
    consumer.delivered(records)
    p.process_batch(records)


def test_a_batch_stores_each_valid_event_once_and_dead_letters_the_rest_before_committing():
    messages = simulate(300)
    records = records_for(messages, TOPIC, 4)
    p, store, consumer = processor()
    deliver(p, consumer, records)

    valid = {m.event_id for m in messages if m.is_valid}
    invalid = [r for r, m in zip(records, messages) if not m.is_valid]
    assert valid and invalid and len(valid) < sum(m.is_valid for m in messages)  # duplicates were sent
    assert store.ids("telemetry") == valid
    assert store.ids("dead_letters") == {f"{TOPIC}:{r.partition}:{r.offset}" for r in invalid}
    assert all(d["reason"] for d in store.collections["dead_letters"].values())
    assert p.stats.stored == len(valid) and p.stats.invalid == len(invalid)
    assert p.stats.processed == p.stats.stored + p.stats.duplicates + p.stats.invalid

    [(writes_before, offsets, outgoing)] = p.commits
    assert writes_before == len(store.calls)  # every store write came before the commit
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
    p, store, consumer = processor()
    deliver(p, consumer, records)
    first = {name: list(ids) for name, ids in store.sent.items()}
    assert all(first[name] for name in ("telemetry", "dead_letters", "anomalies"))

    p.detector.cars.clear()  # as a restarted processor: it has not seen these events
    store.sent.clear()
    deliver(p, consumer, records)
    assert {name: sorted(store.sent[name]) for name in first} == {name: sorted(ids) for name, ids in first.items()}
    assert p.stats.duplicates >= len(first["telemetry"])  # the store said: already there
    assert len(p.commits) == 2


def test_a_failing_store_is_retried_and_nothing_is_committed_before_it_succeeds():
    records = records_for(simulate(100, faults=FaultRates.none()), TOPIC, 4)
    p, store, consumer = processor()
    store.fail["insert_events"] = [AutoReconnect("server gone"), AutoReconnect("still gone")]
    deliver(p, consumer, records)
    assert store.calls.count("insert_events") == 3
    assert p.stats.retries == 2 and p.stats.stored == 100
    assert len(p.commits) == 1


def test_a_fatal_store_error_stops_the_batch_without_a_commit():
    records = records_for(simulate(50, faults=FaultRates.none()), TOPIC, 4)
    p, store, consumer = processor()
    store.fail["insert_anomalies"] = [ValueError("a bug")]
    with pytest.raises(ValueError):
        deliver(p, consumer, records)
    assert p.commits == []


def test_the_guard_stops_a_mostly_invalid_batch_before_anything_is_written():
    messages = simulate(300, faults=FaultRates(episode=0, invalid=0.9, duplicate=0, late=0))
    p, store, consumer = processor()
    with pytest.raises(DLQGuardTripped):
        deliver(p, consumer, records_for(messages, TOPIC, 4))
    assert store.calls == [] and p.commits == []


def test_an_abandoned_batch_is_rewound_and_read_again_as_if_new():
    records = records_for(simulate(200, faults=FaultRates(episode=0.05, invalid=0, duplicate=0, late=0)), TOPIC, 4)
    p, store, consumer = processor()
    p.abandon = 1  # the group rebalances while the first attempt commits
    deliver(p, consumer, records)
    assert p.commits == [] and p._uncommitted == {}
    first = {}
    for r in records:
        first.setdefault(r.partition, r.offset)
    assert consumer.seeks == first  # back to the batch's first record in every partition
    anomalies = store.ids("anomalies")
    assert anomalies  # the episodes were detected ...

    store.collections.pop("anomalies")
    deliver(p, consumer, records)  # ... and are detected again when the batch comes back
    assert store.ids("anomalies") == anomalies and len(p.commits) == 1


def test_events_older_than_a_final_window_are_set_aside_not_stored():
    p, store, consumer = processor(partitions=[0], watermark_delay_ms=0, allowed_lateness_ms=10_000)
    recent = simulate(40, faults=FaultRates.none(), cars=1)
    old = simulate(10, seed=2, faults=FaultRates.none(), cars=1, end=NOW - timedelta(minutes=10))
    deliver(p, consumer, records_for(recent, TOPIC, 1))
    deliver(p, consumer, records_for(old, TOPIC, 1, first_offsets={0: 40}))
    assert store.ids("too_late") == {m.event_id for m in old}
    assert store.ids("telemetry") == {m.event_id for m in recent}
    assert p.stats.too_late == 10


def test_a_partition_with_messages_waiting_at_the_broker_holds_the_watermark_however_long_it_waits():
    """The chaos run's case: partition 0's backlog is read for longer than the idle time while
    partition 1's waits; partition 1's events must be stored, not set aside as too late."""
    clock = [NOW]
    p, store, consumer = processor(partitions=[0, 1], clock=lambda: clock[0], watermark_delay_ms=0,
                                   allowed_lateness_ms=10_000, watermark_idle_ms=30_000)
    consumer.ends[1] = 10  # partition 1: ten messages waiting, not read yet
    recent = records_for(simulate(80, faults=FaultRates.none(), cars=1), TOPIC, 1)
    deliver(p, consumer, recent[:40])  # partition 0 only ...
    clock[0] = NOW + timedelta(seconds=45)  # ... for longer than the idle time
    deliver(p, consumer, recent[40:])
    old = simulate(10, seed=2, faults=FaultRates.none(), cars=1, end=NOW - timedelta(minutes=10))
    deliver(p, consumer, [r._replace(partition=1) for r in records_for(old, TOPIC, 1)])
    assert store.ids("too_late") == set()
    assert {m.event_id for m in old} <= store.ids("telemetry")


def test_an_empty_partition_stops_holding_the_watermark_once_idle():
    """The other side of the rule: a partition with nothing waiting must not hold every window
    open forever."""
    clock = [NOW]
    p, store, consumer = processor(partitions=[0, 1], clock=lambda: clock[0], watermark_delay_ms=0,
                                   allowed_lateness_ms=10_000, watermark_idle_ms=30_000)
    consumer.ends[1] = 0  # partition 1 is empty
    recent = records_for(simulate(80, faults=FaultRates.none(), cars=1), TOPIC, 1)
    deliver(p, consumer, recent[:40])
    assert store.collections.get("windows", {}) == {}  # partition 1 holds the watermark back ...
    clock[0] = NOW + timedelta(seconds=45)
    deliver(p, consumer, recent[40:])
    assert store.collections["windows"]  # ... until it has been idle for 30 s: windows are published


def test_two_processors_in_one_process_keep_their_own_metrics_windows():
    """A notebook runs one processor after another in the same kernel, often within one 10 s
    window: each must keep its own window document, not replace the other's counts."""
    store = MemoryStore()
    for seed in (1, 2):
        consumer = FakeConsumer(TOPIC, range(4))
        p = OfflineProcessor(SETTINGS, ProcessorConfig(), clock=lambda: NOW, store=store, consumer=consumer)
        records = records_for(simulate(50, seed=seed), TOPIC, 4)
        deliver(p, consumer, records)
        p._write_metrics(p.metrics.flush())  # what run() does when it ends
    windows = list(store.collections["metrics"].values())
    assert len(windows) == 2 and sum(w["processed"] for w in windows) == 100
