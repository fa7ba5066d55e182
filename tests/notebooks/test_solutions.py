"""The reference solutions pass the very checks the notebooks use (`labkit.teach.checks`), and the
checks reject a wrong answer: a check that cannot fail grades nothing. The wrong answers include
the plausible wrong types (None from a forgotten `return`, a RecordMetadata, a cursor, ...) and
student code that raises: each gets a ✘ with a message, never a traceback from the check."""

import dataclasses
import json
import math
from collections import Counter
from datetime import datetime, timedelta, timezone

from kafka.errors import KafkaError
from pymongo import MongoClient
from pymongo.errors import BulkWriteError

from labkit import contract
from labkit.ops import clients, kafka_io, sandbox
from labkit.ops.infra.topics import describe_topics
from labkit.process.validation import Verdict, validate
from labkit.process.windows import lateness_trade_off
from labkit.simulate.faults import FaultRates
from labkit.simulate.simulator import SimConfig, Simulator, backfill_start
from labkit.teach.checks import nb00 as check00
from labkit.teach.checks import nb01 as check01
from labkit.teach.checks import nb02 as check02
from labkit.teach.checks import nb03 as check03
from labkit.teach.checks import nb04 as check04
from labkit.teach.checks import nb08 as check08
from labkit.teach.checks import nb09 as check09
from labkit.teach.checks import nb10 as check10
from labkit.teach.checks import nb11 as check11
from labkit.teach.solutions import nb00, nb01, nb02, nb03, nb04, nb08, nb09, nb10, nb11
from tests.wrong_answers import assert_rejected, fall_through_lateness

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def _rejected(capsys, verdict, *words):
    assert_rejected(capsys, verdict, *words)


def _batch(cars=4, count=300, invalid=0.05, seed=12):
    config = SimConfig(cars=cars, seed=seed, faults=FaultRates(episode=0, invalid=invalid, duplicate=0.02, late=0))
    return list(Simulator(config).messages(count=count, start=backfill_start(config, count=count, now=NOW)))


def _read_from_beginning(consumer, topic, partition, offset):  # ignores the offset
    from kafka import TopicPartition

    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    return nb00.read_at(consumer, topic, partition, consumer.position(tp))


def _index_into_all(consumer, topic, partition, offset):  # an offset taken as a position in the list of messages
    from kafka import TopicPartition

    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    end, values = consumer.end_offsets([tp])[tp], []
    while consumer.position(tp) < end:
        values += [r.value for r in consumer.poll(timeout_ms=500).get(tp, [])]
    return values[offset] if offset < len(values) else b""


def _iterate_unmoved(consumer, topic, partition, offset):
    from kafka import TopicPartition

    consumer.assign([TopicPartition(topic, partition)])
    consumer.seek_to_end(TopicPartition(topic, partition))
    for record in consumer:
        if record.offset == offset:
            return record.value


def _last_of_poll(consumer, topic, partition, offset):  # seeks, then takes the poll's last record
    from kafka import TopicPartition

    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    consumer.seek(tp, offset)
    for _ in range(10):
        batch = consumer.poll(timeout_ms=1000).get(tp)
        if batch:
            return batch[-1].value
    return b""


def _partitions_from_the_labs_helper(settings):
    return describe_topics(settings)[settings.topics.telemetry]


def _smallest_from_the_labs_table(stream, delay_ms, target, candidates):  # the notebook's table under 10.2
    rows = lateness_trade_off(stream, delay_ms, sorted(candidates))
    return next((row["lateness_s"] for row in rows if row["counted_pct"] >= 100 * target), None)


def _speed_without_the_unit(event):  # version 3's m/s read as if it were km/h
    version = event.get("schema_version", 1)
    if version in (1, 2):
        return event["speed"]
    return event["speed_mps"] if version == 3 else None


def _speed_of_known_versions_only(event):  # no schema_version taken as unknown, not as version 1
    version = event.get("schema_version")
    if version in (1, 2):
        return event["speed"]
    return event["speed_mps"] * 3.6 if version == 3 else None


def _speed_whenever_there_is_one(event):  # version 4's `speed` read as if it meant what version 1's does
    return event["speed"] if "speed" in event else event["speed_mps"] * 3.6


def _speed_by_the_field_there(event):  # goes by the field, not the version: version 4's speed_mps is read
    version = event.get("schema_version", 1)
    if "speed_mps" in event:
        return event["speed_mps"] * 3.6
    return event["speed"] if version in (1, 2) else None


def test_nb00_solutions(services, capsys):
    telemetry = describe_topics(services)[services.topics.telemetry]
    assert check00.partition_count(nb00.telemetry_partition_count, services)
    _rejected(capsys, check00.partition_count(lambda s: None, services), "returned None")
    _rejected(capsys, check00.partition_count(lambda s: "4", services), "you returned a str")
    _rejected(capsys, check00.partition_count(lambda s: telemetry, services), "a topic with 3 partitions")  # typed in
    _rejected(capsys, check00.partition_count(_partitions_from_the_labs_helper, services), "calls describe_topics")
    records = kafka_io.round_trip(services, count=3)
    ends = kafka_io.end_offsets(services, records[-1].topic)

    def stub(*args):
        raise NotImplementedError

    assert not check00.read_at(stub, services, records[-1])
    assert kafka_io.end_offsets(services, records[-1].topic) == ends, "an untouched stub writes nothing to the topic"
    assert check00.read_at(nb00.read_at, services, records[-1])
    assert not check00.read_at(lambda *args: b"something else", services, records[-1])
    _rejected(capsys, check00.read_at(lambda *args: None, services, records[-1]), "returned None", "forget `return`")
    _rejected(capsys, check00.read_at(lambda *args: records[-1], services, records[-1]), "expected bytes")
    _rejected(capsys, check00.read_at(lambda *args: records[-1].value.decode(), services, records[-1]),
              "you returned a string; expected bytes")
    _rejected(capsys, check00.read_at(lambda *args: 1 / 0, services, records[-1]), "your code raised ZeroDivisionError")
    # A fresh topic's record may be its partition's first: reading from the beginning, or
    # the last record of the poll, must still fail on the message between two newer ones.
    _rejected(capsys, check00.read_at(_read_from_beginning, services, records[-1]), "wrong value")
    _rejected(capsys, check00.read_at(_last_of_poll, services, records[-1]), "wrong value")
    # Iterating a consumer that was never moved: it waits at the end for new messages, forever.
    deadline, check00.READ_AT_DEADLINE_S = check00.READ_AT_DEADLINE_S, 3
    try:
        _rejected(capsys, check00.read_at(_iterate_unmoved, services, records[-1]), "had not returned after 3 s", "seek")
    finally:
        check00.READ_AT_DEADLINE_S = deadline
    _rejected(capsys, check00.read_at(_index_into_all, services, records[-1]), "wrong value")

    assert check00.count_between(nb00.count_between, services)
    assert check00.count_between(nb00.count_between, services)  # again: the check starts from nothing
    utc = lambda t: t.astimezone(timezone.utc).replace(tzinfo=None)  # noqa: E731  (naive UTC: the same instant)
    assert check00.count_between(lambda c, s, e: c.count_documents({"timestamp": {"$gte": utc(s), "$lt": utc(e)}}), services)
    assert check00.count_between(lambda c, s, e: sum(1 for _ in c.find({"timestamp": {"$gte": s, "$lt": e}})), services)
    for student, words in [
        (lambda c, s, e: c.count_documents({"timestamp": {"$gte": s, "$lte": e}}), "($lte)"),
        (lambda c, s, e: c.count_documents({"timestamp": {"$gt": s, "$lt": e}}), "($gte)"),
        (lambda c, s, e: c.count_documents({"timestamp": {"$gt": s, "$lte": e}}), "($gt and $lte)"),
        (lambda c, s, e: c.count_documents({"timestamp": {"$gte": s}, "timestamp": {"$lt": e}}),  # noqa: F601
         "names timestamp twice"),
        (lambda c, s, e: c.count_documents({"timestamp": {"$gte": s.replace(tzinfo=None), "$lt": e.replace(tzinfo=None)}}),
         "1 h off"),
        (lambda c, s, e: c.count_documents({"timestamp": {"$gte": s.isoformat(), "$lt": e.isoformat()}}), "as text"),
        (lambda c, s, e: c.count_documents({"timestamp": {"$gte": str(s), "$lt": str(e)}}), "nothing matched"),
        (lambda c, s, e: c.count_documents({}), "no range at all"),
        (lambda c, s, e: 6, "10:00 to 10:30"),  # the first range's count, typed in
        (lambda c, s, e: list(c.find({"timestamp": {"$gte": s, "$lt": e}})), "expected a whole number"),
        (lambda c, s, e: None, "returned None"),
    ]:
        _rejected(capsys, check00.count_between(student, services), words)


