"""Checks for notebook 03's exercises (groups and transactions).

Each check runs the student's code against the real broker and makes happen what its lesson
is about: messages already in the topic when the consumer joins (exercise 1), a rebalance
while polled records are not yet processed (exercise 2), a send that fails in the middle of a
transaction (exercise 3), a crash just before and just after a transaction commits (exercise 4)."""

from __future__ import annotations

import time
import uuid
from collections import Counter

from kafka import AsyncConsumerRebalanceListener, ConsumerRebalanceListener, KafkaConsumer, TopicPartition

from labkit.config import Settings
from labkit.ops import clients, kafka_io
from labkit.ops.infra.topics import ensure_topics
from labkit.teach import exercises

GROUP = "03.1 a group consumer"
REVOKE = "03.2 commit on revoke"
ALL_OR_NOTHING = "03.3 all or nothing"
COPY = "03.4 copy in a transaction"

HINTS = exercises.register_hints({
    GROUP: "KafkaConsumer(bootstrap_servers=..., group_id=group, ...) then consumer.subscribe([topic]); "
           "two settings matter: where a group with no committed offset starts (auto_offset_reset) "
           "and whether the consumer commits on a timer (enable_auto_commit)",
    REVOKE: "commit what was processed (self.done) on the revoked partitions, not the consumer's position. "
            "The API: commit_async takes a dict of TopicPartition to OffsetAndMetadata(offset, '', -1); "
            "in an async listener, await it",
    ALL_OR_NOTHING: "one transaction around every send of the call: begin it, send, commit it; when anything in "
                    "between raises, abort it instead and return False (try/except). The producer is registered "
                    "already: KafkaProducer methods starting begin_, commit_, abort_",
    COPY: "the copies and the group's progress become one unit: the consumer commits nothing, its offsets "
          "travel in the producer's transaction (transactional_id; KafkaProducer methods starting init_, begin_, "
          "send_offsets_, commit_; consumer.group_metadata())",
})

CONSUMER = exercises.of_type(KafkaConsumer, what="a KafkaConsumer (return the consumer, subscribed)")
LISTENER = exercises.of_type(AsyncConsumerRebalanceListener, ConsumerRebalanceListener,
                             what="a rebalance listener (your class, made with (consumer, done))")
COPIED = exercises.of_type(int, what="a whole number (how many records this run copied)")
PUBLISHED = exercises.of_type(bool, what="True (the transaction was committed) or False (it was aborted)")

#: More than one request may carry (the producer's max_request_size, 1 MB by default): send() refuses it.
TOO_BIG = b"x" * 1_100_000
#: A right answer publishes a few values in well under a second.
PUBLISH_DEADLINE_S = 30


def _new_group(group: str) -> str:
    """A new group per try: an earlier attempt's commits must not count."""
    return f"{group}.{uuid.uuid4().hex[:6]}"


def _records(settings: Settings, topic: str, isolation_level: str = "read_committed") -> list[tuple[bytes | None, bytes]]:
    """Every record of `topic` as (key, value), partition by partition."""
    consumer = clients.kafka_consumer(settings, isolation_level=isolation_level, consumer_timeout_ms=1500)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        values: list[tuple[bytes | None, bytes]] = []
        deadline = time.monotonic() + 20
        while any(consumer.position(tp) < ends[tp] for tp in partitions) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                values += [(r.key, r.value) for r in records]
        return values
    finally:
        consumer.close()


def _poll_together(consumers: list, until, timeout_s: float = 30.0) -> dict[int, list]:
    """Poll each consumer in turn (a group member must keep polling to take part in a
    rebalance) until `until(read)` is true or the time is up. read: member index -> records."""
    read: dict[int, list] = {i: [] for i in range(len(consumers))}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not until(read):
        for i, consumer in enumerate(consumers):
            for records in consumer.poll(timeout_ms=200).values():
                read[i] += records
    return read


def _subscription_problem(consumer: KafkaConsumer, topic: str) -> str | None:
    if not consumer.subscription():
        return ("your consumer is not subscribed to any topic: with assign() it picks its partitions "
                "itself and the group shares nothing out; call consumer.subscribe([topic])")
    if consumer.subscription() != {topic}:
        return f"your consumer is subscribed to {sorted(consumer.subscription())}, expected [{topic!r}]"
    if consumer.config.get("enable_auto_commit"):
        return ("your consumer commits on a timer (enable_auto_commit is True by default): it would commit "
                "records it has polled but not yet stored; set enable_auto_commit=False")
    return None


