"""Checks for notebook 01's exercises (simulate)."""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import datetime, timezone

from labkit.config import Settings
from labkit.ops import clients, kafka_io
from labkit.process.validation import validate
from labkit.teach import exercises

SEND = "01.1 send and confirm"
COUNT = "01.2 read it all back"
FAULT = "01.3 negative speed fault"

HINTS = exercises.register_hints({
    SEND: "send() only queues a message; each future says how that one message ended: .get() returns "
          "its RecordMetadata (.partition, .offset) or raises the broker's refusal, a "
          "kafka.errors.KafkaError. Send all, then ask each future on its own",
    FAULT: "leave the event you are given as it was and change only the speed of a copy; a speed of "
           "0 has no negative by a sign change alone. json.dumps and str.encode make the bytes",
    COUNT: "without a group nothing decides what you read: you choose the partitions (assign) and where "
           "to start in each (seek), and you stop when your position reaches the end offset the consumer "
           "reports, not when you have counted that many messages",
})

#: 01.2 gives up on a student's loop after this long (reading a few thousand messages takes a second).
COUNT_DEADLINE_S = 30

#: 01.2's consumer, made so that reading "to the end" needs a loop that stops at the end offsets.
#: One poll() returns at most POLL_RECORDS messages (Kafka's default is 500), fewer than the
#: check's topic holds, so a single poll cannot read it all. And the broker holds each fetch for
#: FETCH_WAIT_MS, waiting for more bytes than a fetch ever carries (fetch_min_bytes): a loop that
#: stops at its first empty poll, with a timeout shorter than that (1 s, say), stops before the
#: end, as it would behind a slow network. (A loop with a longer timeout still passes: catching
#: it would make every answer wait that long.)
POLL_RECORDS = 5
FETCH_WAIT_MS = 2000
COUNT_CONSUMER = {"max_poll_records": POLL_RECORDS, "fetch_max_wait_ms": FETCH_WAIT_MS, "fetch_min_bytes": 1 << 30}

#: What 01.1 returns: one (partition, offset) or None per event, in the order of the events.
PLACES = exercises.list_of(exercises.optional(exercises.pair(exercises.INTEGER, exercises.INTEGER)),
                           "a list with one (partition, offset) pair (from a RecordMetadata) or None per event")
COUNTS = exercises.dict_of(exercises.INTEGER, exercises.INTEGER, "a dict {partition (int): number of messages (int)}")


#: The largest message the 01.1 topic accepts, and the event that goes over it.
LIMIT_BYTES = 1024


def too_big(event: dict) -> dict:
    """A copy of `event` with a camera frame attached: well over LIMIT_BYTES as JSON."""
    return dict(event, camera_frame="A" * 3 * LIMIT_BYTES)


class _Recording:
    """A producer that remembers the bytes of every value sent through it."""

    def __init__(self, producer):
        self._producer, self.values = producer, []

    def send(self, topic, value=None, *args, **kwargs):
        self.values.append(value if isinstance(value, bytes) else str(value).encode())
        return self._producer.send(topic, value, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._producer, name)


@exercises.graded(SEND)
def send_keyed(send, settings: Settings, topic: str, events: list[dict]) -> bool:
    """01.1: the events, with one the broker refuses put third, go to `topic` (which refuses
    messages over LIMIT_BYTES). Right: for every event, in order, the (partition, offset)
    that holds it, in its key's partition; None for the refused one, which must have been
    sent (a function that skips it by its size knows a limit only the broker should)."""
    _refuse_over(settings, topic, LIMIT_BYTES)
    sent = [*events[:2], too_big(events[2 % len(events)]), *events[2:]]
    # One message per request, no idempotence: the refusal then concerns that message alone.
    # (A batch over the limit is refused whole; the producer splits it and sends the parts
    # again, which would only delay the message's own refusal.)
    producer = _Recording(clients.kafka_producer(settings, enable_idempotence=False, batch_size=0, linger_ms=0))
    try:
        where = exercises.attempt(send, producer, topic, sent)
    finally:
        producer.close()
    if not exercises.expect_type(SEND, where, PLACES):
        return False
    if len(where) != len(sent):
        return exercises.wrong(SEND, f"you returned {len(where)} items for {len(sent)} events: one per event, "
                                     "None for an event the broker refused")
    if not any(b"camera_frame" in value for value in producer.values):
        return exercises.wrong(SEND, "your function never sent the event with the camera frame: the broker decides "
                                     "what it refuses (its limit is the topic's setting, not yours to know); send "
                                     "every event and read each one's future")
    partitions = len(kafka_io.end_offsets(settings, topic))
    answer, expected = [], []
    for event, place in zip(sent, where):
        if "camera_frame" in event:
            answer.append("refused" if place is None else f"stored at {place}")
            expected.append("refused")
            continue
        back, (partition, offset) = None, place or (-1, -1)
        if 0 <= partition < partitions and offset >= 0:  # anything else is not an address in this topic
            [back] = kafka_io.read_topic(settings, topic, max_messages=1, partitions=[partition],
                                         start_offsets={partition: offset}) or [None]
        answer.append({"partition": partition, "same event there": back is not None and _json(back.value) == event})
        expected.append({"partition": kafka_io.partition_for_key(event["car_id"].encode(), partitions),
                         "same event there": True})
    return exercises.check(SEND, answer, expected)


