"""A class's verdicts, read back from Kafka: the shared progress topic and each student's own
(the record and its rules are labkit.contract.progress; the checks send them with
labkit.teach.gradebook)."""

from __future__ import annotations

from labkit.config import Settings
from labkit.contract.progress import PROGRESS_TOPIC, Verdict, parse, progress_topics, topic_student
from labkit.ops import clients, kafka_io


def read_verdicts(settings: Settings, timeout_s: float = 60.0) -> tuple[list[Verdict], int]:
    """Every verdict of the class, oldest first, and how many records were left out: those that
    are not verdicts, and those in a student's own topic that name another student. ValueError
    when the stack has no progress topic (no class records here)."""
    admin = clients.kafka_admin(settings)
    try:
        topics = progress_topics(admin.list_topics())
    finally:
        admin.close()
    if not topics:
        raise ValueError(f"{PROGRESS_TOPIC} does not exist on {settings.kafka_bootstrap_servers}: no class records "
                         "here yet (`python -m labkit class up` creates it)")
    by_topic: dict[str, list] = {}
    for record in kafka_io.read_topics(settings, topics, max_messages=10_000_000, timeout_s=timeout_s):
        by_topic.setdefault(record.topic, []).append(record.value)  # one partition each: in order
    verdicts, unreadable = [], 0
    for topic, values in by_topic.items():
        got, bad = parse(values, student=topic_student(topic))
        verdicts += got
        unreadable += bad
    # Each topic is in order; merged by time (a stable sort keeps a topic's order within a second).
    return sorted(verdicts, key=lambda v: v.at), unreadable
