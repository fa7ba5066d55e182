"""The reference solutions pass the very checks the notebooks use (`labkit.teach.checks`), and the
checks reject a wrong answer: a check that cannot fail grades nothing."""

import json
from datetime import datetime, timedelta, timezone

from pymongo import MongoClient

from labkit import contract
from labkit.ops import clients, kafka_io, sandbox
from labkit.ops.infra.topics import describe_topics
from labkit.simulate.faults import FaultRates
from labkit.simulate.simulator import SimConfig, Simulator, backfill_start
from labkit.teach import exercises
from labkit.teach.checks import nb00 as check00
from labkit.teach.checks import nb01 as check01
from labkit.teach.checks import nb02 as check02
from labkit.teach.checks import nb03 as check03
from labkit.teach.checks import nb04 as check04
from labkit.teach.checks import nb05 as check05
from labkit.teach.checks import nb06 as check06
from labkit.teach.checks import nb07 as check07
from labkit.teach.solutions import nb00, nb01, nb02, nb03, nb04, nb05, nb06, nb07

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def _batch(cars=4, count=300, invalid=0.05, seed=12):
    config = SimConfig(cars=cars, seed=seed, faults=FaultRates(episode=0, invalid=invalid, duplicate=0.02, late=0))
    return list(Simulator(config).messages(count=count, start=backfill_start(config, count=count, now=NOW)))


def test_nb00_solutions(services):
    expected = describe_topics(services)[services.topics.telemetry]
    assert exercises.check("00.1", exercises.attempt(nb00.telemetry_partition_count, services), expected)
    records = kafka_io.round_trip(services, count=3)
    assert check00.read_at(nb00.read_at, services, records[-1])
    assert not check00.read_at(lambda *args: b"something else", services, records[-1])


def test_nb01_solutions(pipeline):
    from labkit.ops.infra.topics import ensure_topics

    topic = pipeline.topics.telemetry + ".ex1"
    ensure_topics(pipeline, {topic: 4})
    events = [json.loads(m.value) for m in _batch(invalid=0)[:5]]
    assert check01.send_keyed(nb01.send_keyed, pipeline, topic, events)
    assert not check01.send_keyed(lambda p, t, ev: [(0, 0)] * len(ev), pipeline, topic, events)
    assert check01.negative_speed(nb01.negative_speed, events[0])
    assert not check01.negative_speed(lambda e: json.dumps(dict(e, speed=-1, rpm=0)).encode(), events[0])
    assert check01.count_per_partition(nb01.count_per_partition, pipeline, topic)
    assert not check01.count_per_partition(lambda c, t: {0: 1}, pipeline, topic)


def test_nb02_solutions(pipeline):
    good = {"car_id": "CAR_001", "timestamp": (NOW - timedelta(seconds=5)).isoformat(), "speed": 59.8, "rpm": 2947,
            "engine_temp": 95.0, "fuel_level": 33.0, "latitude": 52.5, "longitude": 13.4, "event_id": "e1", "seq": 1}
    assert check02.city_rule(nb02.validate_with_city_limit, good, NOW)
    assert not check02.city_rule(lambda raw, now: nb02.validate_with_city_limit(raw, now, limit_kmh=199), good, NOW)

    batch = _batch()
    client = MongoClient(pipeline.mongodb_uri, tz_aware=True)
    db = client[pipeline.mongodb_db]
    raws = [m.value for m in batch]
    assert check02.idempotent_store(nb02.store_events, db["ex2"], raws, NOW)
    assert not check02.idempotent_store(lambda coll, raws, now: coll.insert_many([{"x": 1}]) and 1, db["ex2"], raws, NOW)

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
    client.close()


def test_nb03_solutions(pipeline):
    from labkit.scenarios.dataset import load_fleet

    start = datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc)
    end = start + timedelta(seconds=300)
    client = MongoClient(pipeline.mongodb_uri, tz_aware=True)
    db = client[pipeline.mongodb_db]
    assert load_fleet(db, pipeline, 12, 300, start, seed=3) == 3600
    coll = pipeline.collections.telemetry
    assert check03.max_speed_per_minute(nb03.max_speed_per_car_per_minute, db, coll, start, end)
    assert not check03.max_speed_per_minute(lambda *a: nb03.max_speed_per_car_per_minute(*a)[1:], db, coll, start, end)
    assert check03.never_stopped(nb03.cars_that_never_stopped, db, coll, start, end)
    assert not check03.never_stopped(lambda *a: ["CAR_999"], db, coll, start, end)
    client.close()


