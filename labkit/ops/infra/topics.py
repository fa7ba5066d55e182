"""The lab's topics, created explicitly (the broker has auto-create switched off)."""

from __future__ import annotations

import time

from labkit.config import Settings
from labkit.ops import clients

#: A topic for experiments (notebook 00's round trip), so they never mix with telemetry.
SCRATCH_TOPIC = "lab.scratch.v1"


def scratch_topic(settings: Settings) -> str:
    """The scratch topic of these settings: `lab.scratch.v1`, or `ann.lab.scratch.v1` in
    student ann's corner of a shared stack (labkit.ops.sandbox)."""
    return f"{settings.student}.{SCRATCH_TOPIC}" if settings.student else SCRATCH_TOPIC

# Seven days: long enough to replay a week of class, unlike the original's one hour.
RETENTION_MS = str(7 * 24 * 3600 * 1000)


def topic_plan(settings: Settings) -> dict[str, int]:
    """Topic name -> partition count. The telemetry topic is keyed by car and spread out;
    the side topics are small and ordered as a whole."""
    t = settings.topics
    return {t.telemetry: settings.telemetry_partitions, t.dlq: 1, t.anomaly: 1, t.metrics: 1}


def replication_for(brokers: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) for a cluster of `brokers`: one copy on one
    broker; three copies, two of which must confirm a write, once there are three or more.
    With two in sync required, a write sent with acks=all survives the loss of any one broker."""
    replicas = min(brokers, 3)
    return replicas, (2 if replicas >= 3 else 1)


def ensure_topics(settings: Settings, plan: dict[str, int] | None = None,
                  bootstrap: str | None = None, attempts: int = 5, configs: dict[str, str] | None = None) -> list[str]:
    """Create the missing topics of `plan` (default: the lab's four) on the cluster at
    `bootstrap` (default: the settings'), replicated as `replication_for` its size says;
    return the names created now. Safe to call again. `configs` adds to (or overrides) the
    topic configs of a new topic (seven days' retention, min.insync.replicas).

    A transient error (labkit.ops.transient) is tried again with a new admin client, up to
    `attempts` times: a cluster that just started can name a controller that the client's
    first metadata does not list yet (UnknownBrokerIdError)."""
    from labkit.ops.transient import is_transient

    plan = plan or topic_plan(settings)
    for attempt in range(1, attempts):
        try:
            return _create_missing(settings, plan, bootstrap, configs or {})
        except Exception as exc:
            if not is_transient(exc):
                raise
            time.sleep(0.5 * attempt)
    return _create_missing(settings, plan, bootstrap, configs or {})  # the last try: its error goes to the caller


def _create_missing(settings: Settings, plan: dict[str, int], bootstrap: str | None,
                    extra_configs: dict[str, str]) -> list[str]:
    from kafka.errors import TopicAlreadyExistsError

    admin = clients.kafka_admin(settings, bootstrap)
    try:
        existing = set(admin.list_topics())
        replicas, min_isr = replication_for(len(admin.describe_cluster()["brokers"]))
        configs = {"retention.ms": RETENTION_MS, "min.insync.replicas": str(min_isr), **extra_configs}
        # kafka-python 3 takes {name: options} (its NewTopic class is deprecated)
        missing = {name: {"num_partitions": partitions, "replication_factor": replicas, "configs": configs}
                   for name, partitions in plan.items() if name not in existing}
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:  # created meanwhile by another process: fine
                pass
            _wait_for_leaders(admin, list(missing))
        return list(missing)
    finally:
        admin.close()


def _wait_for_leaders(admin, names: list[str], timeout_s: float = 15.0) -> None:
    """Return once every partition of `names` has a leader: a topic is announced before its
    partitions are, and a producer that comes too soon would wait on metadata instead."""
    from labkit.ops.waiting import wait_until

    def led() -> bool:
        described = admin.describe_topics(names)
        return len(described) == len(names) and all(
            t["error_code"] == 0 and t["partitions"] and all(p["leader_id"] >= 0 for p in t["partitions"])
            for t in described)

    wait_until(led, timeout_s, what=f"leaders for the partitions of {names}")


def partition_table(bootstrap: str, topics: list[str], timeout_ms: int = 5000) -> list[dict]:
    """One row per partition of `topics`: `{topic, partition, leader, replicas, isr}` as the
    cluster's metadata says now (leader -1: none elected, the partition cannot be written).
    A request unanswered after `timeout_ms` raises."""
    admin = clients.kafka_admin(bootstrap=bootstrap, request_timeout_ms=timeout_ms)  # whatever the settings say
    try:
        rows = [
            {"topic": t["name"], "partition": p["partition_index"], "leader": p["leader_id"],
             "replicas": list(p["replica_nodes"]), "isr": sorted(p["isr_nodes"])}
            for t in admin.describe_topics(topics) if t["error_code"] == 0
            for p in t["partitions"]
        ]
    finally:
        admin.close()
    return sorted(rows, key=lambda r: (r["topic"], r["partition"]))


def describe_topics(settings: Settings) -> dict[str, int]:
    """Topic name -> number of partitions, for the lab's topics that exist."""
    consumer = clients.kafka_consumer(settings)
    try:
        return {
            name: len(consumer.partitions_for_topic(name) or ())
            for name in settings.topics.all()
            if consumer.partitions_for_topic(name)
        }
    finally:
        consumer.close()
