"""Checks for notebook 00's exercises (start here)."""

from __future__ import annotations

import uuid

from labkit.config import Settings
from labkit.ops import clients
from labkit.ops.kafka_io import Record
from labkit.teach import exercises
from labkit.teach.checks.reading import with_consumer

PARTITIONS = "00.1 partitions"
READ_AT = "00.2 read one message by its address"

HINTS = exercises.register_hints({
    PARTITIONS: "a KafkaConsumer made with bootstrap_servers=settings.kafka_bootstrap_servers (and "
                "**settings.kafka_auth, the sign-in of a class's broker) can list a topic's partitions; "
                "close it when done",
    READ_AT: "no group: you point the consumer yourself with assign() and seek(), then poll() until "
             "that TopicPartition's list of records is not empty; a record's .value is its bytes",
})


VALUE = exercises.of_type(bytes, what="bytes (the record's .value)")
COUNT = exercises.of_type(int, what="a whole number (the number of partitions)")

#: The partitions of the check's own topic: not the telemetry topic's 4, so a number typed
#: in from the table above (instead of asked of Kafka) is found out.
OTHER_PARTITIONS = 3


@exercises.graded(PARTITIONS)
def partition_count(func, settings: Settings) -> bool:
    """00.1: the telemetry topic's partitions, and those of a topic of the check's own with
    another count (the student's function is called with settings naming it telemetry)."""
    if exercises.uses_the_lab_version(PARTITIONS, func, {
            "describe_topics": "a KafkaConsumer of your own",
            "end_offsets": "a KafkaConsumer of your own"}):
        return False
    import dataclasses

    from labkit.ops import sandbox
    from labkit.ops.infra.topics import describe_topics, ensure_topics

    other = sandbox.kafka_prefix(settings, "00") + "check-partitions"  # in the student's corner
    ensure_topics(settings, {other: OTHER_PARTITIONS})
    renamed = settings.replace(topics=dataclasses.replace(settings.topics, telemetry=other))
    answers = {}
    for name, case in (("the telemetry topic", settings), (f"a topic with {OTHER_PARTITIONS} partitions", renamed)):
        answer = exercises.attempt(func, case)
        if not exercises.expect_type(PARTITIONS, answer, COUNT, case=f"for {name}"):
            return False
        answers[name] = answer
    expected = {"the telemetry topic": describe_topics(settings)[settings.topics.telemetry],
                f"a topic with {OTHER_PARTITIONS} partitions": OTHER_PARTITIONS}
    return exercises.check(PARTITIONS, answers, expected)


def _three_in_a_row(settings: Settings, topic: str, partition: int) -> list[tuple[int, bytes]]:
    """Append three messages to one partition; their (offset, value). The middle one is
    neither the partition's first message nor its last, whatever ran before."""
    run = uuid.uuid4().hex[:8]
    producer = clients.kafka_producer(settings)
    try:
        sent = [producer.send(topic, partition=partition, value=f"read_at {run} #{i}".encode()) for i in range(3)]
        return [(f.get(timeout=15).offset, f"read_at {run} #{i}".encode()) for i, f in enumerate(sent)]
    finally:
        producer.close()


#: A right answer returns in well under a second; a loop that never gets a record waits forever.
READ_AT_DEADLINE_S = 20


@exercises.graded(READ_AT)
def read_at(func, settings: Settings, record: Record) -> bool:
    """00.2: the bytes at an address, for the message read back above and for a message in
    the middle of three the check appends to the same partition. On a fresh topic the
    record above may be its partition's first message, so seek_to_beginning() or "the first
    record of the poll" would pass it; they fail the middle one (and "the last record of the
    poll" fails it too). The three are appended only once the function answered the first
    address: an untouched stub leaves the topic as it was."""
    answers = {}
    first = f"offset {record.offset}"
    if not _read_one(func, settings, record, record.offset, first, answers):
        return False  # reported: not attempted yet, too slow, or not bytes
    middle_offset, middle_value = _three_in_a_row(settings, record.topic, record.partition)[1]
    middle = f"offset {middle_offset}, between two newer messages"
    if not _read_one(func, settings, record, middle_offset, middle, answers):
        return False
    return exercises.check(READ_AT, answers, {first: record.value, middle: middle_value})


def _read_one(func, settings: Settings, record: Record, offset: int, name: str, answers: dict) -> bool:
    """Call the student's function for one address; its answer goes to `answers[name]`.
    False when the answer was already reported (the stub, a timeout, a wrong type)."""
    answer = with_consumer(settings, READ_AT_DEADLINE_S, func, record.topic, record.partition, offset)
    if exercises.timed_out(answer):
        return exercises.wrong(READ_AT, f"your function had not returned after {READ_AT_DEADLINE_S} s at {name}. "
                                        "A consumer that is not moved (seek) starts where auto_offset_reset "
                                        "says, at the end by default, and waits for new messages: assign the "
                                        "partition, seek to the offset, poll with a timeout")
    if not exercises.expect_type(READ_AT, answer, VALUE, case=f"at {name}"):
        return False
    answers[name] = answer
    return True
