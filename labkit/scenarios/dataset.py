"""Load simulated fleet readings straight into MongoDB, fast (for query practice and benchmarks).

This bypasses Kafka and the processor on purpose: it is for studying queries over a known
dataset, not for studying ingestion. Documents have exactly the processor's layout, and
with `episode_rate` > 0 the anomaly episodes are injected and detected as the processor
would, so the anomalies collection has something to count too.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from labkit.config import Settings
from labkit.contract import to_ms
from labkit.process.detectors import AnomalyDetector
from labkit.process.validation import validate
from labkit.simulate.faults import FaultRates
from labkit.simulate.simulator import SimConfig, Simulator
from labkit.store import rollups
from labkit.store.mongo import update_latest
from labkit.store.sinks import MongoStore


def load_fleet(db, settings: Settings, cars: int, seconds: int, start: datetime, seed: int = 3,
               batch: int = 5000, progress: bool = False, episode_rate: float = 0.0) -> int:
    """Insert `cars` x `seconds` readings (1 Hz) from `start` into the telemetry collection,
    their anomalies into the anomalies collection, update the latest-state collection, build
    the rollups and create the indexes. Deterministic for a given seed. Idempotent: loading the
    same dataset again stores nothing twice. Returns the number of readings inserted by this call."""
    store = MongoStore(db, settings)  # the processor's writes
    store.prepare()
    bar = None
    if progress:
        from labkit.ops.progress import Progress

        bar = Progress(cars * seconds, "loading", unit="documents")
    faults = FaultRates(episode=episode_rate, invalid=0.0, duplicate=0.0, late=0.0)
    simulator = Simulator(SimConfig(cars=cars, seed=seed, faults=faults))
    now = start + timedelta(seconds=seconds + 1)  # the validator's clock: just after the last reading
    detector = AnomalyDetector()
    docs, found, newest, inserted, times = [], [], {}, 0, {}
    for message in simulator.messages(duration_s=seconds, start=start):
        event = validate(message.value, now).event
        docs.append(event)
        found += [dict(a.as_record(), _id=a.anomaly_id) for a in detector.detect(event)]
        newest[event["car_id"]] = event
        times.setdefault(event["car_id"], []).append(to_ms(event["timestamp"]))
        if len(docs) == batch:
            inserted += _flush(store, docs, found, bar)
            docs, found = [], []
    inserted += _flush(store, docs, found, bar)
    if bar:
        bar.close()
    # What the processor derives per batch (store.update_derived), here once at the end: a
    # batch holds a few seconds of every car, so per-batch rebuilds would read each minute's
    # readings a dozen times.
    update_latest(db[settings.collections.latest], list(newest.values()))
    rollups.refresh(db, settings, times)
    return inserted


def _flush(store: MongoStore, events: list[dict], found: list[dict], bar) -> int:
    """The processor's idempotent inserts: loading the same dataset twice stores it once."""
    inserted = store.insert_events(events).inserted
    store.insert_anomalies(found)
    if bar:
        bar.update(len(events))
    return inserted
