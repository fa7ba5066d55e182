"""A rolling upgrade end to end: version-1 and version-2 producers at once, one processor,
the API; and a version the processor does not know goes to the DLQ with its own reason."""

import json
import uuid

from fastapi.testclient import TestClient
from pymongo import MongoClient

from labkit.api import create_app
from labkit.ops import clients
from labkit.process.processor import Processor, ProcessorConfig
from labkit.simulate.faults import FaultRates
from labkit.simulate.producer import produce
from labkit.simulate.simulator import SimConfig, Simulator, backfill_start


def test_v1_and_v2_cars_together_and_an_unknown_version_is_dead_lettered(pipeline):
    config = SimConfig(cars=4, seed=21, v2_share=0.5, faults=FaultRates.none())
    messages = list(Simulator(config).messages(count=400, start=backfill_start(config, count=400)))
    future = {**json.loads(messages[0].value), "event_id": "v3-1", "schema_version": 3, "tyre_bar": 2.2}
    produce(pipeline, messages)

    producer = clients.kafka_producer(pipeline)
    producer.send(pipeline.topics.telemetry, key=b"CAR_001", value=json.dumps(future).encode())
    producer.flush()
    producer.close()

    stats = Processor(pipeline, ProcessorConfig(group_id=f"g-{uuid.uuid4().hex[:6]}")).run(idle_timeout_s=3)
    assert (stats.processed, stats.stored, dict(stats.invalid_by_reason)) == (401, 400, {"unsupported_version": 1})

    with MongoClient(pipeline.mongodb_uri, tz_aware=True) as client:
        db = client[pipeline.mongodb_db]
        versions = {}
        for doc in db[pipeline.collections.telemetry].find():
            versions.setdefault((doc["car_id"], doc["schema_version"]), []).append(doc.get("odometer_km"))
    assert sorted(versions) == [("CAR_001", 2), ("CAR_002", 2), ("CAR_003", 1), ("CAR_004", 1)]
    assert all(km is not None for car, v in versions if v == 2 for km in versions[(car, v)])
    assert all(km is None for car, v in versions if v == 1 for km in versions[(car, v)])

    with TestClient(create_app(pipeline)) as api:
        fleet = {c["car_id"]: c for c in api.get("/fleet/latest", params={"offline_after_s": 3600}).json()}
        dlq = api.get("/dlq/reasons").json()
    assert fleet["CAR_001"]["schema_version"] == 2 and fleet["CAR_001"]["battery_v"] in (12.6, 14.1)
    assert fleet["CAR_003"]["schema_version"] == 1 and fleet["CAR_003"]["odometer_km"] is None
    assert {"reason": "unsupported_version", "count": 1} in dlq
