"""The reference solutions pass the same checks the notebooks use."""

from labkit import exercises, kafka_io
from labkit.infra.topics import describe_topics
from labkit.solutions import nb00, nb01, nb02, nb03, nb04, nb05


def test_nb00_solutions(services):
    expected = describe_topics(services)[services.topics.telemetry]
    assert exercises.check("00.1", exercises.attempt(nb00.telemetry_partition_count, services), expected)
    records = kafka_io.round_trip(services, count=3)
    expected = kafka_io.partition_for_key(b"CAR_002", services.telemetry_partitions)
    assert exercises.check("00.2", exercises.attempt(nb00.partition_of_key, records, b"CAR_002"), expected)


def test_nb01_solutions(services):
    import json
    from datetime import datetime, timezone

    from labkit.fleet import Fleet, FleetConfig

    records = kafka_io.round_trip(services, count=6)
    expected = {}
    for r in records:
        expected[r.partition] = expected.get(r.partition, 0) + 1
    assert exercises.check("01.1", exercises.attempt(nb01.events_per_partition, records), expected)

    event = {"car_id": "CAR_001", "speed": 42.0, "rpm": 2000}
    back = json.loads(nb01.negative_speed(event))
    assert back["speed"] < 0 and back["rpm"] == 2000 and back["car_id"] == "CAR_001"

    trip = [r for _, r in Fleet(FleetConfig(cars=1, seed=7)).readings(datetime(2026, 1, 1, tzinfo=timezone.utc), duration_s=600)]
    share = nb01.stopped_share(trip)
    assert 0 < share < 1
    assert share == sum(r["speed"] == 0 for r in trip) / len(trip)


def test_nb02_solutions():
    import json
    from datetime import datetime, timedelta, timezone

    from labkit import contract
    from labkit.evaluation import truth_pairs
    from labkit.faults import FaultRates
    from labkit.simulator import SimConfig, Simulator, backfill_start

    now = datetime.now(timezone.utc)
    good = {"car_id": "CAR_001", "timestamp": (now - timedelta(seconds=5)).isoformat(), "speed": 59.8, "rpm": 2947,
            "engine_temp": 95.0, "fuel_level": 33.0, "latitude": 52.5, "longitude": 13.4, "event_id": "e1", "seq": 1}
    assert nb02.validate_with_city_limit(json.dumps(good).encode(), now).ok
    fast = nb02.validate_with_city_limit(json.dumps(dict(good, speed=230.0)).encode(), now)
    assert (fast.ok, fast.reason) == (False, "range:speed")
    assert nb02.validate_with_city_limit(b"\xff", now).reason == "not_json"

    config = SimConfig(cars=10, seed=11, faults=FaultRates(episode=0.006, invalid=0.03, duplicate=0.01, late=0.01))
    batch = list(Simulator(config).messages(count=2000, start=backfill_start(config, count=2000, now=now)))
    best = nb02.tuned_temp_rise_threshold(batch, truth_pairs(batch), now)
    assert best in (0.5, 1.0, 1.5, 2.0, 3.0, 5.0)
    assert best <= 2 * contract.TEMP_RISE_C_PER_S  # the contract's default is near the best


def test_nb03_solutions(pipeline):
    from datetime import datetime, timedelta, timezone

    import pandas as pd
    from pymongo import MongoClient

    from labkit import queries
    from labkit.dataset import load_fleet

    start = datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc)
    end = start + timedelta(seconds=300)
    client = MongoClient(pipeline.mongodb_uri, tz_aware=True)
    db = client[pipeline.mongodb_db]
    assert load_fleet(db, pipeline, 12, 300, start, seed=3) == 3600
    coll = pipeline.collections.telemetry
    frame = pd.DataFrame(list(db[coll].find({}, {"_id": 0, "car_id": 1, "timestamp": 1, "speed": 1})))
    frame["minute"] = frame["timestamp"].map(lambda t: queries.to_ms(t) // 60_000 * 60_000)
    expected = (frame.groupby(["car_id", "minute"], as_index=False)["speed"].max()
                .rename(columns={"speed": "max_speed"}).to_dict("records"))
    assert exercises.check("03.1", nb03.max_speed_per_car_per_minute(db, coll, start, end), expected)
    movers = sorted(c for c, g in frame.groupby("car_id") if (g["speed"] > 0).all())
    assert exercises.check("03.2", nb03.cars_that_never_stopped(db, coll, start, end), movers)
    client.close()


def test_nb04_solutions(pipeline):
    from fastapi.testclient import TestClient

    from labkit import queries
    from labkit.api import create_app
    from tests.integration.test_api import NOW, T0, seed

    seed(pipeline)
    start, end = str(queries.to_ms(T0)), str(queries.to_ms(NOW))
    with TestClient(nb04.add_max_speed_route(create_app(pipeline))) as client:
        body = client.get("/stats/max_speed", params={"car_id": "CAR_002", "start": start, "end": end}).json()
        assert body == {"car_id": "CAR_002", "max_speed": 190.0}
        assert nb04.check_max_speed_route(client, "CAR_002", 190.0, start, end)
        assert not nb04.check_max_speed_route(client, "CAR_002", 189.0, start, end)  # the test can fail


def test_nb05_solutions():
    rows = [{"reason": "not_json", "count": 3}, {"reason": "range:speed", "count": 7}, {"reason": "oversize", "count": 7}]
    assert nb05.most_common_reason(rows) == "range:speed"
    assert nb05.most_common_reason([]) is None
    assert [nb05.is_stale(h) for h in ({"freshness_s": 3.0}, {"freshness_s": 31.0}, {"freshness_s": None})] == [False, True, True]