def test_nb01_solutions(pipeline, capsys):
    from kafka import TopicPartition

    from labkit.ops.infra.topics import ensure_topics

    topic = pipeline.topics.telemetry + ".ex1"
    ensure_topics(pipeline, {topic: 4})
    events = [json.loads(m.value) for m in _batch(invalid=0)[:5]]
    assert check01.send_keyed(nb01.send_keyed, pipeline, topic, events)
    assert not check01.send_keyed(lambda p, t, ev: [(0, 0)] * len(ev), pipeline, topic, events)

    def futures(producer, topic, events):  # sent, but never waited for
        return [producer.send(topic, key=e["car_id"].encode(), value=json.dumps(e).encode()) for e in events]

    _rejected(capsys, check01.send_keyed(lambda p, t, ev: futures(p, t, ev)[-1].get(timeout=10), pipeline, topic, events),
              "you returned a RecordMetadata", "expected a list with one (partition, offset) pair")
    _rejected(capsys, check01.send_keyed(futures, pipeline, topic, events), "item 0 is a FutureRecordMetadata")
    def metadata_not_pairs(producer, topic, events):
        out = []
        for f in futures(producer, topic, events):
            try:
                out.append(f.get(timeout=10))
            except KafkaError:
                out.append(None)
        return out

    _rejected(capsys, check01.send_keyed(metadata_not_pairs, pipeline, topic, events), "item 0 is a RecordMetadata")
    _rejected(capsys, check01.send_keyed(lambda p, t, ev: None, pipeline, topic, events), "returned None")
    _rejected(capsys, check01.send_keyed(lambda p, t, ev: [(0, 0)], pipeline, topic, events), "you returned 1 items for 6 events")

    def all_or_nothing(producer, topic, events):  # the notebook's by-hand cell: one refusal raises for all
        sent = futures(producer, topic, events)
        producer.flush()
        return [(m.partition, m.offset) for m in (f.get(timeout=10) for f in sent)]

    def skip_refused(producer, topic, events):  # the refused event vanishes: every later place shifts
        places = []
        for f in futures(producer, topic, events):
            try:
                m = f.get(timeout=10)
                places.append((m.partition, m.offset))
            except KafkaError:
                pass
        return places

    def stop_at_refusal(producer, topic, events):  # one at a time, and give up on the rest
        places = []
        for e in events:
            try:
                m = futures(producer, topic, [e])[0].get(timeout=10)
            except KafkaError:
                return places + [None] * (len(events) - len(places))
            places.append((m.partition, m.offset))
        return places

    _rejected(capsys, check01.send_keyed(all_or_nothing, pipeline, topic, events), "MessageSizeTooLargeError")
    _rejected(capsys, check01.send_keyed(skip_refused, pipeline, topic, events), "you returned 5 items for 6 events")
    _rejected(capsys, check01.send_keyed(stop_at_refusal, pipeline, topic, events), "first difference at position 3")

    def skip_by_size(producer, topic, events):  # knows the limit the broker should decide
        places = []
        for event in events:
            value = json.dumps(event).encode()
            if len(value) > 1024:
                places.append(None)
                continue
            meta = producer.send(topic, key=event["car_id"].encode(), value=value).get(timeout=10)
            places.append((meta.partition, meta.offset))
        return places

    _rejected(capsys, check01.send_keyed(skip_by_size, pipeline, topic, events), "never sent the event with the camera frame")
    _rejected(capsys, check01.send_keyed(lambda p, t, ev: [(99, -1)] * len(ev), pipeline, topic, events))  # no such address
    assert check01.negative_speed(nb01.negative_speed, events[0])
    assert not check01.negative_speed(lambda e: json.dumps(dict(e, speed=-1, rpm=0)).encode(), events[0])
    _rejected(capsys, check01.negative_speed(lambda e: str(dict(e, speed=-1)).encode(), events[0]), "not JSON")
    _rejected(capsys, check01.negative_speed(lambda e: dict(e, speed=-1), events[0]), "you returned a dict; expected bytes")
    _rejected(capsys, check01.negative_speed(lambda e: b"[1]", events[0]), "expected a JSON object")
    _rejected(capsys, check01.negative_speed(lambda e: json.dumps(dict(e, speed="-1")).encode(), events[0]), "speed < 0")
    _rejected(capsys, check01.negative_speed(lambda e: json.dumps(dict(e, speed=-e["speed"])).encode(), events[0]),
              "speed < 0 (standing still)")  # -0.0 is not below 0
    _rejected(capsys, check01.negative_speed(lambda e: json.dumps(dict(e, speed=float("-inf"))).encode(), events[0]),
              "validator: range:speed (example)")  # -Infinity is not JSON: a not_json fault

    def in_place(event):  # right bytes, but the caller's event now has a negative speed too
        event["speed"] = -abs(event["speed"]) - 1.0
        return json.dumps(event).encode()

    def tagged_in_place(event):  # the speed of a copy, but a field added to the caller's event
        event["fault"] = "negative_speed"
        return json.dumps(dict(event, speed=-1.0)).encode()

    given = dict(events[0])
    _rejected(capsys, check01.negative_speed(in_place, given), "changed the event it was given",
              f"its speed is now {-abs(given['speed']) - 1.0!r}", '{**event, "speed": ...}')
    _rejected(capsys, check01.negative_speed(tagged_in_place, given), "changed the event it was given", "its fault changed")
    assert given == events[0]  # the check handed over copies
    assert check01.count_per_partition(nb01.count_per_partition, pipeline, topic)
    assert check01.count_per_partition(  # a partition counted 0 is the same as one left out
        lambda c, t: {p: n for p, n in nb01.count_per_partition(c, t).items() if n}, pipeline, topic)
    assert not check01.count_per_partition(lambda c, t: {0: 1}, pipeline, topic)
    _rejected(capsys, check01.count_per_partition(lambda c, t: {TopicPartition(t, 0): 1}, pipeline, topic),
              "whose key", "is a TopicPartition")
    _rejected(capsys, check01.count_per_partition(lambda c, t: None, pipeline, topic), "returned None")

    def end_offsets_only(consumer, topic):  # reads nothing: markers and aborted messages count too
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        return {tp.partition: end for tp, end in consumer.end_offsets(tps).items()}

    _rejected(capsys, check01.count_per_partition(end_offsets_only, pipeline, topic), "wrong value for key 0")

    def first_partition_only(consumer, topic):  # the check writes to partitions 1 and 3 too
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning()
        count, end = 0, consumer.end_offsets([tp])[tp]
        while consumer.position(tp) < end:
            count += sum(len(r) for r in consumer.poll(timeout_ms=200).values())
        return {0: count}

    _rejected(capsys, check01.count_per_partition(first_partition_only, pipeline, topic), "missing key")

    def last_offset_plus_one(consumer, topic):  # an offset taken for a count: markers and aborted messages count too
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        consumer.seek_to_beginning()
        ends, last = consumer.end_offsets(tps), {}
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for tp, records in consumer.poll(timeout_ms=200).items():
                last[tp.partition] = records[-1].offset + 1
        return last

    _rejected(capsys, check01.count_per_partition(last_offset_plus_one, pipeline, topic), "wrong value for key 0")

    def without_seek(consumer, topic):  # no group, no seek: it starts at the end ('latest') and reads nothing
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        ends, counts = consumer.end_offsets(tps), {tp.partition: 0 for tp in tps}
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for tp, records in consumer.poll(timeout_ms=1000).items():
                counts[tp.partition] += len(records)
        return counts

    verdict, out = check01.count_per_partition(without_seek, pipeline, topic), capsys.readouterr().out
    assert verdict is False and "missing" not in out, out  # it returned every key: none is missing
    assert "✘ 01.2 read it all back: you read nothing" in out and "auto_offset_reset='latest'" in out, out
    assert "seek to the beginning" in out, out

    def partition_0_zeroed(consumer, topic):  # a returned key counted 0 is a wrong value, not a missing key
        return {**nb01.count_per_partition(consumer, topic), 0: 0}

    verdict, out = check01.count_per_partition(partition_0_zeroed, pipeline, topic), capsys.readouterr().out
    assert verdict is False and "wrong value for key 0" in out and "missing" not in out, out

    def from_the_beginning(consumer, topic):
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        consumer.seek_to_beginning()
        return Counter()

    def single_poll(consumer, topic):  # one poll returns at most max_poll_records messages
        counts = from_the_beginning(consumer, topic)
        for tp, records in consumer.poll(timeout_ms=5000).items():
            counts[tp.partition] += len(records)
        return dict(counts)

    def until_an_empty_poll(consumer, topic):  # an empty poll is a slow answer, not the end
        counts = from_the_beginning(consumer, topic)
        while batch := consumer.poll(timeout_ms=1000):
            for tp, records in batch.items():
                counts[tp.partition] += len(records)
        return dict(counts)

    _rejected(capsys, check01.count_per_partition(single_poll, pipeline, topic),
              "you stopped before the end of partition", "at most max_poll_records messages")
    _rejected(capsys, check01.count_per_partition(until_an_empty_poll, pipeline, topic),
              "you stopped before the end of partition", "an empty poll only means nothing arrived within your timeout")

    def until_end_offset_messages(consumer, topic):  # waits for messages the markers stand for: forever
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        consumer.seek_to_beginning()
        wanted, counts = consumer.end_offsets(tps), Counter()
        while any(counts[tp.partition] < wanted[tp] for tp in tps):
            for tp, records in consumer.poll(timeout_ms=200).items():
                counts[tp.partition] += len(records)
        return dict(counts)

    check01.COUNT_DEADLINE_S, deadline = 5, check01.COUNT_DEADLINE_S
    try:
        _rejected(capsys, check01.count_per_partition(until_end_offset_messages, pipeline, topic),
                  "had not returned after 5 s", "every position reaches its end offset")
    finally:
        check01.COUNT_DEADLINE_S = deadline


