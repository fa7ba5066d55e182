"""The producer against the real broker: every confirmed send is in Kafka, in order per car."""

import json
import threading
import time
import uuid
from datetime import datetime, timezone

import pytest
from kafka import KafkaAdminClient

from labkit.ops import kafka_io, preflight
from labkit.ops.infra.topics import ensure_topics
from labkit.simulate.faults import FaultRates
from labkit.simulate.producer import produce
from labkit.simulate.simulator import SimConfig, Simulator, backfill_start


@pytest.fixture
def topic(services):
    name = f"labkit.test.producer.{uuid.uuid4().hex[:8]}"
    ensure_topics(services, {name: 4})
    yield name
    admin = KafkaAdminClient(bootstrap_servers=services.kafka_bootstrap_servers)
    admin.delete_topics([name])
    admin.close()


def test_confirmed_sends_equal_messages_read_back_and_order_is_kept_per_car(services, topic):
    config = SimConfig(cars=6, seed=5, faults=FaultRates.none())
    messages = list(Simulator(config).messages(count=3000, start=backfill_start(config, count=3000)))
    report = produce(services, messages, topic=topic)
    assert (report.sent, report.failed) == (3000, 0)
    assert sum(report.per_partition.values()) == 3000

    records = kafka_io.read_topic(services, topic, max_messages=10_000, timeout_s=30)
    assert len(records) == 3000
    assert sorted(r.value for r in records) == sorted(m.value for m in messages)
    # Where the report says each message landed is where it is.
    by_position = {(r.partition, r.offset): r.value for r in records}
    assert all(by_position[where] == m.value for m, where in zip(messages, report.delivered))
    # One car, one partition, and its events in the order they were sent.
    for car in {m.car_id for m in messages}:
        mine = [r for r in records if r.key == car.encode()]
        assert len({r.partition for r in mine}) == 1
        seqs = [json.loads(r.value)["seq"] for r in sorted(mine, key=lambda r: r.offset)]
        assert seqs == list(range(1, len(seqs) + 1))


def test_faulty_messages_are_sent_byte_for_byte(services, topic):
    config = SimConfig(cars=3, seed=8, faults=FaultRates(invalid=0.3, duplicate=0.1, late=0.1))
    messages = list(Simulator(config).messages(count=500, start=backfill_start(config, count=500)))
    report = produce(services, messages, topic=topic)
    assert report.sent == 500
    records = kafka_io.read_topic(services, topic, max_messages=1000)
    assert sorted(r.value for r in records) == sorted(m.value for m in messages)


def test_realtime_mode_keeps_the_schedule_and_stops_on_request(services, topic):
    config = SimConfig(cars=2, rate_hz=5.0, seed=1, faults=FaultRates.none())
    messages = Simulator(config).messages(start=datetime.now(timezone.utc))  # unbounded
    stop = threading.Event()
    threading.Timer(2.0, stop.set).start()
    began = time.monotonic()
    report = produce(services, messages, realtime=True, stop=stop, topic=topic)
    elapsed = time.monotonic() - began
    assert report.stopped_early and report.failed == 0
    # 2 cars x 5 Hz x ~2 s: the schedule, not the CPU, sets the pace.
    assert 14 <= report.sent <= 26, report.sent
    assert elapsed < 4


def test_unreachable_broker_fails_fast_with_a_clear_error(services):
    dead = services.replace(kafka_bootstrap_servers="127.0.0.1:1")
    began = time.monotonic()
    with pytest.raises(preflight.ServiceUnavailable, match="make infra-up"):
        produce(dead, [], topic="x")
    assert time.monotonic() - began < 5


def test_realtime_mode_keeps_the_schedule_through_invalid_timestamps(services, topic):
    """A corrupted payload's timestamp (garbage, no zone, days ahead) is not the schedule: the
    stream goes on at the fleet's rate instead of waiting for a time that never comes."""
    config = SimConfig(cars=20, rate_hz=5.0, seed=3, faults=FaultRates(episode=0, invalid=0.3, duplicate=0, late=0))
    messages = Simulator(config).messages(start=datetime.now(timezone.utc))  # unbounded
    stop = threading.Event()
    threading.Timer(2.0, stop.set).start()
    report = produce(services, messages, realtime=True, stop=stop, topic=topic)
    # 20 cars x 5 Hz x ~2 s; with a future timestamp paced literally, the stream stalled after a few.
    assert 140 <= report.sent <= 260, report.sent
