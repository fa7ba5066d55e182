import time
import uuid

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from labkit.ops import clients, kafka_io
from labkit.ops.infra.topics import SCRATCH_TOPIC, describe_topics


def test_lab_topics_exist_with_planned_partitions(services):
    topics = describe_topics(services)
    assert topics == {
        services.topics.telemetry: services.telemetry_partitions,
        services.topics.dlq: 1,
        services.topics.anomaly: 1,
        services.topics.metrics: 1,
    }


def test_message_comes_back_with_key_and_headers(services):
    kafka_io.round_trip(services, count=1)  # makes sure the scratch topic exists
    producer = clients.kafka_producer(services)
    marker = uuid.uuid4().hex.encode()
    meta = producer.send(SCRATCH_TOPIC, key=b"CAR_042", value=b'{"speed": 1}',
                         headers=[("marker", marker), ("source", b"test")]).get(timeout=15)
    producer.close()

    consumer = KafkaConsumer(bootstrap_servers=services.kafka_bootstrap_servers, enable_auto_commit=False)
    tp = TopicPartition(SCRATCH_TOPIC, meta.partition)
    consumer.assign([tp])
    consumer.seek(tp, meta.offset)
    batch = consumer.poll(timeout_ms=10000, max_records=1)
    consumer.close()
    [message] = batch[tp]
    assert message.key == b"CAR_042"
    assert message.value == b'{"speed": 1}'
    assert dict(message.headers) == {"marker": marker, "source": b"test"}
    assert meta.partition == kafka_io.partition_for_key(b"CAR_042", services.telemetry_partitions)


def test_round_trip_reads_back_exactly_what_was_confirmed(services):
    records = kafka_io.round_trip(services, count=5)
    assert len(records) == 5
    assert sorted(r.key for r in records) == [b"CAR_001", b"CAR_002", b"CAR_003", b"CAR_004", b"CAR_005"]
    run_ids = {dict(r.headers)["run_id"] for r in records}
    assert len(run_ids) == 1


@pytest.mark.timeout(45)
def test_committed_offsets_answer_at_once_while_a_transaction_holds_newer_ones(services):
    """A processor killed mid-transaction leaves its offset commit pending until the broker
    aborts it (60 s here). Reading the group's offsets meanwhile must not wait for that: it
    answers with the offsets committed for good (this waited 60 s: notebook 09's lag sampler)."""
    group, topic = f"g-{uuid.uuid4().hex[:6]}", services.topics.telemetry
    producer = clients.kafka_producer(services, transactional_id=f"{group}.tx", transaction_timeout_ms=60_000)
    producer.init_transactions()
    producer.begin_transaction()
    producer.send_offsets_to_transaction({TopicPartition(topic, 0): OffsetAndMetadata(1, "", -1)}, group)
    try:
        started = time.monotonic()
        offsets = kafka_io.committed_offsets(services, group, topic)
        assert time.monotonic() - started < 15
        assert offsets[0] is None  # nothing committed for good yet
    finally:
        producer.abort_transaction()
        producer.close()
