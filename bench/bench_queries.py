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
import dataclasses
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from report import table

from labkit import contract
from labkit.config import Settings
from labkit.ops import clients
from labkit.ops.waiting import wait_until
from labkit.scenarios.dataset import load_fleet
from labkit.store import queries

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
    parser.add_argument("--memory-server", type=int, metavar="PORT",
                        help="start the lab's MongoDB-wire server with its in-memory backend on PORT and use it")
    args = parser.parse_args()
    settings = Settings.from_env().replace(mongodb_db="bench_queries")
    server_process = None
    if args.memory_server:
        server_process = start_memory_server(args.memory_server)
        settings = settings.replace(mongodb_uri=f"mongodb://127.0.0.1:{args.memory_server}")
    try:
        return run(args, settings)
    finally:
        if server_process is not None:
            server_process.terminate()
            server_process.wait(timeout=30)


def start_memory_server(port: int):
    """The same mongo-java-server, MemoryBackend, big heap: 1M events do not fit the H2 store."""
    import subprocess

    from labkit.ops.infra import local
    from labkit.ops.infra.readiness import mongodb_ready

    local.ensure_jars()
    process = subprocess.Popen(["java", "-Xmx8g", "-XX:+UseParallelGC", "-cp", local.classpath(),
                                "lab.MongoWireServer", "127.0.0.1", str(port), "memory"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    probe = Settings.from_env().replace(mongodb_uri=f"mongodb://127.0.0.1:{port}")
    try:
        wait_until(lambda: mongodb_ready(probe), 180, poll_s=0.5, what="the in-memory MongoDB-wire server")
    except TimeoutError:
        process.kill()
        raise RuntimeError("the in-memory MongoDB-wire server did not start") from None
    return process


def wait_for_api(base: str, timeout_s: float = 60.0) -> None:
    """Return once the API at `base` answers /health with 200 (TimeoutError after `timeout_s`)."""
    import httpx

    def healthy() -> bool:
        try:
            return httpx.get(base + "/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, timeout_s, poll_s=0.2, what=f"the API at {base}")


def run(args, settings: Settings) -> int:
    # No time limit on a reply (pymongo's default): a bench's load, drop or slow query may take minutes.
    client = clients.mongo_client(settings, socketTimeoutMS=None)
    db = client[settings.mongodb_db]
    load_s = load(db, settings, args.cars, args.seconds)
    n = db[settings.collections.telemetry].estimated_document_count()
    server = client.server_info().get("version", "?")
    now = START + timedelta(seconds=args.seconds)
    window = (START + timedelta(seconds=max(0, args.seconds - 600)), START + timedelta(seconds=args.seconds))
    rows = []

    ms, fleet = timed(lambda: queries.fleet_latest(db, settings, now=now), args.repeat)
    rows.append(("fleet latest: latest-state collection", ms, len(fleet)))
    scan = [{"$sort": {"timestamp": 1}}, {"$group": {"_id": "$car_id", "t": {"$last": "$timestamp"}, "speed": {"$last": "$speed"}}}]
    ms, scanned = timed(lambda: list(db[settings.collections.telemetry].aggregate(scan, allowDiskUse=True)), args.repeat)
    rows.append(("fleet latest: scan + $group over all telemetry", ms, len(scanned)))

    def series_rows(label, where: Settings):
        ms, r = timed(lambda: queries.series(db, where, contract.car_id(args.cars // 2), "speed", *window, bucket_ms=10_000), args.repeat)
        rows.append((f"series 10 min, 1 car, 10 s buckets ({label})", ms, len(r)))
        ms, r = timed(lambda: queries.series(db, where, contract.car_id(args.cars // 2), "speed", *window, raw=True), args.repeat)
        rows.append((f"series 10 min, 1 car, raw ({label})", ms, len(r)))

    series_rows("car_id+timestamp index", settings)
    # This server cannot add an index to a filled collection: copy the data into one without.
    plain = settings.replace(collections=dataclasses.replace(settings.collections, telemetry="telemetry_no_index"))
    if db[plain.collections.telemetry].estimated_document_count() != n:
        db[plain.collections.telemetry].drop()
        cursor = db[settings.collections.telemetry].find(batch_size=5000)
        batch = []
        for doc in cursor:
            batch.append(doc)
            if len(batch) == 5000:
                db[plain.collections.telemetry].insert_many(batch, ordered=False)
                batch = []
        if batch:
            db[plain.collections.telemetry].insert_many(batch, ordered=False)
    series_rows("no index", plain)
    client.close()

    table(f"{n:,} events, {args.cars} cars, server {server}" + (f", load {load_s:.0f} s" if load_s else ", dataset reused"),
          f"python bench/bench_queries.py --cars {args.cars} --seconds {args.seconds} --repeat {args.repeat}"
          + (f" --memory-server {args.memory_server}" if args.memory_server else ""),
          ("query", "median ms", "rows"), [(name, f"{ms:,.1f}", f"{count:,}") for name, ms, count in rows],
          RESULTS if args.record else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
