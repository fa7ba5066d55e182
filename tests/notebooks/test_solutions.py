"""The reference solutions pass the same checks the notebooks use."""

from labkit import exercises, kafka_io
from labkit.infra.topics import describe_topics
from labkit.solutions import nb00


def test_nb00_solutions(services):
    expected = describe_topics(services)[services.topics.telemetry]
    assert exercises.check("00.1", exercises.attempt(nb00.telemetry_partition_count, services), expected)
    records = kafka_io.round_trip(services, count=3)
    expected = kafka_io.partition_for_key(b"CAR_002", services.telemetry_partitions)
    assert exercises.check("00.2", exercises.attempt(nb00.partition_of_key, records, b"CAR_002"), expected)
