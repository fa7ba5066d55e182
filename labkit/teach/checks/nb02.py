"""Checks for notebook 02's exercises (consume and validate)."""

from __future__ import annotations

import json
from datetime import datetime

from labkit.config import Settings
from labkit.ops import clients, kafka_io
from labkit.process.validation import validate
from labkit.teach import exercises

CITY = "02.1 city speed rule"
STORE = "02.2 idempotent store"
LOOP = "02.3 commit after the write"

HINTS = exercises.register_hints({
    CITY: "build on validate(raw, now): only a verdict that is already ok can break the new rule, and "
          "then you return Verdict(False, 'range:speed', ...). 'Faster than 200' means 200 itself passes.",
    STORE: "catch pymongo.errors.BulkWriteError; exc.details['writeErrors'] lists the refused "
           "documents (code 11000 = duplicate key), and the rest were inserted",
    LOOP: "a commit says 'done up to here', and done means stored: ask what a crash right after each "
          "step would lose, and order the steps so it loses nothing (consumer.poll, your store_events, "
          "consumer.commit). Stop when a poll brings nothing",
})

#: What validate returns: anything with .ok and .reason (a Verdict).
VERDICT = exercises.Kind("a Verdict (what validate returns, or Verdict(False, 'range:speed', ...))",
                         lambda x: hasattr(x, "ok") and hasattr(x, "reason"))
STORED = exercises.of_type(int, what="a whole number (how many documents were newly stored)")


def _distinct_valid(raws: list[bytes], now: datetime) -> int:
    return len({v.event["event_id"] for v in (validate(raw, now) for raw in raws) if v.ok})


@exercises.graded(CITY)
def city_rule(rule, good: dict, now: datetime) -> bool:
    """02.1: slow and exactly-200 events pass (ok, no reason, the event kept as validate parsed
    it), 230 km/h is rejected as range:speed, garbage keeps its reason."""
    cases = {"59 km/h": (json.dumps(good).encode(), None),
             "exactly 200 km/h": (json.dumps(dict(good, speed=200.0)).encode(), None),
             "230 km/h": (json.dumps(dict(good, speed=230.0)).encode(), "range:speed"),
             "binary garbage": (b"\xff", "not_json")}
    answers, expected = {}, {}
    for name, (raw, reason) in cases.items():
        verdict = exercises.attempt(rule, raw, now)
        if not exercises.expect_type(CITY, verdict, VERDICT, case=f"for {name}"):
            return False
        answers[f"{name}: reason"], expected[f"{name}: reason"] = verdict.reason, reason
        answers[f"{name}: ok"], expected[f"{name}: ok"] = verdict.ok, reason is None
        if reason is None:  # the processor stores the verdict's event: a rule must pass it on
            answers[f"{name}: event kept"] = getattr(verdict, "event", None) == validate(raw, now).event
            expected[f"{name}: event kept"] = True
    return exercises.check(CITY, answers, expected)


