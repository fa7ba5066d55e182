"""The local services keep their data across stop/start and recover from a crash.

These tests stop and kill the shared services, so they run last (after the other tiers)
and always leave the services up again.
"""

import uuid
from datetime import datetime, timezone

import pytest
from pymongo import MongoClient

from labkit.ops import clients, infra, kafka_io
from labkit.ops.infra import local
from labkit.ops.infra.topics import SCRATCH_TOPIC

quiet = dict(log=lambda *a, **k: None)


@pytest.fixture
def local_services(services):
    assert infra.mode(services) == "local", "these tests exercise the local (no Docker) services"
    yield services
    infra.up(services, **quiet)  # whatever happened, leave the services running


def _write_marker(settings):
    marker = uuid.uuid4().hex
    producer = clients.kafka_producer(settings)
    meta = producer.send(SCRATCH_TOPIC, key=b"restart", value=marker.encode()).get(timeout=15)
    producer.close()
    client = MongoClient(settings.mongodb_uri, tz_aware=True)
    client["labkit_tests"]["restart"].insert_one(
        {"_id": marker, "at": datetime(2026, 1, 1, tzinfo=timezone.utc)})
    client.close()
    return marker, meta


def _read_marker(settings, marker, meta):
    records = kafka_io.read_topic(settings, SCRATCH_TOPIC, max_messages=1, partitions=[meta.partition],
                                  start_offsets={meta.partition: meta.offset})
    client = MongoClient(settings.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=5000)
    doc = client["labkit_tests"]["restart"].find_one({"_id": marker})
    client.close()
    return records, doc


def test_data_survives_down_then_up(local_services):
    kafka_io.round_trip(local_services, count=1)
    marker, meta = _write_marker(local_services)

    assert sorted(infra.down(local_services, **quiet)) == ["kafka", "mongo"]
    assert infra.down(local_services, **quiet) == []  # down when down is fine
    status = infra.status(local_services)
    assert not status["kafka"]["running"] and not status["mongo"]["running"]

    assert sorted(infra.up(local_services, **quiet)) == ["kafka", "mongo"]
    records, doc = _read_marker(local_services, marker, meta)
    assert [r.value.decode() for r in records] == [marker]
    assert doc == {"_id": marker, "at": datetime(2026, 1, 1, tzinfo=timezone.utc)}


def test_killed_kafka_is_detected_and_restored_with_its_messages(local_services):
    kafka_io.round_trip(local_services, count=1)
    marker, meta = _write_marker(local_services)
    kafka = next(s for s in local.services(local_services) if s.name == "kafka")

    local.kill(kafka, local_services.lab_home)  # SIGKILL: no clean shutdown
    status = infra.status(local_services)
    assert status["kafka"]["running"] is False and status["kafka"]["answering"] is False
    assert status["mongo"]["running"] is True

    assert infra.up(local_services, **quiet) == ["kafka"]  # only the dead one is started
    records, _ = _read_marker(local_services, marker, meta)
    assert [r.value.decode() for r in records] == [marker]


def test_a_stale_pid_file_does_not_block_start(local_services):
    mongo = next(s for s in local.services(local_services) if s.name == "mongo")
    infra.down(local_services, only=["mongo"], **quiet)
    mongo.pid_file(local_services.lab_home).write_text("999999")  # a pid that is not ours
    assert infra.up(local_services, **quiet) == ["mongo"]
