"""Checks for notebook 00's exercises (start here)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from labkit.config import Settings
from labkit.ops import clients
from labkit.ops.kafka_io import Record
from labkit.teach import exercises
from labkit.teach.checks.reading import with_consumer

PARTITIONS = "00.1 partitions"
READ_AT = "00.2 read one message by its address"
TIME_RANGE = "00.3 a time range in MongoDB"

HINTS = exercises.register_hints({
    PARTITIONS: "a KafkaConsumer made with bootstrap_servers=settings.kafka_bootstrap_servers (and "
                "**settings.kafka_auth, the sign-in of a class's broker) can list a topic's partitions; "
                "close it when done",
    READ_AT: "no group: you point the consumer yourself with assign() and seek(), then poll() until "
             "that TopicPartition's list of records is not empty; a record's .value is its bytes",
    TIME_RANGE: "let the server count: count_documents with a filter on timestamp, $gte the start and $lt "
                "the end. Give it the datetimes as they are: pymongo turns an aware datetime into a BSON date",
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
    neither the partition's first message nor its last, whatever ran before. They are sent
    in two transactions, the first holding one message: its commit marker takes an offset of
    its own, so from the middle message on, an offset is not a position in the list of the
    partition's messages (a reader that reads them all and indexes the list is found out)."""
    run = uuid.uuid4().hex[:8]
    producer = clients.kafka_producer(settings, transactional_id=f"{topic}.check-{run}")
    try:
        producer.init_transactions()
        sent = []
        for batch in ((0,), (1, 2)):
            producer.begin_transaction()
            sent += [(i, producer.send(topic, partition=partition, value=f"read_at {run} #{i}".encode())) for i in batch]
            producer.commit_transaction()
        return [(f.get(timeout=15).offset, f"read_at {run} #{i}".encode()) for i, f in sent]
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


# ------------------------------------------------------------------ 00.3: a time range in MongoDB

#: The range the check asks for, as a student in Berlin in winter would write it (UTC+01:00):
#: 09:00 to 09:30 there is 08:00 to 08:30 UTC.
BERLIN_WINTER = timezone(timedelta(hours=1), "UTC+01:00")
RANGE_START = datetime(2026, 2, 25, 9, 0, tzinfo=BERLIN_WINTER)
RANGE_END = datetime(2026, 2, 25, 9, 30, tzinfo=BERLIN_WINTER)
TIMES_COLLECTION = "check00_times"
LATER = timedelta(hours=1)  # the check's second range, an hour after the first


def _utc(hour: int, minute: int, ms: int = 0) -> datetime:
    return datetime(2026, 2, 25, hour, minute, tzinfo=timezone.utc) + timedelta(milliseconds=ms)


#: The check's documents: readings inside the range (its first and last millisecond among
#: them), just outside it on both sides, an hour later (where a range read as UTC wall clock
#: lands), and one whose timestamp was stored as text, which no date range matches.
TIMES = [_utc(7, 30), _utc(7, 59, 59_999), _utc(8, 0), _utc(8, 0), _utc(8, 5), _utc(8, 10), _utc(8, 20),
         _utc(8, 29, 59_999), _utc(8, 30), _utc(9, 5), _utc(9, 10)]
AS_TEXT = "2026-02-25T09:15:00+01:00"  # 08:15 UTC, inside the range, but a string


def time_range_mistakes() -> dict[int, str]:
    """{the count a mistaken query gives on TIMES and AS_TEXT: what the mistake is}; a count
    two mistakes (or the right answer) share is left out."""
    lo, hi = RANGE_START.astimezone(timezone.utc), RANGE_END.astimezone(timezone.utc)
    shift = timedelta(hours=1)
    readings = {
        "the end included ($lte): a range includes its start and excludes its end ($lt)":
            sum(lo <= t <= hi for t in TIMES),
        "the start left out ($gt): a range includes its start ($gte)": sum(lo < t < hi for t in TIMES),
        "the start left out and the end included ($gt and $lte)": sum(lo < t <= hi for t in TIMES),
        "only the end applied ($lt alone): a dict that names timestamp twice keeps only the last; put both "
        "operators in one dict, {\"$gte\": start, \"$lt\": end}": sum(t < hi for t in TIMES),
        "only the start applied ($gte alone): a dict that names timestamp twice keeps only the last; put both "
        "operators in one dict, {\"$gte\": start, \"$lt\": end}": sum(lo <= t for t in TIMES),
        "the range 1 h off: its wall-clock time was read as UTC (a datetime without its zone is taken as UTC "
        "by pymongo). Pass the aware datetimes as they are": sum(lo + shift <= t < hi + shift for t in TIMES),
        "bounds given as text: a BSON date only matches a date, so only the document whose timestamp was "
        "stored as text matched. Pass the datetimes themselves": 1,
        "no range at all: filter on timestamp": len(TIMES) + 1,
        "nothing matched: bounds that are not dates (text, or epoch numbers) match no BSON date. Pass the "
        "datetimes themselves": 0,
    }
    right = sum(lo <= t < hi for t in TIMES)
    counts = list(readings.values()) + [right]
    return {count: why for why, count in readings.items() if counts.count(count) == 1}


@exercises.graded(TIME_RANGE)
def count_between(func, settings: Settings) -> bool:
    """00.3: `func(collection, start, end)` counts the documents with start <= timestamp < end,
    on a scratch collection of the check's own (TIMES and AS_TEXT), for a range given in
    UTC+01:00; each classic mistake gives a count of its own, and is named."""
    from labkit.ops import sandbox

    client = clients.mongo_client(settings)
    try:
        collection = client[sandbox.database_prefix(settings, "00") + "scratch"][TIMES_COLLECTION]
        collection.drop()
        collection.insert_many([{"_id": f"date-{i}", "timestamp": t} for i, t in enumerate(TIMES)]
                               + [{"_id": "text", "timestamp": AS_TEXT}])
        answer = exercises.attempt(func, collection, RANGE_START, RANGE_END)
        # The hour after, as well: a count typed in from the first answer does not fit it.
        later = exercises.attempt(func, collection, RANGE_START + LATER, RANGE_END + LATER)
    finally:
        client.close()
    count = exercises.of_type(int, what="a whole number (a count)")
    if not exercises.expect_type(TIME_RANGE, answer, count):
        return False
    expected = sum(RANGE_START <= t < RANGE_END for t in TIMES)
    mistake = time_range_mistakes().get(answer) if answer != expected else None
    if mistake:
        return exercises.wrong(TIME_RANGE, f"your count is {answer}, what you get from {mistake}")
    if not exercises.expect_type(TIME_RANGE, later, count, case="for the hour after"):
        return False
    return exercises.check(TIME_RANGE, {"09:00 to 09:30": answer, "10:00 to 10:30": later},
                           {"09:00 to 09:30": expected,
                            "10:00 to 10:30": sum(RANGE_START + LATER <= t < RANGE_END + LATER for t in TIMES)})