def _city_rule_without_final_return(raw, now):
    verdict = validate(raw, now)
    if verdict.ok and verdict.event["speed"] > 200:
        return Verdict(False, "range:speed", "too fast for the city")


def _count_in_python(db, name, start, end):  # right counts, but every anomaly travels to Python
    return dict(Counter(d["type"] for d in db[name].find({"timestamp": {"$gte": start, "$lt": end}})))


def _city_rule_reason_only(raw, now):
    verdict = validate(raw, now)
    if verdict.ok and verdict.event["speed"] > 200:
        return dataclasses.replace(verdict, reason="range:speed")
    return verdict


def _store_with_the_labs_insert(collection, raws, now):
    from labkit.store.mongo import insert_idempotent

    docs = [dict(v.event, _id=v.event["event_id"]) for v in (validate(r, now) for r in raws) if v.ok]
    return insert_idempotent(collection, docs).inserted


def test_nb02_solutions(pipeline, capsys, request):
    good = {"car_id": "CAR_001", "timestamp": (NOW - timedelta(seconds=5)).isoformat(), "speed": 59.8, "rpm": 2947,
            "engine_temp": 95.0, "fuel_level": 33.0, "latitude": 52.5, "longitude": 13.4, "event_id": "e1", "seq": 1}
    assert check02.city_rule(nb02.validate_with_city_limit, good, NOW)
    assert not check02.city_rule(lambda raw, now: nb02.validate_with_city_limit(raw, now, limit_kmh=199), good, NOW)
    _rejected(capsys, check02.city_rule(_city_rule_without_final_return, good, NOW), "returned None")
    _rejected(capsys, check02.city_rule(lambda raw, now: validate(raw, now).ok, good, NOW), "expected a Verdict")
    # A reason on a verdict that still says ok: the processor would store a 230 km/h event.
    _rejected(capsys, check02.city_rule(_city_rule_reason_only, good, NOW), "230 km/h: ok")
    # ok without the parsed event: the processor would have nothing to store.
    _rejected(capsys, check02.city_rule(lambda raw, now: Verdict(True) if validate(raw, now).ok else validate(raw, now),
                                        good, NOW), "59 km/h: event kept")

    batch = _batch()
    client = MongoClient(pipeline.mongodb_uri, tz_aware=True)
    request.addfinalizer(client.close)  # closed even when an assertion fails on the way
    db = client[pipeline.mongodb_db]
    raws = [m.value for m in batch]
    assert check02.idempotent_store(nb02.store_events, db["ex2"], raws, NOW)
    _rejected(capsys, check02.idempotent_store(_store_with_the_labs_insert, db["ex2"], raws, NOW), "calls insert_idempotent")
    assert not check02.idempotent_store(lambda coll, raws, now: coll.insert_many([{"x": 1}]) and 1, db["ex2"], raws, NOW)
    _rejected(capsys, check02.idempotent_store(lambda coll, raws, now: None, db["ex2"], raws, NOW), "returned None")
    _rejected(capsys, check02.idempotent_store(lambda coll, raws, now: coll.insert_many([{"x": 1}]), db["ex2"], raws, NOW),
              "you returned an InsertManyResult; expected a whole number")

    # The lesson's classic mistake: catch the duplicate error and report nothing new stored.
    def swallow_everything(coll, raws, now):
        docs = [dict(v.event, _id=v.event["event_id"]) for v in (validate(r, now) for r in raws) if v.ok]
        try:
            coll.insert_many(docs, ordered=False)
            return len(docs)
        except BulkWriteError:
            return 0

    # As in the notebook, a batch without repeats: the old check (the same batch twice) passed this.
    seen, unique = set(), []
    for raw in raws:
        verdict = validate(raw, NOW)
        key = verdict.event["event_id"] if verdict.ok else raw
        if key not in seen:
            seen.add(key)
            unique.append(raw)
    assert check02.idempotent_store(nb02.store_events, db["ex2"], unique, NOW)
    _rejected(capsys, check02.idempotent_store(swallow_everything, db["ex2"], unique, NOW), "second call returned")

    # Counting what it tried to insert, not what was new.
    def count_attempts(coll, raws, now):
        swallow_everything(coll, raws, now)
        return sum(validate(r, now).ok for r in raws)

    _rejected(capsys, check02.idempotent_store(count_attempts, db["ex2"], raws, NOW), "call returned")
    _rejected(capsys, check02.idempotent_store(lambda coll, raws, now: 0, db["ex2"], raws, NOW), "call returned")  # a constant

    from labkit.ops.infra.topics import ensure_topics
    from labkit.simulate.producer import produce

    topic = pipeline.topics.telemetry + ".ex3"
    ensure_topics(pipeline, {topic: 1})
    produce(pipeline, batch, topic=topic)
    assert check02.consume_loop(nb02.consume_all, pipeline, topic, "ex3-good", db["ex3"], batch, NOW)
    # Reads everything and stores it, but never commits: the committed offset gives it away.
    def no_commit(consumer, coll, now):
        return nb02.store_events(coll, [r.value for rs in consumer.poll(timeout_ms=3000).values() for r in rs], now)

    assert not check02.consume_loop(no_commit, pipeline, topic, "ex3-bad", db["ex3"], batch, NOW)

    def one_poll(consumer, coll, now):  # store, then commit, in the right order, but for one poll only
        records = [r for rs in consumer.poll(timeout_ms=3000).values() for r in rs]
        nb02.store_events(coll, [r.value for r in records], now)
        consumer.commit()

    _rejected(capsys, check02.consume_loop(one_poll, pipeline, topic, "ex3-one-poll", db["ex3"], batch, NOW),
              "your loop stopped at offset", "poll again until a poll comes back empty")

    # The lesson's central mistake: commit, then write. Nothing crashes on a good day; killed
    # during the write, the restart begins after the first poll, and its events are lost.
    def commit_first(consumer, coll, now):
        while records := [r for rs in consumer.poll(timeout_ms=1000).values() for r in rs]:
            consumer.commit()
            nb02.store_events(coll, [r.value for r in records], now)

    _rejected(capsys, check02.consume_loop(commit_first, pipeline, topic, "ex3-commit-first", db["ex3"], batch, NOW),
              "documents (killed during the write)")

    # Commit after the write, but a write that is not idempotent (no `_id = event_id`): killed
    # after the write and before the commit, the restart stores the first poll a second time.
    def plain_insert(consumer, coll, now):
        while records := [r for rs in consumer.poll(timeout_ms=1000).values() for r in rs]:
            events = [v.event for v in (validate(r.value, now) for r in records) if v.ok]
            if events:
                coll.insert_many([dict(e) for e in events])
            consumer.commit()

    _rejected(capsys, check02.consume_loop(plain_insert, pipeline, topic, "ex3-plain", db["ex3"], batch, NOW),
              "documents (killed")  # too many, after either kill: the batch's duplicates too are stored twice
    _rejected(capsys, check02.consume_loop(lambda c, coll, now: 0, pipeline, topic, "ex3-constant", db["ex3"], batch, NOW),
              "documents (killed")  # a constant: reads and stores nothing
    # 02.3 does not ask for a return value: a right loop that returns None passes.
    assert check02.consume_loop(lambda c, coll, now: nb02.consume_all(c, coll, now) and None,
                                pipeline, topic, "ex3-none", db["ex3"], batch, NOW)
    # `for record in consumer:` never ends: the check's deadline says so instead of a cell that hangs.
    def forever(consumer, coll, now):
        for record in consumer:
            nb02.store_events(coll, [record.value], now)
            consumer.commit()

    deadline, check02.LOOP_DEADLINE_S = check02.LOOP_DEADLINE_S, 5
    try:
        _rejected(capsys, check02.consume_loop(forever, pipeline, topic, "ex3-forever", db["ex3"], batch, NOW),
                  "had not returned after 5 s", "poll() with a timeout")
    finally:
        check02.LOOP_DEADLINE_S = deadline
    _rejected(capsys, check02.consume_loop(lambda c, coll, now: 1 / 0, pipeline, topic, "ex3-raises", db["ex3"], batch, NOW),
              "your code raised ZeroDivisionError")


