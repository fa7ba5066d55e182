"""The lab's topics, created explicitly (the broker has auto-create switched off)."""

from __future__ import annotations

from labkit.config import Settings

#: A topic for experiments (notebook 00's round trip), so they never mix with telemetry.
SCRATCH_TOPIC = "lab.scratch.v1"

# Seven days: long enough to replay a week of class, unlike the original's one hour.
RETENTION_MS = str(7 * 24 * 3600 * 1000)


def topic_plan(settings: Settings) -> dict[str, int]:
    """Topic name -> partition count. The telemetry topic is keyed by car and spread out;
    the side topics are small and ordered as a whole."""
    t = settings.topics
    return {t.telemetry: settings.telemetry_partitions, t.dlq: 1, t.anomaly: 1, t.metrics: 1}


def ensure_topics(settings: Settings, plan: dict[str, int] | None = None) -> list[str]:
    """Create the missing topics of `plan` (default: the lab's four); return the names
    created now. Safe to call again."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=10000)
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, partitions, 1, topic_configs={"retention.ms": RETENTION_MS})
            for name, partitions in (plan or topic_plan(settings)).items()
            if name not in existing
        ]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:  # created meanwhile by another process: fine
                pass
        return [t.name for t in missing]
    finally:
        admin.close()


def describe_topics(settings: Settings) -> dict[str, int]:
    """Topic name -> number of partitions, for the lab's topics that exist."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        return {
            name: len(consumer.partitions_for_topic(name) or ())
            for name in settings.topics.all()
            if consumer.partitions_for_topic(name)
        }
    finally:
        consumer.close()
