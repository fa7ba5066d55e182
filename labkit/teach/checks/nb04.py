"""Checks for notebook 04's exercises (dead letters and redelivery): 04.1 rewinds a group,
04.2 replays the DLQ."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime

from labkit import contract
from labkit.config import Settings
from labkit.ops import clients, kafka_io
from labkit.ops.infra.topics import ensure_topics
from labkit.process import dlq
from labkit.process.validation import Verdict, validate
from labkit.simulate.faults import FaultRates
from labkit.simulate.simulator import SimConfig, Simulator, backfill_start
from labkit.teach import exercises

REPLAY = "04.2 replay the DLQ by hand"
REWIND = "04.1 rewind a group to a time"

HINTS = exercises.register_hints({
    REPLAY: "each DLQ value is an envelope: dlq.parse opens it (its reason) and dlq.original_bytes gives the "
            "rejected bytes back. Replay only the reason asked for. The DLQ may hold a message twice and MongoDB "
            "an event already: let the event's id decide (02.2)",
    REWIND: "two steps: per partition, the first offset at or after the time (consumer.offsets_for_times, "
            "in ms; None: nothing that recent, so its end_offsets), then commit them all for the group "
            "(commit with OffsetAndMetadata, as in 03). seek() commits nothing",
})

#: The check's topic: five partitions of six records each, their timestamps in seconds from a
#: time an hour ago; the group is asked to go back to WHEN_S. Each partition tests one thing:
#: 0 an ordinary partition, 1 every record after the time (back to 0), 2 a record exactly at
#: the time (it is included), 3 every record before it (nothing to read again: the end, which
#: offsets_for_times answers with None), 4 missed by a loop over the lab topic's four partitions.
TIMES_S = {0: [0, 10, 20, 30, 40, 50], 1: [30, 40, 50, 60, 70, 80], 2: [5, 15, 25, 35, 45, 55],
           3: [-60, -50, -40, -30, -20, -10], 4: [24, 26, 28, 30, 32, 34]}
WHEN_S = 25
#: Where the group is before the rewind (partition 3 not at its end, so leaving it alone is seen),
#: and where it must be after.
READ_TO = {0: 6, 1: 6, 2: 6, 3: 4, 4: 6}
EXPECTED = {0: 3, 1: 0, 2: 2, 3: 6, 4: 1}
#: A right answer makes three requests, in well under a second.
REWIND_DEADLINE_S = 30


@exercises.graded(REWIND)
def rewind(func, settings: Settings, topic: str) -> bool:
    """04.1: `func(consumer, topic, when_ms)` on a new five-partition topic named after `topic`
    (records and group as in TIMES_S and READ_TO); the consumer is of that group and joined
    nothing. Right: afterwards the group's committed offsets are exactly `EXPECTED`. A seek
    without a commit, a time in seconds, a rewind to the beginning, a partition skipped or set
    to 0 where offsets_for_times answers None, a record at exactly the time left out, offsets
    one too low and a loop over four partitions each fail it, with a message that says which."""
    target = f"{topic}.rewind-{uuid.uuid4().hex[:6]}"
    group = f"{target}.group"
    base_ms = (int(time.time()) - 3600) * 1000
    ensure_topics(settings, {target: len(TIMES_S)})
    producer = clients.kafka_producer(settings)
    try:
        for p, times in TIMES_S.items():
            for i, t in enumerate(times):
                producer.send(target, value=f"{p}:{i}".encode(), partition=p, timestamp_ms=base_ms + t * 1000)
        producer.flush()
    finally:
        producer.close()
    kafka_io.rewind_group(settings, group, target, READ_TO)  # where the group is now
    consumer = clients.kafka_consumer(settings, group_id=group)
    try:
        answer = exercises.attempt_within(REWIND_DEADLINE_S, func, consumer, target, base_ms + WHEN_S * 1000)
    finally:
        consumer.close(autocommit=False)
    if exercises.timed_out(answer):
        return exercises.wrong(REWIND, f"your function had not returned after {REWIND_DEADLINE_S} s")
    if exercises.not_answered(answer):  # the stub (not attempted yet), or an exception: reported as such
        if "CommitFailed" in repr(answer) or "not part of an active group" in repr(answer):
            return exercises.wrong(REWIND, "the commit was refused because the consumer subscribed: a member of a "
                                           "group commits only what the group assigned it. Do not subscribe or assign; "
                                           "a consumer that joined nothing commits for its group from outside")
        return exercises.check(REWIND, answer, None)
    committed = kafka_io.committed_offsets(settings, group, target)
    problem = _rewind_problem(committed)
    if problem:
        return exercises.wrong(REWIND, problem)
    return exercises.check(REWIND, {"the group's committed offsets": committed},
                           {"the group's committed offsets": dict(EXPECTED)})


def _rewind_problem(committed: dict) -> str | None:
    """What is wrong with the group's committed offsets after a rewind to WHEN_S, in words."""
    if committed == EXPECTED:
        return None
    got = ", ".join(f"partition {p}: {committed.get(p)}" for p in EXPECTED)
    expected = ", ".join(f"partition {p}: {o}" for p, o in EXPECTED.items())
    if committed == READ_TO:
        return ("nothing changed for this group in this topic: no offsets were committed (or an asynchronous commit "
                "had not finished when your function returned). A seek alone changes only this consumer's position "
                "in memory; the group reads again from what is committed")
    if all(committed.get(p) == 0 for p in EXPECTED):
        return ("every partition went back to 0: that rewinds to the beginning, not to the time. Look the offsets up "
                "by timestamp, in milliseconds (a time in seconds is in January 1970, before every record)")
    if all(committed.get(p) in ({o - 1} if o > 0 else {None, -1, 0}) for p, o in EXPECTED.items()):  # -1 reads as None
        return ("each committed offset is one below the right one: commit the offset of the first record to read "
                "again, as the lookup gives it")
    wrong = {p for p in EXPECTED if committed.get(p) != EXPECTED[p]}
    if wrong == {4}:
        return (f"partition 4 was not rewound (committed {committed.get(4)}, expected {EXPECTED[4]}): this topic has "
                "five partitions, not the lab topic's four; ask the consumer for the topic's partitions")
    if 3 in wrong:
        return (f"partition 3: committed {committed.get(3)}, expected {EXPECTED[3]}, its end. Every record there is "
                "older than the time, so the lookup answers None: the group should start after them, at the end "
                f"offset (0 would read them all again; skipping it leaves the group where it was). All: {got}")
    if wrong == {2}:
        return (f"partition 2 has a record at exactly that time (offset {EXPECTED[2]}): a rewind to a time includes "
                f"it, but you committed {committed.get(2)}")
    return f"the group's committed offsets are {got}; expected {expected}"