def _replay_loading_the_json(values, collection, reason, ranges, now):
    """Stores json.loads of the original: the timestamp stays a string, not a date."""
    from labkit.process import dlq

    stored = 0
    for value in values:
        record = dlq.parse(value)
        raw = dlq.original_bytes(record)
        if record["reason"] == reason and validate(raw, now, ranges).ok:
            event = json.loads(raw)
            if collection.count_documents({"_id": event["event_id"]}) == 0:
                collection.insert_one(dict(event, _id=event["event_id"]))
                stored += 1
    return stored


def test_nb04_replay_by_hand(services, capsys):
    from labkit.process import dlq

    client = MongoClient(services.mongodb_uri, tz_aware=True)
    try:
        collection = client[services.mongodb_db + "_t04"]["replayed"]
        now = datetime.now(timezone.utc)
        assert check04.replay_dlq(nb04.replay_dlq, collection, now)
        _rejected(capsys, check04.replay_dlq(_replay_loading_the_json, collection, now), "timestamps stored as dates")
        _rejected(capsys, check04.replay_dlq(lambda *a: 3, collection, now), "nothing new was stored")  # claims 3, stores none
        _rejected(capsys, check04.replay_dlq(lambda *a: None, collection, now), "returned None")

        def every_valid_record(values, collection, reason, ranges, now):  # counts copies and the stored one
            nb04.replay_dlq(values, collection, reason, ranges, now)
            return sum(validate(dlq.original_bytes(dlq.parse(v)), now, ranges).ok
                       for v in values if dlq.parse(v)["reason"] == reason)

        _rejected(capsys, check04.replay_dlq(every_valid_record, collection, now), "first call")

        def every_reason(values, collection, reason, ranges, now):  # replays what an older rule rejected too
            return sum(nb04.replay_dlq(values, collection, r, ranges, now) for r in {dlq.parse(v)["reason"] for v in values})

        _rejected(capsys, check04.replay_dlq(every_reason, collection, now), "not asked for", "reason")

        def ordered_insert(values, collection, reason, ranges, now):  # insert_many stops at the first duplicate
            from pymongo.errors import BulkWriteError

            docs = []
            for v in values:
                record = dlq.parse(v)
                verdict = validate(dlq.original_bytes(record), now, ranges)
                if record["reason"] == reason and verdict.ok:
                    docs.append(dict(verdict.event, _id=verdict.event["event_id"]))
            try:
                return len(collection.insert_many(docs).inserted_ids)
            except BulkWriteError as e:
                return e.details["nInserted"]

        _rejected(capsys, check04.replay_dlq(ordered_insert, collection, now), "nothing new was stored", "ordered")

        def the_envelope(values, collection, reason, ranges, now):  # validates the DLQ record, not what it holds
            docs = {}
            for v in values:
                verdict = validate(v, now, ranges)
                if dlq.parse(v)["reason"] == reason and verdict.ok:
                    docs[verdict.event["event_id"]] = dict(verdict.event, _id=verdict.event["event_id"])
            return len(collection.insert_many(list(docs.values()), ordered=False).inserted_ids) if docs else 0

        def todays_ranges(values, collection, reason, ranges, now):  # forgets to pass the relaxed ranges
            return nb04.replay_dlq(values, collection, reason, contract.RANGES, now)

        _rejected(capsys, check04.replay_dlq(todays_ranges, collection, now), "nothing new was stored", "ranges")
        _rejected(capsys, check04.replay_dlq(the_envelope, collection, now), "nothing new was stored", "original bytes")

        def ids_made_by_mongodb(values, collection, reason, ranges, now):  # the validator's event, _id not set
            events = [validate(dlq.original_bytes(dlq.parse(v)), now, ranges) for v in values
                      if dlq.parse(v)["reason"] == reason]
            stored = [collection.insert_one(dict(v.event)) for v in events if v.ok]
            return len(stored)

        _rejected(capsys, check04.replay_dlq(ids_made_by_mongodb, collection, now), "_id = event_id")
    finally:
        client.drop_database(services.mongodb_db + "_t04")
        client.close()