def _refuse_over(settings: Settings, topic: str, limit: int) -> None:
    """Set the topic's max.message.bytes: the broker refuses any larger message."""
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = clients.kafka_admin(settings)
    try:
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": str(limit)})],
                            raise_on_unknown=False)  # a topic setting no one changed yet is not "unknown"
    finally:
        admin.close()


def _json(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return None


@exercises.graded(FAULT)
def negative_speed(fault, example: dict) -> bool:
    """01.3: JSON bytes, speed < 0, every other field unchanged, and the event it is given left
    as it was (the function gets a copy of its own, compared afterwards); for the example and for the
    same event from a car standing still (speed 0), where `-speed` is -0.0: not below 0, and
    the validator would store it as a valid reading. The validator must reject each as
    range:speed (float("-inf") comes out as -Infinity, which is not JSON)."""
    cases = {"example": dict(example), "standing still": dict(example, speed=0.0)}
    answer, expected = {}, {}
    for name, event in cases.items():
        given = copy.deepcopy(event)  # the student's to read; `event` stays as it was, to compare
        produced = exercises.attempt(fault, given)
        if not exercises.expect_type(FAULT, produced, exercises.of_type(bytes, what="bytes (JSON text, encoded)"),
                                     case=f"for the {name} case"):
            return False
        changed = _what_changed(given, event)  # the caller's event is the simulator's too: it must stay as it was
        if changed:
            return exercises.wrong(FAULT, f"your function changed the event it was given ({changed}): build a new "
                                          'dict ({**event, "speed": ...}) so the caller\'s event stays as it was')
        try:
            back = json.loads(produced)
        except ValueError as exc:
            return exercises.wrong(FAULT, f"your bytes are not JSON ({type(exc).__name__}: {exc}): use json.dumps")
        if not isinstance(back, dict):
            return exercises.wrong(FAULT, f"your JSON holds a {type(back).__name__}; expected a JSON object (a dict)")
        speed = back.get("speed")
        negative = isinstance(speed, (int, float)) and not isinstance(speed, bool) and speed < 0
        answer[f"speed < 0 ({name})"] = negative
        answer[f"other fields unchanged ({name})"] = _others(back) == _others(event)
        # what the lesson is for: the validator rejects it for its range (-inf, as -Infinity, is not JSON at all)
        answer[f"validator: range:speed ({name})"] = validate(produced, datetime.now(timezone.utc)).reason == "range:speed"
        for row in ("speed < 0", "other fields unchanged", "validator: range:speed"):
            expected[f"{row} ({name})"] = True
    return exercises.check(FAULT, answer, expected)


def _others(event: dict) -> dict:
    return {k: v for k, v in event.items() if k != "speed"}


def _what_changed(now: dict, before: dict) -> str:
    """What changed in `now` since `before`, "" for nothing: "its speed is now -5.0", or the
    fields that changed when the speed did not."""
    try:
        if now == before:
            return ""
        if "speed" not in now:
            return "it has no speed any more"
        if now["speed"] != before.get("speed"):
            return f"its speed is now {now['speed']!r}"
        changed = sorted(str(k) for k in {*now, *before} if k not in now or k not in before or now[k] != before[k])
        return f"its {', '.join(changed)} changed"
    except Exception:  # noqa: BLE001  (something put in it that cannot be compared: it changed all the same)
        return "its fields changed"


#: 01.2's plain messages, by partition (partition 0 gets the transactions; 2 stays empty).
PLAIN_MESSAGES = {1: 4, 3: 2}


def _append_plain(settings: Settings, topic: str) -> None:
    """Append PLAIN_MESSAGES to the partitions `topic` has of them."""
    have = set(kafka_io.end_offsets(settings, topic))
    producer = clients.kafka_producer(settings)
    try:
        for partition, count in PLAIN_MESSAGES.items():
            for i in range(count if partition in have else 0):
                producer.send(topic, partition=partition, value=f'{{"check": "01.2", "n": {i}}}'.encode())
        producer.flush()
    finally:
        producer.close()


def _append_transactions(settings: Settings, topic: str, partition: int = 0) -> None:
    """Append to `partition` a committed transaction of two messages, an aborted one of two, and
    a committed one of two: each transaction's end takes an offset (a marker), and the aborted
    messages are in the log but never read, so neither the end offset nor the last message's
    offset + 1 is the number of messages."""
    import uuid

    producer = clients.kafka_producer(settings, transactional_id=f"{topic}.check-{uuid.uuid4().hex[:8]}")  # a sandbox name
    try:
        producer.init_transactions()
        for commit, count in ((True, 2), (False, 2), (True, 2)):
            producer.begin_transaction()
            for i in range(count):
                producer.send(topic, partition=partition, value=f'{{"check": "01.2", "n": {i}}}'.encode())
            producer.flush()
            producer.commit_transaction() if commit else producer.abort_transaction()
    finally:
        producer.close()


@exercises.graded(COUNT)
def count_per_partition(count, settings: Settings, topic: str) -> bool:
    """01.2: the messages a reader gets, per partition. The check first appends a few messages
    to partitions 1 and 3 (none to 2: an empty partition is read too), then a committed and an
    aborted transaction to partition 0, so end offsets (which count the markers and the aborted
    messages) are not the answer: the messages must be read and counted. The student's consumer
    is COUNT_CONSUMER (a loop must stop at the end offsets, not at one poll or an empty one).
    A partition counted 0 is the same as one left out, on either side."""
    if exercises.uses_the_lab_version(COUNT, count, {
            "read_topic": "the consumer you are given",
            "end_offsets": "the consumer you are given (consumer.end_offsets)",
            "partition_lag": "the consumer you are given"}):
        return False
    _append_plain(settings, topic)
    _append_transactions(settings, topic)
    answer, short = _count_with_a_consumer(settings, count, topic)
    if exercises.timed_out(answer):
        return exercises.wrong(COUNT, f"your function had not returned after {COUNT_DEADLINE_S} s. A loop that waits "
                                      "until it has read as many messages as the end offset says never ends here: "
                                      "transaction markers and aborted messages take offsets but are never "
                                      "delivered; and `for message in consumer:` waits for a next message forever. "
                                      "Poll with a timeout, and stop when every position reaches its end offset")
    if not exercises.expect_type(COUNT, answer, COUNTS):
        return False
    expected = {p: n for p, n in Counter(r.partition for r in kafka_io.read_topic(
        settings, topic, max_messages=1_000_000)).items() if n}
    # Zeros count as absent, but a key the student returned is never "missing": {0: 0} where
    # partition 0 holds messages is a wrong value for key 0.
    counted = {p: n for p, n in answer.items() if n or p in expected}
    if exercises.same(counted, expected):
        return exercises.check(COUNT, counted, expected)
    if short:
        return exercises.wrong(COUNT, f"you stopped before the end of partition{'s' if len(short) > 1 else ''} {short} "
                                      "(position below the end offset). One poll() returns at most "
                                      f"max_poll_records messages (this check's consumer: {POLL_RECORDS}), and an empty "
                                      "poll only means nothing arrived within your timeout (this check's broker "
                                      f"takes {FETCH_WAIT_MS / 1000:g} s to answer). Poll until every position reaches "
                                      "its end offset")
    if expected and not any(answer.values()):
        return exercises.wrong(COUNT, "you read nothing: a consumer without a group starts at the end of each "
                                      "partition (auto_offset_reset='latest') unless you seek to the beginning")
    return exercises.check(COUNT, counted, expected)


def _count_with_a_consumer(settings: Settings, count, topic: str) -> tuple:
    """`count(consumer, topic)` with a new COUNT_CONSUMER (within COUNT_DEADLINE_S), and the
    partitions it assigned whose position had not reached the end offset when it returned.
    The consumer is closed afterwards either way, so a loop still polling fails and ends."""
    ends = kafka_io.end_offsets(settings, topic)  # asked here: the student's consumer may be waiting on a fetch
    consumer = clients.kafka_consumer(settings, **COUNT_CONSUMER)
    try:
        answer = exercises.attempt_within(COUNT_DEADLINE_S, count, consumer, topic)
        return answer, ([] if exercises.timed_out(answer) else _short_of_the_end(consumer, ends))
    finally:
        consumer.close()


def _short_of_the_end(consumer, ends: dict[int, int]) -> list[int]:
    """The assigned partitions whose position is below their end offset; [] when that cannot be
    told (nothing assigned, the student closed the consumer): the counts are judged alone then."""
    try:
        short = []
        for tp in sorted(consumer.assignment()):
            position = consumer.position(tp, timeout_ms=5000)
            if position is not None and tp.partition in ends and position < ends[tp.partition]:
                short.append(tp.partition)
        return short
    except Exception:  # noqa: BLE001  (the student's consumer, in whatever state: no verdict from it)
        return []
