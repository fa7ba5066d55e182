"""Seeded data for the API tests (test_api, test_api_fuzz, test_dashboards, notebook 07's
check): two cars, one anomaly, one metrics window and one malformed document, written five
minutes before the moment `seed` runs.

`SEEDED.now` and `SEEDED.t0` are read when a test runs, not when tests are collected: the
tiers can run in any order and for any time before these tests, and "five minutes ago" stays
five minutes ago.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from labkit import contract
from labkit.ops import clients
from labkit.store.mongo import ensure_indexes, write_anomalies, write_events


@dataclass
class Seeded:
    now: datetime  # on a whole minute, so bucket edges align with minutes
    t0: datetime  # five minutes earlier: the first reading


SEEDED = Seeded(now=datetime.now(timezone.utc), t0=datetime.now(timezone.utc))


def ms(at: datetime) -> str:
    return str(contract.to_ms(at))


def ev(car, second, speed, **extra):
    base = {"car_id": car, "event_id": f"{car}-{second}", "seq": second + 1, "timestamp": SEEDED.t0 + timedelta(seconds=second),
            "speed": float(speed), "rpm": 2000, "engine_temp": 90.0, "fuel_level": 50.0, "latitude": 52.5, "longitude": 13.4}
    base.update(extra)
    return base


def seed(pipeline) -> Seeded:
    """Write the data into `pipeline`'s database, timed from now; returns (and sets) SEEDED."""
    SEEDED.now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    SEEDED.t0 = SEEDED.now - timedelta(minutes=5)
    t0 = SEEDED.t0
    mongo = clients.mongo_client(pipeline)
    db = mongo[pipeline.mongodb_db]
    ensure_indexes(db, pipeline)
    events = [ev("CAR_001", s, s) for s in range(60)] + [ev("CAR_002", 30, 190.0)]
    write_events(db, pipeline, events)
    write_anomalies(db, pipeline, [
        {"_id": "x:overspeed", "event_id": "CAR_002-30", "car_id": "CAR_002", "timestamp": t0 + timedelta(seconds=30),
         "type": "overspeed", "value": 190.0, "threshold": 180.0, "detector": "rule"}])
    db[pipeline.collections.metrics].insert_one(
        {"_id": "p:1", "window_start_ms": contract.to_ms(t0), "window_s": 10, "processed": 61, "valid": 61, "stored": 61,
         "invalid": 0, "duplicates": 0, "anomalies": 1, "invalid_by_reason": {}, "anomalies_by_type": {"overspeed": 1},
         "batches": 1, "batch_latency_ms_avg": 12.0, "consumer_lag": 0, "newest_event_ms": contract.to_ms(t0 + timedelta(seconds=59))})
    # A malformed document must not turn into a 500.
    db[pipeline.collections.telemetry].insert_one(
        {"_id": "bad", "car_id": "CAR_001", "timestamp": t0 + timedelta(seconds=61), "speed": "fast"})
    mongo.close()
    return SEEDED