def test_nb08_solutions(pipeline, capsys):
    from labkit.scenarios.dataset import load_fleet
    from labkit.simulate.producer import produce

    start = datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc)
    client = MongoClient(pipeline.mongodb_uri, tz_aware=True)
    load_fleet(client[pipeline.mongodb_db], pipeline, 5, 300, start, seed=3, episode_rate=0.01)
    client.close()
    end = start + timedelta(seconds=300)
    assert check08.anomalies_per_type(nb08.anomalies_per_type, pipeline, start, end)
    assert not check08.anomalies_per_type(lambda *a: {}, pipeline, start, end)
    rows = [{"$group": {"_id": "$type", "count": {"$sum": 1}}}]
    _rejected(capsys, check08.anomalies_per_type(lambda db, name, s, e: list(db[name].aggregate(rows)), pipeline, start, end),
              "you returned a list", "expected a dict {anomaly type: count}")
    _rejected(capsys, check08.anomalies_per_type(lambda *a: None, pipeline, start, end), "returned None")
    _rejected(capsys, check08.anomalies_per_type(_count_in_python, pipeline, start, end), "asks for one aggregation")

    def grouped(db, name, match):
        return {r["_id"]: r["count"] for r in db[name].aggregate([*match, {"$group": {"_id": "$type", "count": {"$sum": 1}}}])}

    # The classic mistakes: no range filter, and an end that includes `end`.
    _rejected(capsys, check08.anomalies_per_type(lambda db, name, s, e: grouped(db, name, []), pipeline, start, end))
    _rejected(capsys, check08.anomalies_per_type(
        lambda db, name, s, e: grouped(db, name, [{"$match": {"timestamp": {"$gte": s, "$lte": e}}}]), pipeline, start, end))
    # An end a second short of `end` (the range's last reading is half a second before it).
    _rejected(capsys, check08.anomalies_per_type(lambda db, name, s, e: grouped(
        db, name, [{"$match": {"timestamp": {"$gte": s, "$lte": e - timedelta(seconds=1)}}}]), pipeline, start, end))

    def match_then_count_in_python(db, name, s, e):  # one aggregate call, but every anomaly travels
        return dict(Counter(d["type"] for d in db[name].aggregate([{"$match": {"timestamp": {"$gte": s, "$lt": e}}}])))

    _rejected(capsys, check08.anomalies_per_type(match_then_count_in_python, pipeline, start, end), "documents travelled")

    def push_then_count_in_python(db, name, s, e):  # one row per type travels, holding every anomaly's id
        rows = db[name].aggregate([{"$match": {"timestamp": {"$gte": s, "$lt": e}}},
                                   {"$group": {"_id": "$type", "ids": {"$push": "$_id"}}}])
        return {r["_id"]: len(r["ids"]) for r in rows}

    _rejected(capsys, check08.anomalies_per_type(push_then_count_in_python, pipeline, start, end), "travelled in lists")

    def one_aggregation_per_type(db, name, s, e):  # the server counts, but one type at a time
        in_range = {"timestamp": {"$gte": s, "$lt": e}}
        return {kind: next(db[name].aggregate([{"$match": {**in_range, "type": kind}}, {"$count": "n"}]))["n"]
                for kind in db[name].distinct("type", in_range)}

    _rejected(capsys, check08.anomalies_per_type(one_aggregation_per_type, pipeline, start, end), "from 3 aggregations")

    produce(pipeline, _batch(count=40, invalid=0))
    before = kafka_io.end_offsets(pipeline, pipeline.topics.telemetry)
    assert check08.total_lag(nb08.total_lag, pipeline, "lag-group", pipeline.topics.telemetry)
    assert check08.total_lag(nb08.total_lag, pipeline, "lag-group", pipeline.topics.telemetry)  # again: a fresh topic
    assert kafka_io.end_offsets(pipeline, pipeline.topics.telemetry) == before, "the notebook's topic is left alone"
    assert not check08.total_lag(lambda c, t: 0, pipeline, "lag-group", pipeline.topics.telemetry)
    _rejected(capsys, check08.total_lag(lambda c, t: {0: 7}, pipeline, "lag-group", pipeline.topics.telemetry),
              "you returned a dict; expected a number")
    _rejected(capsys, check08.total_lag(lambda c, t: None, pipeline, "lag-group", pipeline.topics.telemetry), "returned None")

    def committed_partitions_only(consumer, topic):  # skips a partition the group never committed
        from kafka import TopicPartition

        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        return sum(end - consumer.committed(tp) for tp, end in consumer.end_offsets(tps).items() if consumer.committed(tp) is not None)

    _rejected(capsys, check08.total_lag(committed_partitions_only, pipeline, "lag-group", pipeline.topics.telemetry))

    def end_offsets_only(consumer, topic):  # forgets what the group has already processed
        from kafka import TopicPartition

        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        return sum(consumer.end_offsets(tps).values())

    _rejected(capsys, check08.total_lag(end_offsets_only, pipeline, "lag-group", pipeline.topics.telemetry), "the end offsets alone")

    def from_zero(consumer, topic):  # a never-committed partition counted from 0: wrong once retention deleted its start
        from kafka import TopicPartition

        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        return sum(end - (consumer.committed(tp) or 0) for tp, end in consumer.end_offsets(tps).items())

    _rejected(capsys, check08.total_lag(from_zero, pipeline, "lag-group", pipeline.topics.telemetry), "counted from offset 0")

    def committed_or_first(consumer, topic):  # a commit that points at a deleted message counts the deleted ones
        from kafka import TopicPartition

        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        firsts = consumer.beginning_offsets(tps)
        return sum(end - (consumer.committed(tp) or firsts[tp]) for tp, end in consumer.end_offsets(tps).items())

    _rejected(capsys, check08.total_lag(committed_or_first, pipeline, "lag-group", pipeline.topics.telemetry),
              "a commit that points at deleted")

    def four_partitions(consumer, topic):  # the notebook's topic has 4: typed in, not asked
        from kafka import TopicPartition

        tps = [TopicPartition(topic, p) for p in range(4)]
        firsts = consumer.beginning_offsets(tps)
        return sum(end - max(consumer.committed(tp) or 0, firsts[tp]) for tp, end in consumer.end_offsets(tps).items())

    _rejected(capsys, check08.total_lag(four_partitions, pipeline, "lag-group", pipeline.topics.telemetry), "four partitions counted")

    def with_the_labs_rows(consumer, topic):  # the lab's own per-partition lag, under another name
        from labkit.config import Settings

        return sum(r["lag"] for r in kafka_io.lag_by_partition(Settings.from_env(), consumer.config["group_id"], topic))

    _rejected(capsys, check08.total_lag(with_the_labs_rows, pipeline, "lag-group", pipeline.topics.telemetry), "lag_by_partition")

    def by_reading(consumer, topic):  # counts messages by reading them: a subscribed consumer waits forever
        consumer.subscribe([topic])
        return sum(1 for _ in consumer)

    deadline, check08.LAG_DEADLINE_S = check08.LAG_DEADLINE_S, 3
    try:
        _rejected(capsys, check08.total_lag(by_reading, pipeline, "lag-group", pipeline.topics.telemetry),
                  "had not returned after 3 s")
    finally:
        check08.LAG_DEADLINE_S = deadline


def _numeric_order(partitions, workers):  # w2 before w10: Kafka sorts the ids as text
    padded = {f"w{int(w[1:]):04d}" if w[1:].isdigit() else w: w for w in workers}  # text order = numeric order
    return {padded[name]: parts for name, parts in nb09.range_assignment(partitions, list(padded)).items()}