@exercises.graded(GROUP)
def group_consumer(factory, settings: Settings, topic: str, group: str) -> bool:
    """Exercise 1: one member of a new group reads every message already in the topic (a
    consumer left at the default auto_offset_reset="latest" reads none); two members of a
    new group share the partitions out, each its own."""
    if exercises.uses_the_lab_version(GROUP, factory, {
            "kafka_consumer": "KafkaConsumer(...) itself",
            "member": "KafkaConsumer(...) itself"}):
        return False
    expected = len(_records(settings, topic))
    partitions = sorted(kafka_io.end_offsets(settings, topic))
    one = exercises.attempt(factory, settings, topic, _new_group(group))
    if not exercises.expect_type(GROUP, one, CONSUMER):
        return False
    try:
        problem = _subscription_problem(one, topic)
        if problem:
            return exercises.wrong(GROUP, problem)
        alone = _poll_together([one], lambda read: len(read[0]) >= expected, timeout_s=15)[0]
    finally:
        one.close(autocommit=False)
    if not alone:
        return exercises.wrong(GROUP, f"your consumer read 0 of the {expected} messages in the topic: a group with no "
                                      "committed offset starts where auto_offset_reset says, and the default is 'latest'")
    shared = _new_group(group)
    members = [exercises.attempt(factory, settings, topic, shared) for _ in range(2)]
    try:
        for member in members:
            if not exercises.expect_type(GROUP, member, CONSUMER, case="as the second member"):
                return False
        _poll_together(members, lambda read: all(m.assignment() for m in members), timeout_s=30)
        held = [sorted(tp.partition for tp in m.assignment()) for m in members]
    finally:
        for member in members:
            member.close(autocommit=False)
    answer = {"messages one member read": len(alone), "members holding partitions": sum(1 for h in held if h),
              "partitions held by both members": len(set(held[0]) & set(held[1])),
              "partitions held by one or the other": sorted(set(held[0]) | set(held[1]))}
    expected_answer = {"messages one member read": expected, "members holding partitions": 2,
                       "partitions held by both members": 0, "partitions held by one or the other": partitions}
    return exercises.check(GROUP, answer, expected_answer)


class _Recorded(AsyncConsumerRebalanceListener):
    """Calls the student's listener (async or not) through `exercises.attempt_async` and keeps
    the outcome: kafka-python would log an error raised in a listener and go on, and the check
    would never know."""

    def __init__(self, listener):
        self.listener, self.outcomes = listener, []

    async def on_partitions_revoked(self, revoked):
        self.outcomes.append(("revoked", await exercises.attempt_async(self.listener.on_partitions_revoked, revoked)))

    async def on_partitions_assigned(self, assigned):
        self.outcomes.append(("assigned", await exercises.attempt_async(self.listener.on_partitions_assigned, assigned)))

    def judged(self) -> list:
        """The outcomes to judge. Left out: a revoke whose commit kafka-python refused because it
        called the listener again, in a rebalance it retried (seen on a busy machine), after a
        first call had returned: the first call's commit stands, and the offsets are judged."""
        from kafka.errors import CommitFailedError, RebalanceInProgressError

        judged, revoked_once = [], False
        for name, outcome in self.outcomes:
            refused = isinstance(getattr(outcome, "exc", None), (RebalanceInProgressError, CommitFailedError))
            if name == "revoked" and refused and revoked_once:
                continue
            revoked_once = revoked_once or (name == "revoked" and not hasattr(outcome, "exc"))
            judged.append(outcome)
        return judged