@exercises.graded(REPLAY)
def replay_dlq(func, collection, now) -> bool:
    """04.2: a DLQ made for the check (four autobahn events rejected for speed, two of them
    delivered twice; one too fast even for the relaxed rule; one rejected for its RPM; one
    rejected for its RPM under an older rule, valid today, which a replay for speed leaves), with
    one of the four already in `collection`. Right: the first call returns 3 (the events
    newly stored), the collection holds each of the four once, as typed events (a date, not
    a string), nothing else; a second call returns 0."""
    values, fast_ids, ranges = _dlq_for_the_check(now)
    collection.drop()
    already = fast_ids[0]  # first in the DLQ: an ordered insert stops at it and stores nothing new
    collection.insert_one({"_id": already, "event_id": already, "note": "stored by an earlier replay"})
    first = exercises.attempt(func, list(values), collection, "range:speed", dict(ranges), now)
    if not exercises.expect_type(REPLAY, first, exercises.INTEGER, case="on the first call"):
        return False
    stored = list(collection.find())
    again = exercises.attempt(func, list(values), collection, "range:speed", dict(ranges), now)
    if not exercises.expect_type(REPLAY, again, exercises.INTEGER, case="on the second call"):
        return False
    if any(not isinstance(d["_id"], str) for d in stored):
        collection.drop()
        return exercises.wrong(REPLAY, "some documents were stored with an _id MongoDB made up (an ObjectId), so the "
                                       "same event could be stored twice: set _id = event_id, as in exercise 02.2")
    ids = sorted(d["_id"] for d in stored)
    answer = {"newly stored, first call": first, "newly stored, second call": again,
              "documents stored": ids,
              "timestamps stored as dates": all(isinstance(d.get("timestamp"), datetime) for d in stored
                                                if d["_id"] != already)}
    expected = {"newly stored, first call": len(fast_ids) - 1, "newly stored, second call": 0,
                "documents stored": sorted(fast_ids), "timestamps stored as dates": True}
    collection.drop()
    if ids == [already]:
        return exercises.wrong(REPLAY, "nothing new was stored (only the event stored before the call is there). "
                                       "The usual causes: validating the DLQ record itself instead of the original "
                                       "bytes inside it (dlq.original_bytes); validating without the relaxed "
                                       "`ranges`; an ordered insert_many, which stops at the first event already "
                                       "stored (ordered=False goes on)")
    if set(ids) - set(fast_ids):
        return exercises.wrong(REPLAY, "events not asked for were stored too: replay only the DLQ records whose "
                                       "reason is the one you are given (one here was rejected for its RPM under an "
                                       "older rule and is valid today, yet its reason is not range:speed)")
    if not answer["timestamps stored as dates"] and ids == sorted(fast_ids):
        return exercises.wrong(REPLAY, "the right events, but not the timestamps stored as dates: store the event "
                                       "the validator returns (validate(...).event), as in exercise 02.2, not the "
                                       "parsed JSON, whose timestamp is a string")
    return exercises.check(REPLAY, answer, expected)


def _dlq_for_the_check(now):
    """(DLQ values, the ids of the four events the relaxed rule accepts, the relaxed ranges)."""
    config = SimConfig(cars=3, seed=404, faults=FaultRates.none())
    events = [json.loads(m.value) for m in Simulator(config).messages(count=7, start=backfill_start(config, count=7, now=now))]
    for event, speed in zip(events, (265.0, 270.0, 289.9, 310.0, 400.0)):
        event["speed"] = speed               # the first four pass at up to 320 km/h, the fifth never
    events[5]["rpm"] = 99_000.0              # rejected for another reason
    values = []
    for offset, event in enumerate(events):
        raw = json.dumps(event).encode()
        source = dlq.Source("car.telemetry.v1", 0, offset, event["car_id"].encode())
        # The seventh is valid today: it was rejected under an older, stricter RPM rule. A replay
        # for "range:speed" must leave it alone, however well it validates now.
        verdict = validate(raw, now) if offset < 6 else Verdict(False, "range:rpm", "rpm above 2,000 (an older rule)")
        value, _ = dlq.envelope(verdict, source, raw, now)
        values.append(value)
    values += [values[0], values[1]]         # the DLQ is at-least-once: two records delivered twice
    ranges = dict(contract.RANGES, speed=(0.0, 320.0))
    return values, [e["event_id"] for e in events[:4]], ranges