@exercises.graded(STORE)
def idempotent_store(store, collection, raws: list[bytes], now: datetime) -> bool:
    """02.2: the first half of the messages, then all of them with some repeated: the second
    batch mixes events already stored, new events and repeats inside the batch, as a
    redelivery after a crash does. Each call must return how many documents it newly stored;
    `except BulkWriteError: return 0` stores the new ones but counts none of them."""
    if exercises.uses_the_lab_version(STORE, store, {
            "insert_idempotent": "collection.insert_many",
            "insert_events": "collection.insert_many",
            "write_events": "collection.insert_many"}):
        return False
    collection.drop()
    half = raws[: len(raws) // 2]
    mixed = raws + half[:5]
    first = exercises.attempt(store, collection, half, now)
    if not exercises.expect_type(STORE, first, STORED, case="first call, the first half"):
        return False
    second = exercises.attempt(store, collection, mixed, now)
    if not exercises.expect_type(STORE, second, STORED, case="second call: stored, new and repeated events"):
        return False
    stored_first, everything = _distinct_valid(half, now), _distinct_valid(raws, now)
    answer = {"first call returned": first, "second call returned": second,
              "documents in the collection": collection.count_documents({})}
    expected = {"first call returned": stored_first, "second call returned": everything - stored_first,
                "documents in the collection": everything}
    return exercises.check(STORE, answer, expected)


class SimulatedCrash(BaseException):
    """The process was killed (a BaseException, like KeyboardInterrupt: `except Exception` in
    the student's loop does not catch it, as no code survives a kill -9)."""


class _CrashOnFirstWrite:
    """A collection whose first write kills the process: `during` it (nothing is written) or
    just `after` it (written, not yet committed)."""

    WRITES = {"insert_many", "insert_one", "bulk_write", "update_one", "update_many", "replace_one"}

    def __init__(self, collection, when: str = "during"):
        self._collection, self._when, self.crashed = collection, when, False

    def __getattr__(self, name):
        if name in self.WRITES and not self.crashed:
            def crash(*args, **kwargs):
                self.crashed = True
                if self._when == "after":
                    try:
                        getattr(self._collection, name)(*args, **kwargs)
                    except Exception:  # noqa: BLE001  (a duplicate-key error: the write happened all the same)
                        pass
                raise SimulatedCrash(f"killed {self._when} the write")
            return crash
        return getattr(self._collection, name)


#: The most records one poll() gives the student's loop (kafka-python's default is 500).
LOOP_POLL_RECORDS = 50

#: A right loop over the check's few hundred messages returns in seconds.
LOOP_DEADLINE_S = 30


@exercises.graded(LOOP)
def consume_loop(consume, settings: Settings, topic: str, group: str, collection, batch, now: datetime) -> bool:
    """02.3: the student's loop is killed at its first write, then restarted in the same group,
    as after a crash; twice, in a new group and an empty collection each time: killed *during*
    the write (nothing written), and killed just *after* it (written, not committed). After each
    restart MongoDB must hold every distinct valid event once and the group's committed offset
    must be the end of the (one-partition) topic. A loop that commits before it writes loses the
    first poll in the first case; a loop whose write is not idempotent stores the first poll
    twice in the second. What the loop returns is not graded."""
    if exercises.uses_the_lab_version(LOOP, consume, {
            "Processor": "a poll loop of your own",
            "consume_by_hand": "a poll loop of your own"}):
        return False
    import uuid

    from kafka import TopicPartition

    end = kafka_io.end_offsets(settings, topic)[0]
    valid = _distinct_valid([m.value for m in batch], now)
    answer, expected = {}, {}
    for when in ("during", "after"):
        collection.drop()
        run_group = f"{group}.{uuid.uuid4().hex[:6]}"  # a new group per try: an earlier attempt's commits must not count

        def run(target, run_group=run_group):
            # 50 records a poll at most: the topic's few hundred take several polls, so a loop that
            # polls once, or stops early, is found out
            consumer = clients.kafka_consumer(settings, group_id=run_group, auto_offset_reset="earliest",
                                              max_poll_records=LOOP_POLL_RECORDS)
            consumer.assign([TopicPartition(topic, 0)])
            try:
                return exercises.attempt_within(LOOP_DEADLINE_S, consume, consumer, target, now)
            finally:
                consumer.close(autocommit=False)  # a loop still polling fails now, and its thread ends

        try:
            result = run(_CrashOnFirstWrite(collection, when))  # killed at its first write ...
        except SimulatedCrash:
            result = run(collection)  # ... and restarted: it resumes at the group's committed offset
        if exercises.timed_out(result):
            return exercises.wrong(LOOP, f"your loop had not returned after {LOOP_DEADLINE_S} s (killed {when} the "
                                         "write, then restarted). `for record in consumer:` waits for new messages "
                                         "forever; poll() with a timeout, and stop when a poll comes back empty")
        if not exercises.expect_type(LOOP, result, exercises.ANYTHING):
            return False
        answer[f"documents (killed {when} the write)"] = collection.count_documents({})
        committed = kafka_io.committed_offsets(settings, run_group, topic).get(0)
        answer[f"committed offset (killed {when} the write)"] = committed
        if committed is not None and 0 < committed < end:
            return exercises.wrong(LOOP, f"after the restart (killed {when} the write) your loop stopped at offset "
                                         f"{committed} of {end}: one poll gives at most a few records (here "
                                         f"{LOOP_POLL_RECORDS}), so poll again until a poll comes back empty")
        expected[f"documents (killed {when} the write)"] = valid
        expected[f"committed offset (killed {when} the write)"] = end
    return exercises.check(LOOP, answer, expected)
