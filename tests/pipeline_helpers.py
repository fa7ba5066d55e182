"""Helpers shared by the processor's integration and reliability tests."""

from __future__ import annotations

import json

from labkit.config import Settings
from labkit.ops import clients, kafka_io
from labkit.process import dlq
from labkit.simulate.faults import FaultRates, Message
from labkit.simulate.producer import produce
from labkit.simulate.simulator import SimConfig, Simulator, backfill_start

#: The faults of a typical test batch: some invalid, some duplicated, some late.
TEST_FAULTS = FaultRates(episode=0.005, invalid=0.05, duplicate=0.02, late=0.02)


def send_batch(settings: Settings, count: int, seed: int = 1, cars: int = 8,
               rates: FaultRates = TEST_FAULTS) -> list[Message]:
    config = SimConfig(cars=cars, seed=seed, faults=rates)
    messages = list(Simulator(config).messages(count=count, start=backfill_start(config, count=count)))
    report = produce(settings, messages)
    assert (report.sent, report.failed) == (count, 0)
    return messages


def stored_ids(settings: Settings) -> list[str]:
    client = clients.mongo_client(settings, serverSelectionTimeoutMS=5000)
    try:
        return [d["_id"] for d in client[settings.mongodb_db][settings.collections.telemetry].find({}, {"_id": 1})]
    finally:
        client.close()


def dlq_records(settings: Settings) -> list[dict]:
    records = kafka_io.read_topic(settings, settings.topics.dlq, max_messages=1_000_000, timeout_s=30)
    return [dlq.parse(r.value) | {"_headers": dict(r.headers)} for r in records]


def expected(messages: list[Message]) -> tuple[set[str], int]:
    """(distinct event ids that must be stored, number of messages that must be dead-lettered)."""
    valid_ids = {m.event_id for m in messages if m.is_valid}
    return valid_ids, sum(1 for m in messages if not m.is_valid)


def distinct_sources(records: list[dict]) -> set[str]:
    """DLQ records are at-least-once; their source ("topic:partition:offset") identifies them."""
    return {dlq.source_id(r) for r in records}


def committed_offsets(settings: Settings, group: str) -> dict[int, int]:
    """The group's committed offsets on the telemetry topic."""
    return kafka_io.committed_offsets(settings, group, settings.topics.telemetry)


def as_json(value: bytes) -> dict:
    return json.loads(value)


def pipeline_env(settings: Settings) -> dict:
    """Environment variables that point a `python -m labkit ...` subprocess at `settings`."""
    import os

    return {**os.environ, **settings.as_env()}