def test_nb04_solutions(pipeline):
    from tests.api_seed import seed

    seeded = seed(pipeline)
    rng = {"from": str(contract.to_ms(seeded.t0)), "to": str(contract.to_ms(seeded.now))}
    assert check04.max_speed_route(nb04.add_max_speed_route, pipeline, "CAR_002", rng)
    assert not check04.max_speed_route(nb04.add_broken_route, pipeline, "CAR_002", rng)
    assert check04.max_speed_test(nb04.test_max_speed, pipeline, "CAR_002", rng)
    assert not check04.max_speed_test(lambda *args: True, pipeline, "CAR_002", rng)  # passes the broken one too


def test_nb05_solutions(pipeline):
    from labkit.scenarios.dataset import load_fleet
    from labkit.simulate.producer import produce

    start = datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc)
    client = MongoClient(pipeline.mongodb_uri, tz_aware=True)
    load_fleet(client[pipeline.mongodb_db], pipeline, 5, 300, start, seed=3, episode_rate=0.01)
    client.close()
    end = start + timedelta(seconds=300)
    assert check05.anomalies_per_type(nb05.anomalies_per_type, pipeline, start, end)
    assert not check05.anomalies_per_type(lambda *a: {}, pipeline, start, end)

    produce(pipeline, _batch(count=40, invalid=0))
    assert check05.total_lag(nb05.total_lag, pipeline, "lag-group", pipeline.topics.telemetry)
    assert not check05.total_lag(lambda c, t: 0, pipeline, "lag-group", pipeline.topics.telemetry)


def test_nb06_solutions():
    assert nb06.range_assignment(4, ["w2", "w1", "w3"]) == {"w1": [0, 1], "w2": [2], "w3": [3]}
    assert nb06.range_assignment(2, ["a", "b", "c"]) == {"a": [0], "b": [1], "c": []}
    assert check06.range_assignment(nb06.range_assignment)
    assert not check06.range_assignment(lambda n, ws: {w: list(range(i, n, len(ws))) for i, w in enumerate(sorted(ws))})

    keys = [f"CAR_{i:03d}" for i in range(1, 11) for _ in range(60)] + ["CAR_007"] * 540
    key, share = nb06.hot_key(keys, 4)
    assert key == "CAR_007" and share == max(
        sum(kafka_io.partition_for_key(k.encode(), 4) == p for k in keys) for p in range(4)) / len(keys)
    assert check06.hot_key(nb06.hot_key, keys, 4)
    assert not check06.hot_key(lambda ks, n: ("CAR_007", 540 / len(ks)), keys, 4)  # the key alone is not its partition

    assert nb06.partitions_for(1000, 450, 2.0) == 5
    assert check06.partitions_for(nb06.partitions_for)
    assert not check06.partitions_for(lambda rate, per, headroom: round(rate / per))


def test_nb07_solutions():
    # One car, one reading a second; readings 20-29 s arrive together at 45 s (a tunnel).
    stream = [{"car_id": "CAR_001", "event_ms": t * 1000, "arrival_ms": t * 1000 + 200} for t in range(60) if not 20 <= t < 30]
    stream += [{"car_id": "CAR_001", "event_ms": t * 1000, "arrival_ms": 45_000 + t} for t in range(20, 30)]
    stream.sort(key=lambda e: e["arrival_ms"])
    candidates = [0, 2, 5, 10, 20, 30]
    assert nb07.smallest_lateness(stream, 1000, 1.0, candidates) == 20
    assert nb07.smallest_lateness(stream, 1000, 0.8, candidates) == 0  # 50 of 60 in time at once
    assert check07.smallest_lateness(nb07.smallest_lateness, stream, 1000, candidates, targets=(0.8, 1.0))
    assert not check07.smallest_lateness(lambda *a: 20, stream, 1000, candidates, targets=(0.8, 1.0))

    event = json.loads(_batch(count=1, invalid=0)[0].value)
    assert check07.upgrade(nb07.upgrade, event)
    assert not check07.upgrade(lambda e, km, v: {**e, "odometer_km": km, "battery_v": v}, event)  # no version: dropped
    assert not check07.upgrade(lambda e, km, v: e.update(schema_version=2, odometer_km=km, battery_v=v) or e, dict(event))


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