@exercises.graded(REVOKE)
def commit_on_revoke(listener_class, settings: Settings, topic: str, group: str) -> bool:
    """Exercise 2: member A polls the topic and processes only the first half of what it
    polled on each partition (`done`); then member B joins. The rebalance takes A's
    partitions away, and A's listener must commit exactly `done`: nothing (B reads A's work
    again), or A's position (the polled but unprocessed records are lost) is wrong."""
    group = _new_group(group)
    first = clients.kafka_consumer(settings, group_id=group, auto_offset_reset="earliest")
    done: dict = {}
    try:
        listener = exercises.attempt(listener_class, first, done)
        if not exercises.expect_type(REVOKE, listener, LISTENER):
            return False
        recorded = _Recorded(listener)
        first.subscribe([topic], listener=recorded)
        polled = _poll_together([first], lambda read: len(read[0]) >= 20, timeout_s=15)[0]
        by_partition: dict[TopicPartition, list] = {}
        for record in polled:
            by_partition.setdefault(TopicPartition(record.topic, record.partition), []).append(record)
        for tp, records in by_partition.items():  # processed: the first half of each partition's records
            done[tp] = records[len(records) // 2].offset
        second = clients.kafka_consumer(settings, group_id=group, auto_offset_reset="earliest")
        try:
            second.subscribe([topic])
            _poll_together([first, second], lambda read: bool(second.assignment()), timeout_s=30)
        finally:
            second.close(autocommit=False)
    finally:
        first.close(autocommit=False)
    for outcome in recorded.judged():  # untouched stub: ⏳; an error in the listener: theirs, with its line
        if not exercises.expect_type(REVOKE, outcome, exercises.ANYTHING):
            return False
    committed = kafka_io.committed_offsets(settings, group, topic)
    answer = {f"committed offset of partition {tp.partition}": committed.get(tp.partition) for tp in sorted(done)}
    expected = {f"committed offset of partition {tp.partition}": offset for tp, offset in sorted(done.items())}
    return exercises.check(REVOKE, answer, expected)


class SimulatedCrash(BaseException):
    """The process was killed (a BaseException: `except Exception` does not catch it, as no
    code survives a kill -9)."""


class _CrashAtCommit:
    """A transactional producer whose first commit_transaction() kills the process: "before"
    the commit reaches the broker, or "after" it went through."""

    def __init__(self, producer, when: str):
        self._producer, self._when, self.crashed = producer, when, False

    def commit_transaction(self, *args, **kwargs):
        if not self.crashed:
            self.crashed = True
            if self._when == "after":
                self._producer.commit_transaction(*args, **kwargs)
            raise SimulatedCrash(f"killed {self._when} commit_transaction()")
        return self._producer.commit_transaction(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._producer, name)


@exercises.graded(ALL_OR_NOTHING)
def all_or_nothing(publish, settings: Settings, topic: str) -> bool:
    """Exercise 3: `publish(producer, topic, values)` called three times with one registered
    transactional producer, on a new topic named after `topic`: good values (True, and a
    read_committed reader sees them), four values of which the third is too big to send
    (False, and the reader sees none of the four, not even the two sent before it), good
    values again (True: the failure left the producer ready). A commit after the failure,
    a transaction per value and a transaction left open each fail it."""
    target = f"{topic}.all-or-nothing-{uuid.uuid4().hex[:6]}"
    ensure_topics(settings, {target: 1})
    calls = {"good values": [b"a0", b"a1", b"a2"], "the third value too big to send": [b"b0", b"b1", TOO_BIG, b"b3"],
             "good values again": [b"c0", b"c1"]}
    producer = clients.kafka_producer(settings, transactional_id=f"{target}.tx")
    returned = {}
    try:
        producer.init_transactions()
        for case, values in calls.items():
            answer = exercises.attempt_within(PUBLISH_DEADLINE_S, publish, producer, target, list(values))
            if exercises.timed_out(answer):
                return exercises.wrong(ALL_OR_NOTHING, f"your function had not returned after {PUBLISH_DEADLINE_S} s "
                                                       f"on the call with {case}")
            if not exercises.expect_type(ALL_OR_NOTHING, answer, PUBLISHED, case=f"on the call with {case}"):
                return False
            returned[case] = answer
            if case.startswith("the third") and _left_open(producer):
                return exercises.wrong(ALL_OR_NOTHING, "after the failed send the transaction was still open, so the "
                                                       "producer cannot begin the next one: abort_transaction() "
                                                       "before returning False")
    finally:
        producer.close(timeout=2)
    seen = [value for _, value in _records(settings, target)]
    if b"b0" in seen or b"b1" in seen:
        return exercises.wrong(ALL_OR_NOTHING, "the values sent before the one that failed became visible to a "
                                               "read_committed reader: one transaction for the whole call, and "
                                               "abort it (never commit) when a send fails")
    return exercises.check(ALL_OR_NOTHING, {"returned": returned, "a read_committed reader sees": seen},
                           {"returned": {case: not case.startswith("the third") for case in calls},
                            "a read_committed reader sees": [b"a0", b"a1", b"a2", b"c0", b"c1"]})


def _left_open(producer) -> bool:
    """Is a transaction still open on `producer`? Beginning one then fails; if it does not,
    the empty transaction begun here is aborted again at once."""
    try:
        producer.begin_transaction()
    except Exception:  # kafka-python: "Invalid transition attempted from state IN_TRANSACTION ..."
        return True
    producer.abort_transaction()
    return False


#: A right copy of the check's few dozen messages returns in seconds.
COPY_DEADLINE_S = 45


def _copy_run(copy, settings: Settings, source: str, target: str, group: str, transactional_id: str, producer_wrap=None):
    consumer = clients.kafka_consumer(settings, group_id=group, auto_offset_reset="earliest", max_poll_records=10)
    producer = clients.kafka_producer(settings, transactional_id=transactional_id)
    consumer.subscribe([source])
    try:
        return exercises.attempt_within(COPY_DEADLINE_S, copy, consumer,
                                        producer_wrap(producer) if producer_wrap else producer, target)
    finally:
        consumer.close(autocommit=False)  # a loop still polling fails now, and its thread ends
        producer.close(timeout=2)


def copy_with_crash(copy, settings: Settings, source: str, when: str) -> dict:
    """Run `copy` (consumer, producer, target) until a crash at its first commit, then again
    (a restart: the same group and transactional id), and read the target both ways. Used by
    the check and by the notebook's experiment. `first run` is what the first run returned,
    or None when it crashed; the restart happens only after a crash."""
    run = uuid.uuid4().hex[:6]
    target, group = f"{source}.copy-{when}-{run}", f"{source}.copier-{run}"
    ensure_topics(settings, {target: 1})
    crashes: list[_CrashAtCommit] = []

    def crashing(producer):
        crashes.append(_CrashAtCommit(producer, when))
        return crashes[-1]

    try:
        first = _copy_run(copy, settings, source, target, group, group, crashing)
    except SimulatedCrash:
        first = None
    restart = _copy_run(copy, settings, source, target, group, group) if first is None else None
    return {"target": target, "first run": first, "restart": restart,
            "crash caught": first is not None and any(c.crashed for c in crashes),
            "read_committed": _records(settings, target),
            "read_uncommitted": _records(settings, target, isolation_level="read_uncommitted"),
            "end offset": kafka_io.end_offsets(settings, target)[0]}


@exercises.graded(COPY)
def copy_exactly_once(copy, settings: Settings, source: str) -> bool:
    """Exercise 4: after a crash just before a commit and, separately, just after one, a
    read_committed reader sees each source message in the target exactly once. Committing
    the offsets with the consumer instead of inside the transaction loses messages (crash
    before: offsets committed, copies aborted) or copies them twice (crash after)."""
    want = Counter(_records(settings, source))
    answer = {}
    for when in ("before", "after"):
        result = copy_with_crash(copy, settings, source, when)
        if any(exercises.timed_out(result[run]) for run in ("first run", "restart")):
            return exercises.wrong(COPY, f"your function had not returned after {COPY_DEADLINE_S} s. `for record "
                                         "in consumer:` waits for new messages forever; poll() with a timeout and "
                                         "stop when a poll comes back empty")
        if result["crash caught"]:
            return exercises.wrong(COPY, "your code caught the crash the check simulates at commit_transaction() (an "
                                         "`except:` or `except BaseException:` around it) and went on: a real crash "
                                         "cannot be caught. Catch only errors you can handle (kafka.errors.KafkaError)")
        if result["first run"] is not None:  # it returned (or raised): it never reached commit_transaction()
            if not exercises.expect_type(COPY, result["first run"], COPIED, case="first run"):
                return False
            return exercises.wrong(COPY, "your function returned without calling commit_transaction(): nothing it "
                                         "sent is committed, so a read_committed reader sees none of it")
        if not exercises.expect_type(COPY, result["restart"], COPIED, case=f"restart after a crash {when} the commit"):
            return False
        got = Counter(result["read_committed"])
        if got != want and Counter(v for _, v in got.elements()) == Counter(v for _, v in want.elements()):
            return exercises.wrong(COPY, "each value was copied once, but not with its key: send every record with "
                                         "key=record.key (the key chooses the partition, and readers rely on it)")
        answer[f"missing (crash {when} commit)"] = sum((want - got).values())
        answer[f"duplicated (crash {when} commit)"] = sum((got - want).values())
    return exercises.check(COPY, answer, {k: 0 for k in answer})
