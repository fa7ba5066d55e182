"""A three-broker cluster of its own (ports 19092-19097, beside the lab's broker): topics are
replicated, the lab's pipeline runs on it unchanged, and killing a partition's leader while
producing with acks=all loses no confirmed event."""

import uuid

import pytest

from labkit.ops.infra.cluster import Cluster
from labkit.ops.infra.topics import ensure_topics, partition_table, topic_plan
from labkit.process.processor import Processor, ProcessorConfig
from labkit.scenarios.failover import leader_failover
from tests.pipeline_helpers import expected, send_batch, stored_ids


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("cluster"), base_port=19092)
    cluster.up(log=lambda *_: None)
    try:
        yield cluster
    finally:
        cluster.down(log=lambda *_: None)
        assert cluster.running() == []


def test_topics_get_three_replicas_and_need_two_in_sync(cluster, pipeline):
    on_cluster = pipeline.replace(kafka_bootstrap_servers=cluster.bootstrap)
    ensure_topics(on_cluster, topic_plan(on_cluster))
    rows = partition_table(cluster.bootstrap, [on_cluster.topics.telemetry])
    assert len(rows) == on_cluster.telemetry_partitions
    for row in rows:
        assert sorted(row["replicas"]) == [1, 2, 3]
        assert row["leader"] in row["replicas"]
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap)
    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, on_cluster.topics.telemetry)])
    finally:
        admin.close()
    configs = described["topic"][on_cluster.topics.telemetry]  # the topic's own settings
    assert configs["min.insync.replicas"]["value"] == "2"


def test_the_pipeline_runs_unchanged_on_the_cluster(cluster, pipeline):
    on_cluster = pipeline.replace(kafka_bootstrap_servers=cluster.bootstrap)
    ensure_topics(on_cluster, topic_plan(on_cluster))
    messages = send_batch(on_cluster, 1000, seed=21)
    valid_ids, invalid_count = expected(messages)
    stats = Processor(on_cluster, ProcessorConfig(group_id=f"g-{uuid.uuid4().hex[:6]}")).run(idle_timeout_s=3)
    assert stats.processed == 1000 and stats.invalid == invalid_count
    ids = stored_ids(on_cluster)
    assert len(ids) == len(set(ids)) and set(ids) == valid_ids


def test_killing_the_leader_during_acks_all_production_loses_no_confirmed_event(cluster, pipeline):
    result = leader_failover(cluster, topic=f"labkit.test.failover.{uuid.uuid4().hex[:6]}", events=1500,
                             rate=300, settings=pipeline)
    print(result)
    assert result.confirmed > 0
    assert result.lost == 0, result
    assert result.duplicates == 0, result  # idempotence: a retried batch is written once
    assert result.confirmed + sum(result.failed.values()) == result.sent
    assert result.stored >= result.confirmed  # an unconfirmed send may still have landed
    assert result.new_leader not in (result.killed, -1)
    after_kill = [row for row in result.timeline if row["leader"] not in (result.killed, -1)]
    assert any(result.killed not in row["isr"] for row in after_kill), "the ISR never shrank"
    assert result.killed in result.timeline[-1]["isr"], "the restarted node never caught up"
    assert sorted(cluster.running()) == [1, 2, 3]


def test_the_failover_runs_on_the_students_topic_and_producer_once_11_1_passes(cluster, pipeline):
    """Notebook 11 hands its exercise's functions to the experiment: the topic is made again by
    `durable_topic` (a first run's one-replica leftover is deleted) and written by `durable_producer`."""
    from labkit.teach.solutions import nb11

    topic = f"labkit.test.failover.own.{uuid.uuid4().hex[:6]}"
    from labkit.ops import clients

    admin = clients.kafka_admin(bootstrap=cluster.bootstrap)
    try:
        admin.create_topics({topic: {"num_partitions": 1, "replication_factor": 1}})
    finally:
        admin.close()
    result = leader_failover(cluster, topic=topic, events=600, rate=300, settings=pipeline,
                             make_topic=nb11.durable_topic, make_producer=nb11.durable_producer)
    print(result)
    assert len(partition_table(cluster.bootstrap, [topic])[0]["replicas"]) == 3, "made again by durable_topic"
    assert result.confirmed == result.sent and result.lost == 0 and result.duplicates == 0, result
    assert result.new_leader not in (result.killed, -1)