def test_nb09_solutions(capsys):
    assert nb09.range_assignment(4, ["w2", "w1", "w3"]) == {"w1": [0, 1], "w2": [2], "w3": [3]}
    assert nb09.range_assignment(2, ["a", "b", "c"]) == {"a": [0], "b": [1], "c": []}
    assert check09.range_assignment(nb09.range_assignment)
    _rejected(capsys, check09.range_assignment(lambda n, ws: {w: list(range(i, n, len(ws))) for i, w in enumerate(sorted(ws))}),
              "round robin, not range")
    _rejected(capsys, check09.range_assignment(lambda n, ws: nb09.range_assignment(n, ["~"]) and {
        w: nb09.range_assignment(n, [f"{i:03d}" for i in range(len(ws))])[f"{i:03d}"] for i, w in enumerate(ws)}),
        "kept the workers in the order given")
    _rejected(capsys, check09.range_assignment(lambda n, ws: {w: p for w, p in nb09.range_assignment(n, ws).items() if p}),
              "left out")
    _rejected(capsys, check09.range_assignment(lambda n, ws: None), "returned None")
    assert _numeric_order(4, ["w2", "w1"]) == nb09.range_assignment(4, ["w2", "w1"])  # right until the ids reach w10
    _rejected(capsys, check09.range_assignment(_numeric_order), "w10", "by their numbers")
    _rejected(capsys, check09.range_assignment(lambda n, ws: {w: 1 for w in ws}), "whose value for key 'w1' is an int")
    _rejected(capsys, check09.range_assignment(lambda n, ws: [[0, 1], [2], [3]]), "expected a dict {worker: [partitions]}")

    keys = [f"CAR_{i:03d}" for i in range(1, 11) for _ in range(60)] + ["CAR_007"] * 540
    key, share = nb09.hot_key(keys, 4)
    assert key == "CAR_007" and share == max(
        sum(kafka_io.partition_for_key(k.encode(), 4) == p for k in keys) for p in range(4)) / len(keys)
    assert check09.hot_key(nb09.hot_key, keys, 4)
    assert not check09.hot_key(lambda ks, n: ("CAR_007", 540 / len(ks)), keys, 4)
    _rejected(capsys, check09.hot_key(lambda ks, n: ("CAR_007", ks.count("CAR_007") / len(ks)), keys, 4),
              "its own share")  # the key alone is not its partition

    def most_common_key(keys, partitions):  # the most frequent key overall, with its partition's share
        key = Counter(keys).most_common(1)[0][0]
        home = kafka_io.partition_for_key(key.encode(), partitions)
        return key, sum(kafka_io.partition_for_key(k.encode(), partitions) == home for k in keys) / len(keys)

    _rejected(capsys, check09.hot_key(most_common_key, keys, 4), "keys where the most frequent is alone", "not in the busiest")
    _rejected(capsys, check09.hot_key(lambda ks, n: "CAR_007", keys, 4), "expected a (key, share) pair")
    _rejected(capsys, check09.hot_key(lambda ks, n: ("CAR_007", 0.5, 3), keys, 4), "a tuple of 3 items")
    _rejected(capsys, check09.hot_key(lambda ks, n: None, keys, 4), "returned None")

    cars = {f"CAR_{i:03d}": 20.0 for i in range(1, 41)}
    assert nb09.partitions_for(cars, 450, 1.5) == 4 and nb09.partitions_for({"BUS": 500.0}, 450, 1.0) is None
    assert check09.partitions_for(nb09.partitions_for)
    even_split = lambda rates, per, headroom: math.ceil(sum(rates.values()) * headroom / per)  # noqa: E731
    _rejected(capsys, check09.partitions_for(even_split), "40 cars at 20/s")
    _rejected(capsys, check09.partitions_for(lambda rates, per, headroom: nb09.partitions_for(rates, per, 1.0)), "2x too low")
    _rejected(capsys, check09.partitions_for(lambda rates, per, headroom: nb09.partitions_for(rates, per, headroom) or 64),
              "a bus")
    _rejected(capsys, check09.partitions_for(lambda rates, per, headroom: None), "returned None")

    def strictly_below(rates, per_worker_rate, headroom):  # `<` where a partition may carry exactly a worker's rate
        for count in range(1, 65):
            load = Counter()
            for key, rate in rates.items():
                load[kafka_io.partition_for_key(key.encode(), count)] += rate
            if max(load.values()) * headroom < per_worker_rate:
                return count
        return None

    _rejected(capsys, check09.partitions_for(strictly_below), "one car at 100/s", "<=, not <")
    _rejected(capsys, check09.partitions_for(lambda rates, per, headroom: [1]), "expected a number")


def test_nb10_solutions(capsys):
    # One car, one reading a second; readings 20-29 s arrive together at 45 s (a tunnel).
    stream = [{"car_id": "CAR_001", "event_ms": t * 1000, "arrival_ms": t * 1000 + 200} for t in range(60) if not 20 <= t < 30]
    stream += [{"car_id": "CAR_001", "event_ms": t * 1000, "arrival_ms": 45_000 + t} for t in range(20, 30)]
    stream.sort(key=lambda e: e["arrival_ms"])
    candidates = [0, 2, 5, 10, 20, 30]
    assert nb10.smallest_lateness(stream, 1000, 1.0, candidates) == 20
    assert nb10.smallest_lateness(stream, 1000, 0.8, candidates) == 0  # 50 of 60 in time at once
    assert check10.smallest_lateness(nb10.smallest_lateness, stream, 1000, candidates, targets=(0.8, 1.0))
    assert not check10.smallest_lateness(lambda *a: 20, stream, 1000, candidates, targets=(0.8, 1.0))
    _rejected(capsys, check10.smallest_lateness(fall_through_lateness, stream, 1000, candidates, targets=(0.8, 1.0)),
              "'delay_ms=1000, target 1'", "yours is None")
    # Read off the notebook's table (its delay only): wrong once the delay changes.
    table = {0.8: nb10.smallest_lateness(stream, 1000, 0.8, candidates), 1.0: nb10.smallest_lateness(stream, 1000, 1.0, candidates)}
    assert nb10.smallest_lateness(stream, 11_000, 1.0, candidates) == 5 != table[1.0]
    _rejected(capsys, check10.smallest_lateness(lambda s, d, t, c: table[t], stream, 1000, candidates, targets=(0.8, 1.0)),
              "delay_ms=11000")
    _rejected(capsys, check10.smallest_lateness(lambda *a: (20, 1.0), stream, 1000, candidates, targets=(0.8, 1.0)),
              "you returned a tuple of 2 items; expected a number")
    _rejected(capsys, check10.smallest_lateness(_smallest_from_the_labs_table, stream, 1000, candidates, targets=(0.8, 1.0)),
              "calls lateness_trade_off")


def test_nb11_solutions(capsys):
    event = json.loads(_batch(count=1, invalid=0)[0].value)  # version 1, as the notebook's upgrade sends it
    assert nb11.speed_kmh({"speed": 50.0}) == nb11.speed_kmh({"schema_version": 2, "speed": 50.0}) == 50.0
    assert nb11.speed_kmh({"schema_version": 3, "speed_mps": 10.0}) == 36.0
    assert nb11.speed_kmh({"schema_version": 4, "speed": 50.0}) is None
    assert check11.speed_kmh(nb11.speed_kmh, event)
    assert check11.speed_kmh(lambda e: None if nb11.speed_kmh(e) is None else round(nb11.speed_kmh(e), 2), event)
    assert_rejected(capsys, check11.speed_kmh(lambda e: e["speed"], event),
                    "(for the version 3, speed_mps in m/s event)", "raised KeyError", no_traceback=True)
    _rejected(capsys, check11.speed_kmh(_speed_without_the_unit, event), "version 3, speed_mps in m/s", "about 3.6x too low")
    _rejected(capsys, check11.speed_kmh(_speed_of_known_versions_only, event), "version 1, no schema_version", "yours is None")
    _rejected(capsys, check11.speed_kmh(_speed_whenever_there_is_one, event), "version 4, unknown", "expected None")
    _rejected(capsys, check11.speed_kmh(_speed_by_the_field_there, event), "version 4, unknown, with a speed_m",
              "expected None")
    _rejected(capsys, check11.speed_kmh(lambda e: str(nb11.speed_kmh(e)), event),
              "(for the version 1, no schema_version event)", "you returned a string")


