"""Load clean fleet readings straight into MongoDB, fast (for query practice and benchmarks).

This bypasses Kafka and the processor on purpose: it is for studying queries over a known
dataset, not for studying ingestion. Documents have exactly the processor's layout.
"""

from __future__ import annotations

from datetime import datetime

from labkit.config import Settings
from labkit.fleet import Fleet, FleetConfig
from labkit.store import ensure_indexes, event_document, update_latest


def load_fleet(db, settings: Settings, cars: int, seconds: int, start: datetime, seed: int = 3,
               batch: int = 5000, progress: bool = False) -> int:
    """Insert `cars` x `seconds` readings (1 Hz) from `start` into the telemetry collection,
    update the latest-state collection, create the indexes. Returns the number inserted."""
    ensure_indexes(db, settings)
    telemetry = db[settings.collections.telemetry]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=cars * seconds, unit="doc", desc="loading", mininterval=0.5)
    docs, newest, inserted = [], {}, 0
    for _, reading in Fleet(FleetConfig(cars=cars, seed=seed)).readings(start, duration_s=seconds):
        event = dict(reading, timestamp=datetime.fromisoformat(reading["timestamp"]),
                     event_id=f"{reading['car_id']}-{reading['seq']}")
        docs.append(event_document(event))
        newest[event["car_id"]] = event
        if len(docs) == batch:
            telemetry.insert_many(docs, ordered=False)
            inserted += len(docs)
            bar and bar.update(len(docs))
            docs = []
    if docs:
        telemetry.insert_many(docs, ordered=False)
        inserted += len(docs)
        bar and bar.update(len(docs))
    if bar:
        bar.close()
    update_latest(db[settings.collections.latest], list(newest.values()))
    return inserted
