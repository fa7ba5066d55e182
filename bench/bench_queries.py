"""Query latency over a large dataset: the latest-state pattern vs a scan, indexes vs none.

    python bench/bench_queries.py [--cars 1000] [--seconds 1000] [--repeat 3] [--record]

Loads cars x seconds clean readings (default 1,000,000) straight into MongoDB with
insert_many (not through Kafka: this measures queries, not ingestion) into the database
`bench_queries` (kept between runs; reloaded only if its size differs), then times each
query `--repeat` times and reports the median:

  fleet latest, latest-state collection   one document per car (what the API uses)
  fleet latest, scan + $group             the same answer computed from all telemetry
  series 10 min, 1 car, 10 s buckets      with the car_id+timestamp index, then without
  series 10 min, 1 car, raw               with the index, then without
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pymongo import MongoClient

from labkit import contract, queries
from labkit.config import Settings
from labkit.dataset import load_fleet
from labkit.store import ensure_indexes
from report import table

RESULTS = Path(__file__).parent / "results" / "queries.md"
START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def load(db, settings: Settings, cars: int, seconds: int) -> float:
    """Load the dataset unless a dataset of this size is already there; return seconds taken."""
    if db[settings.collections.telemetry].estimated_document_count() == cars * seconds:
        return 0.0
    db.client.drop_database(db.name)
    began = time.perf_counter()
    load_fleet(db, settings, cars, seconds, START)
    return time.perf_counter() - began


def timed(fn, repeat: int) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cars", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    settings = Settings.from_env().replace(mongodb_db="bench_queries")
    client = MongoClient(settings.mongodb_uri, tz_aware=True)
    db = client[settings.mongodb_db]
    load_s = load(db, settings, args.cars, args.seconds)
    n = db[settings.collections.telemetry].estimated_document_count()
    server = client.server_info().get("version", "?")
    now = START + timedelta(seconds=args.seconds)
    window = (START + timedelta(seconds=args.seconds // 2), START + timedelta(seconds=args.seconds // 2 + 600))
    rows = []

    ms, fleet = timed(lambda: queries.fleet_latest(db, settings, now=now), args.repeat)
    rows.append(("fleet latest: latest-state collection", ms, len(fleet)))
    scan = [{"$sort": {"timestamp": 1}}, {"$group": {"_id": "$car_id", "t": {"$last": "$timestamp"}, "speed": {"$last": "$speed"}}}]
    ms, scanned = timed(lambda: list(db[settings.collections.telemetry].aggregate(scan, allowDiskUse=True)), args.repeat)
    rows.append(("fleet latest: scan + $group over all telemetry", ms, len(scanned)))

    def series_rows(label):
        ms, r = timed(lambda: queries.series(db, settings, contract.car_id(args.cars // 2), "speed", *window, bucket_ms=10_000), args.repeat)
        rows.append((f"series 10 min, 1 car, 10 s buckets ({label})", ms, len(r)))
        ms, r = timed(lambda: queries.series(db, settings, contract.car_id(args.cars // 2), "speed", *window, raw=True), args.repeat)
        rows.append((f"series 10 min, 1 car, raw ({label})", ms, len(r)))

    series_rows("car_id+timestamp index")
    telemetry = db[settings.collections.telemetry]
    telemetry.drop_index("car_id_timestamp")
    telemetry.drop_index("timestamp")
    series_rows("no index")
    ensure_indexes(db, settings)  # leave the dataset as it was
    client.close()

    table(f"{n:,} events, {args.cars} cars, server {server}" + (f", load {load_s:.0f} s" if load_s else ", dataset reused"),
          f"python bench/bench_queries.py --cars {args.cars} --seconds {args.seconds} --repeat {args.repeat}",
          ("query", "median ms", "rows"), [(name, f"{ms:,.1f}", f"{count:,}") for name, ms, count in rows],
          RESULTS if args.record else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