def test_sandbox_gives_a_fresh_namespace_each_time(services):
    first = sandbox.open(services, "98")
    produce_one = clients.kafka_producer(first.settings)
    produce_one.send(first.settings.topics.telemetry, b"x", key=b"k").get(timeout=10)
    produce_one.close()
    assert sum(kafka_io.end_offsets(first.settings, first.settings.topics.telemetry).values()) == 1
    again = sandbox.open(services, "98")
    assert again.settings.topics == first.settings.topics
    assert sum(kafka_io.end_offsets(again.settings, again.settings.topics.telemetry).values()) == 0
    assert again.now.second == 0 and again.now.microsecond == 0


# --------------------------------------------------------------------------- 03: groups and transactions


def _loaded_topic(settings, name, partitions=4, count=60):
    from labkit.ops.infra.topics import ensure_topics

    ensure_topics(settings, {name: partitions})
    producer = clients.kafka_producer(settings)
    for i in range(count):
        producer.send(name, key=f"CAR_{i % 10 + 1:03d}".encode(), value=f"reading {i}".encode())
    producer.flush()
    producer.close()
    return name


def _consumer_with_defaults(settings, topic, group):  # auto_offset_reset="latest", auto-commit on
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group, enable_auto_commit=False)
    consumer.subscribe([topic])
    return consumer


def _assigned_consumer(settings, topic, group):  # picks its partitions itself: no group sharing
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group,
                             enable_auto_commit=False, auto_offset_reset="earliest")
    consumer.assign([TopicPartition(topic, p) for p in range(4)])
    return consumer


def _auto_committing(settings, topic, group):
    consumer = nb03.group_consumer(settings, topic, group)
    consumer.config["enable_auto_commit"] = True  # as if made with the default
    return consumer


def test_nb03_group_consumer(pipeline, capsys):
    topic = _loaded_topic(pipeline, pipeline.topics.telemetry + ".groups")
    assert check03.group_consumer(nb03.group_consumer, pipeline, topic, "ex-03-1")
    _rejected(capsys, check03.group_consumer(_consumer_with_defaults, pipeline, topic, "ex-03-1"), "read 0 of the 60", "'latest'")
    _rejected(capsys, check03.group_consumer(_assigned_consumer, pipeline, topic, "ex-03-1"), "not subscribed")
    _rejected(capsys, check03.group_consumer(_auto_committing, pipeline, topic, "ex-03-1"), "enable_auto_commit")
    _rejected(capsys, check03.group_consumer(lambda *a: None, pipeline, topic, "ex-03-1"), "returned None")
    _rejected(capsys, check03.group_consumer(_the_labs_factory, pipeline, topic, "ex-03-1"), "calls kafka_consumer")


def _the_labs_factory(settings, topic, group):  # the notebook's member(): the lab sets the settings that matter
    consumer = clients.kafka_consumer(settings, group_id=group, auto_offset_reset="earliest")
    consumer.subscribe([topic])
    return consumer


def test_nb03_commit_on_revoke(pipeline, capsys):
    from kafka import AsyncConsumerRebalanceListener

    class Silent(AsyncConsumerRebalanceListener):  # commits nothing: the next owner reads it all again
        def __init__(self, consumer, done):
            pass

        async def on_partitions_revoked(self, revoked):
            pass

        async def on_partitions_assigned(self, assigned):
            pass

    class Position(nb03.CommitOnRevoke):  # commits the position: polled is not processed
        async def on_partitions_revoked(self, revoked):
            await self.consumer.commit_async()

    class Blocking(nb03.CommitOnRevoke):  # a blocking commit inside the consumer's event loop
        def on_partitions_revoked(self, revoked):
            self.consumer.commit()

    topic = _loaded_topic(pipeline, pipeline.topics.telemetry + ".revoke")
    assert check03.commit_on_revoke(nb03.CommitOnRevoke, pipeline, topic, "ex-03-2")
    _rejected(capsys, check03.commit_on_revoke(Silent, pipeline, topic, "ex-03-2"), "yours is None")
    # Committing the position is caught either way: by the committed offsets it leaves, or, when
    # the group is already rebalancing as the revoke runs, by the commit the broker refuses.
    verdict = check03.commit_on_revoke(Position, pipeline, topic, "ex-03-2")
    last = [line for line in capsys.readouterr().out.splitlines() if line[:1] in ("✔", "✘", "⏳")][-1]
    assert verdict is False and last.startswith("✘") and (
        "committed offset of partition" in last or "RebalanceInProgressError" in last), last
    _rejected(capsys, check03.commit_on_revoke(Blocking, pipeline, topic, "ex-03-2"), "your code raised")
    _rejected(capsys, check03.commit_on_revoke(lambda c, d: None, pipeline, topic, "ex-03-2"), "returned None")
    _rejected(capsys, check03.commit_on_revoke(lambda c, d: 0, pipeline, topic, "ex-03-2"), "a rebalance listener")


def _sent_outside_a_transaction(producer, topic, values):  # a transactional producer refuses it
    for value in values:
        producer.send(topic, value=value)
    producer.flush()
    return True


def _committed_anyway(producer, topic, values):  # what was sent before the failure shows
    producer.begin_transaction()
    sent_all = True
    for value in values:
        try:
            producer.send(topic, value=value)
        except Exception:
            sent_all = False
    producer.commit_transaction()
    return sent_all


def _a_transaction_per_value(producer, topic, values):  # each value is all or nothing, not the call
    for value in values:
        producer.begin_transaction()
        try:
            producer.send(topic, value=value)
        except Exception:
            producer.abort_transaction()
            return False
        producer.commit_transaction()
    return True


def _left_open(producer, topic, values):  # no abort: the next call cannot begin
    producer.begin_transaction()
    try:
        for value in values:
            producer.send(topic, value=value)
    except Exception:
        return False
    producer.commit_transaction()
    return True


def _raised(producer, topic, values):  # the failure is not handled
    producer.begin_transaction()
    for value in values:
        producer.send(topic, value=value)
    producer.commit_transaction()
    return True


def _aborted_but_says_committed(producer, topic, values):
    nb03.publish_all_or_nothing(producer, topic, values)
    return True


def test_nb03_all_or_nothing(pipeline, capsys):
    topic = pipeline.topics.telemetry + ".all-or-nothing"
    assert check03.all_or_nothing(nb03.publish_all_or_nothing, pipeline, topic)
    _rejected(capsys, check03.all_or_nothing(_sent_outside_a_transaction, pipeline, topic), "Cannot call send")
    _rejected(capsys, check03.all_or_nothing(_committed_anyway, pipeline, topic), "became visible", "abort")
    _rejected(capsys, check03.all_or_nothing(_a_transaction_per_value, pipeline, topic), "became visible")
    _rejected(capsys, check03.all_or_nothing(_left_open, pipeline, topic), "still open", "abort_transaction()")
    _rejected(capsys, check03.all_or_nothing(_raised, pipeline, topic), "your code raised MessageSizeTooLargeError")
    _rejected(capsys, check03.all_or_nothing(_aborted_but_says_committed, pipeline, topic), "returned")
    _rejected(capsys, check03.all_or_nothing(lambda *a: True, pipeline, topic), "wrong value for key 'returned'")  # a constant
    _rejected(capsys, check03.all_or_nothing(lambda *a: None, pipeline, topic), "returned None")
    _rejected(capsys, check03.all_or_nothing(lambda *a: "yes", pipeline, topic), "True (the transaction was committed)")


