"""The reference solutions pass the same checks the notebooks use."""

from labkit import exercises, kafka_io
from labkit.infra.topics import describe_topics
from labkit.solutions import nb00, nb01


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
