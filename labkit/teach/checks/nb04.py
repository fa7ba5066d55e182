"""Checks for notebook 04's exercises (dead letters and redelivery): 04.1 rewinds a group,
04.2 replays the DLQ."""

from __future__ import annotations

import json
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
REWIND = "04.1 rewind a group"

HINTS = exercises.register_hints({
    REPLAY: "each DLQ value is an envelope: dlq.parse opens it (its reason) and dlq.original_bytes gives the "
            "rejected bytes back. Replay only the reason asked for. The DLQ may hold a message twice and MongoDB "
            "an event already: let the event's id decide (02.2)",
    REWIND: "a group's place is its committed offsets: commit the ones asked for with this consumer. "
            "consumer.commit takes a dict of TopicPartition to OffsetAndMetadata(offset, '', -1), both "
            "importable from kafka. seek() alone commits nothing",
})

#: The check's group has read its topic to these offsets (the end), and is asked to go back to REWOUND.
#: Five partitions, not the lab topic's four, and partition 3 not asked for: an answer that
#: loops over `range(4)` instead of the offsets it is given fails here, not later in section 3.
READ_TO = {0: 6, 1: 6, 2: 6, 3: 6, 4: 6}
REWOUND = {0: 3, 1: 0, 2: 5, 4: 2}
#: What the group's committed offsets must be afterwards: partition 3 stays where it was.
EXPECTED = {**READ_TO, **REWOUND}
#: A right answer commits once, in well under a second.
REWIND_DEADLINE_S = 30


@exercises.graded(REWIND)
def rewind(func, settings: Settings, topic: str) -> bool:
    """04.1: `func(consumer, topic, offsets)` on a new five-partition topic named after
    `topic`, six records each, whose new group has committed the end of every partition; the
    consumer is of that group and joined nothing. Right: afterwards the group's committed
    offsets are exactly `EXPECTED` (the offsets asked for, a different one for each partition,
    one of them 0; partition 3, not asked for, left at the end). A seek without a commit, a
    commit of the consumer's position, a rewind of one partition, an offset off by one, a
    rewind to the beginning and a loop over partition numbers instead of the offsets given
    each fail it."""
    target = f"{topic}.rewind-{uuid.uuid4().hex[:6]}"
    group = f"{target}.group"
    ensure_topics(settings, {target: len(READ_TO)})
    producer = clients.kafka_producer(settings)
    try:
        for p, n in READ_TO.items():
            for i in range(n):
                producer.send(target, value=f"{p}:{i}".encode(), partition=p)
        producer.flush()
    finally:
        producer.close()
    kafka_io.rewind_group(settings, group, target, READ_TO)  # the group has read everything
    consumer = clients.kafka_consumer(settings, group_id=group)
    try:
        answer = exercises.attempt_within(REWIND_DEADLINE_S, func, consumer, target, dict(REWOUND))
    finally:
        consumer.close(autocommit=False)
    if exercises.timed_out(answer):
        return exercises.wrong(REWIND, f"your function had not returned after {REWIND_DEADLINE_S} s")
    if exercises.not_answered(answer):  # the stub (not attempted yet), or an exception: reported as such
        return exercises.check(REWIND, answer, None)
    committed = kafka_io.committed_offsets(settings, group, target)
    problem = _rewind_problem(committed)
    if problem:
        return exercises.wrong(REWIND, problem)
    return exercises.check(REWIND, {"the group's committed offsets": committed},
                           {"the group's committed offsets": dict(EXPECTED)})


def _rewind_problem(committed: dict) -> str | None:
    """What is wrong with the group's committed offsets after a rewind to REWOUND, in words."""
    if committed == EXPECTED:
        return None
    if committed == READ_TO:
        return ("nothing changed for this group in this topic: no offsets of the topic you are given were "
                "committed. A seek alone changes only this consumer's position in memory; the group reads again "
                "from what is committed")
    if all(committed.get(p) == 0 for p in REWOUND):
        return "every partition went back to 0: commit the offset you are given for each partition, not the beginning"
    if all(committed.get(p) in ({o - 1} if o > 0 else {None, -1, 0}) for p, o in REWOUND.items()):  # -1 reads as None
        return ("each committed offset is one below the one asked for: a committed offset is the next record the "
                "group will read, so commit the offsets as given")
    untouched = [p for p in READ_TO if p not in REWOUND]
    moved = [p for p in untouched if committed.get(p) != READ_TO[p]]
    asked = ", ".join(f"partition {p}: {o}" for p, o in EXPECTED.items())
    got = ", ".join(f"partition {p}: {committed.get(p)}" for p in EXPECTED)
    if moved:
        return (f"partition {moved[0]} was not in the offsets you were given, yet its committed offset moved from "
                f"{READ_TO[moved[0]]} to {committed.get(moved[0])}: commit the partitions in `offsets`, not a range of "
                f"partition numbers (this topic has five, not the lab topic's four). Committed: {got}; expected: {asked}")
    return (f"the group's committed offsets are {got}; expected {asked} (partition "
            f"{', '.join(map(str, untouched))} not asked for, so left where it was)")


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