def _copier(commit_offsets):
    """A copier that gets its offsets wrong: commits them with the consumer ("before" or
    "after" the transaction's commit) instead of inside the transaction, or ("off by one")
    sends the last record's offset into the transaction instead of the next one; or commits
    right but sends each value without its key ("no keys") or returns the count as text ("as text")."""
    from kafka.structs import OffsetAndMetadata

    def copy(consumer, producer, target):
        producer.init_transactions()
        copied = 0
        while polled := consumer.poll(timeout_ms=1000):
            producer.begin_transaction()
            for records in polled.values():
                for record in records:
                    producer.send(target, key=None if commit_offsets == "no keys" else record.key, value=record.value)
                copied += len(records)
            if commit_offsets == "before":
                consumer.commit()
            if commit_offsets in ("off by one", "no keys", "as text"):
                shift = 0 if commit_offsets == "off by one" else 1
                producer.send_offsets_to_transaction({tp: OffsetAndMetadata(rs[-1].offset + shift, "", -1)
                                                      for tp, rs in polled.items()}, consumer.group_metadata())
            producer.commit_transaction()
            if commit_offsets == "after":
                consumer.commit()
        return str(copied) if commit_offsets == "as text" else copied

    return copy


def _copy_forever(consumer, producer, target):
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    producer.init_transactions()
    for record in consumer:
        producer.begin_transaction()
        producer.send(target, key=record.key, value=record.value)
        producer.send_offsets_to_transaction({TopicPartition(record.topic, record.partition):
                                              OffsetAndMetadata(record.offset + 1, "", -1)}, consumer.group_metadata())
        producer.commit_transaction()


def test_nb03_copy_in_a_transaction(pipeline, capsys):
    topic = _loaded_topic(pipeline, pipeline.topics.telemetry + ".copy", partitions=2, count=40)
    assert check03.copy_exactly_once(nb03.copy_exactly_once, pipeline, topic)
    _rejected(capsys, check03.copy_exactly_once(_copier("before"), pipeline, topic), "missing (crash before commit)")
    _rejected(capsys, check03.copy_exactly_once(_copier("after"), pipeline, topic), "duplicated (crash after commit)")
    _rejected(capsys, check03.copy_exactly_once(_copier("off by one"), pipeline, topic), "duplicated (crash after commit)")
    _rejected(capsys, check03.copy_exactly_once(_copier("no keys"), pipeline, topic), "not with its key")
    _rejected(capsys, check03.copy_exactly_once(_copier("as text"), pipeline, topic), "a whole number")

    def swallowing(consumer, producer, target):  # a bare except around the whole copy: the crash is caught too
        try:
            return nb03.copy_exactly_once(consumer, producer, target)
        except BaseException:  # noqa: BLE001  (the mistake under test)
            return 0

    _rejected(capsys, check03.copy_exactly_once(swallowing, pipeline, topic), "caught the crash")
    _rejected(capsys, check03.copy_exactly_once(lambda c, p, t: p.begin_transaction(), pipeline, topic), "your code raised")
    deadline, check03.COPY_DEADLINE_S = check03.COPY_DEADLINE_S, 5
    try:  # a record at a time from `for record in consumer:`, which never ends: stopped at the deadline
        _rejected(capsys, check03.copy_exactly_once(_copy_forever, pipeline, topic), "had not returned after 5 s")
    finally:
        check03.COPY_DEADLINE_S = deadline
    _rejected(capsys, check03.copy_exactly_once(lambda c, p, t: (p.init_transactions(), p.begin_transaction(), 0)[-1],
                                                pipeline, topic), "without calling commit_transaction")


def test_nb04_rewind_by_hand(services, capsys):
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    topic = services.topics.telemetry
    assert check04.rewind(nb04.rewind, services, topic)

    def commit(consumer, topic, offsets):
        consumer.commit({TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()})

    def found(consumer, topic, when_ms, partitions=None):  # partition -> offset, or None where nothing that recent
        tps = [TopicPartition(topic, p) for p in (partitions or consumer.partitions_for_topic(topic))]
        return {tp.partition: (f.offset if f else None)
                for tp, f in consumer.offsets_for_times({tp: when_ms for tp in tps}).items()}

    def ends(consumer, topic, partitions=None):
        tps = [TopicPartition(topic, p) for p in (partitions or consumer.partitions_for_topic(topic))]
        return {tp.partition: end for tp, end in consumer.end_offsets(tps).items()}

    def seek_only(consumer, topic, when_ms):  # moves this consumer, never the group
        offsets = {p: o for p, o in found(consumer, topic, when_ms).items() if o is not None}
        consumer.assign([TopicPartition(topic, p) for p in offsets])
        for p, o in offsets.items():
            consumer.seek(TopicPartition(topic, p), o)

    def in_seconds(consumer, topic, when_ms):  # a time in seconds: January 1970
        commit(consumer, topic, found(consumer, topic, when_ms // 1000))

    def to_the_beginning(consumer, topic, when_ms):  # "rewind" read as: start over
        commit(consumer, topic, {p: 0 for p in consumer.partitions_for_topic(topic)})

    def none_skipped(consumer, topic, when_ms):  # a partition with nothing that recent left where it was
        commit(consumer, topic, {p: o for p, o in found(consumer, topic, when_ms).items() if o is not None})

    def none_as_zero(consumer, topic, when_ms):  # ... or read again from its beginning
        commit(consumer, topic, {p: o or 0 for p, o in found(consumer, topic, when_ms).items()})

    def strictly_after(consumer, topic, when_ms):  # a record exactly at the time left out
        end = ends(consumer, topic)
        commit(consumer, topic, {p: end[p] if o is None else o for p, o in found(consumer, topic, when_ms + 1).items()})

    def one_before(consumer, topic, when_ms):  # the last record before the time, not the first after it
        end = ends(consumer, topic)
        commit(consumer, topic, {p: max(0, (end[p] if o is None else o) - 1) for p, o in found(consumer, topic, when_ms).items()})

    def the_lab_topics_partitions(consumer, topic, when_ms):  # a count it knows, not the topic's partitions
        end = ends(consumer, topic, range(4))
        commit(consumer, topic, {p: end[p] if o is None else o for p, o in found(consumer, topic, when_ms, range(4)).items()})

    def subscribed(consumer, topic, when_ms):  # joins the group first: its commit is refused
        consumer.subscribe([topic])
        commit(consumer, topic, {p: 0 for p in consumer.partitions_for_topic(topic)})

    def stub(consumer, topic, when_ms):
        raise NotImplementedError

    _rejected(capsys, check04.rewind(seek_only, services, topic), "nothing changed", "seek")
    _rejected(capsys, check04.rewind(in_seconds, services, topic), "back to 0", "milliseconds")
    _rejected(capsys, check04.rewind(to_the_beginning, services, topic), "back to 0")
    _rejected(capsys, check04.rewind(none_skipped, services, topic), "partition 3", "None", "end")
    _rejected(capsys, check04.rewind(none_as_zero, services, topic), "partition 3", "None")
    _rejected(capsys, check04.rewind(strictly_after, services, topic), "exactly that time")
    _rejected(capsys, check04.rewind(one_before, services, topic), "one below")
    _rejected(capsys, check04.rewind(the_lab_topics_partitions, services, topic), "partition 4", "five partitions")
    _rejected(capsys, check04.rewind(subscribed, services, topic), "subscribed")
    assert check04.rewind(stub, services, topic) is False
    assert capsys.readouterr().out.startswith("⏳ 04.1")