# --------------------------------------------------------------------------- exercise 11.1


def _topic(replicas=3, min_isr="2", partitions=1, **more):
    def make(admin, name):
        configs = {"min.insync.replicas": min_isr} if min_isr else {}
        configs.update({key.replace("_", "."): value for key, value in more.items()})
        admin.create_topics({name: {"num_partitions": partitions, "replication_factor": replicas, "configs": configs}})
    return make


def _producer(**config):
    from kafka import KafkaProducer

    return lambda bootstrap: KafkaProducer(bootstrap_servers=bootstrap, **config)


def _bare_producer(bootstrap):
    from kafka import KafkaProducer

    return KafkaProducer(bootstrap_servers=bootstrap)


def _transactional_producer(bootstrap):
    from kafka import KafkaProducer

    return KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, transactional_id="durable")


def test_exercise_11_1_the_solution_passes_and_leaves_no_topic(cluster, capsys):
    from labkit.teach.checks import nb11 as check
    from labkit.teach.solutions import nb11 as solution
    from tests.wrong_answers import assert_rejected

    name = f"labkit.test.durable.{uuid.uuid4().hex[:6]}"
    assert check.durable(solution.durable_topic, solution.durable_producer, cluster.bootstrap, name)
    assert partition_table(cluster.bootstrap, [name]) == []  # deleted again
    # kafka-python 3's defaults already wait for every in-sync replica and are idempotent, but
    # the lesson is to write them out: a bare producer is refused for leaving them to the library.
    assert_rejected(capsys, check.durable(solution.durable_topic, _bare_producer, cluster.bootstrap, name + "d"),
                    "does not name acks and enable_idempotence", exercise="11.1")
    # A transactional producer (notebook 03's) passes the settings, but sends only inside a transaction.
    assert_rejected(capsys, check.durable(solution.durable_topic, _transactional_producer, cluster.bootstrap, name + "t"),
                    "sending one message with your producer", "your code raised", exercise="11.1")
    assert partition_table(cluster.bootstrap, [name + "d", name + "t"]) == []


@pytest.mark.parametrize("topic, producer, words", [
    (_topic(replicas=1), _producer(), "1 replica(s)"),
    (_topic(replicas=2), _producer(), "2 replica(s)"),
    (_topic(min_isr=None), _producer(), "min.insync.replicas is 1"),
    (_topic(min_isr="3"), _producer(), "losing any one broker stops every write"),
    (_topic(), _producer(acks=1), "acks is 1"),
    (_topic(), _producer(acks="all", enable_idempotence=False), "not idempotent"),
    (lambda admin, name: None, _producer(), "there is no topic"),
    (_topic(), lambda bootstrap: None, "returned None"),
    (_topic(), lambda bootstrap: {"acks": "all", "enable_idempotence": True}, "expected a KafkaProducer"),
    (_topic(partitions=3), _producer(), "3 partitions"),
    (_topic(unclean_leader_election_enable="true"), _producer(), "unclean.leader.election.enable=true"),
    (_topic(), lambda bootstrap: _producer()(bootstrap.split(",")[0]), "not to the three brokers it was given"),
], ids=["one copy", "two copies", "broker's min.insync", "all three in sync", "acks=1", "not idempotent", "no topic", "no producer",
    "settings, not a producer", "three partitions", "unclean election", "one broker only"])
def test_exercise_11_1_rejects_what_loses_writes(cluster, capsys, topic, producer, words):
    from labkit.teach.checks import nb11 as check
    from tests.wrong_answers import assert_rejected

    name = f"labkit.test.durable.{uuid.uuid4().hex[:6]}"
    assert_rejected(capsys, check.durable(topic, producer, cluster.bootstrap, name), words, exercise="11.1")
    assert partition_table(cluster.bootstrap, [name]) == []


def test_exercise_11_1_says_how_to_start_brokers_that_are_not_running(capsys):
    from labkit.teach.checks import nb11 as check
    from labkit.teach.solutions import nb11 as solution
    from tests.wrong_answers import assert_rejected

    assert_rejected(capsys, check.durable(solution.durable_topic, solution.durable_producer, "localhost:1", "t"),
                    "no broker answers", "starts the three brokers", exercise="11.1", no_traceback=True)
