"""API throughput and latency over one million events and 1,000 cars, load from a second process.

    python bench/bench_api.py [--cars 1000] [--seconds 1000] [--duration 10] [--concurrency 8] [--record]

Starts the lab's MongoDB-wire server with its in-memory backend (port 27018; the H2 store does
not hold a million events), loads cars x seconds readings (reused if already there), serves the
API in its own process (`python -m labkit api`, one uvicorn worker), and drives each main
route from this process with `--concurrency` threads for `--duration` seconds. Reports
requests/s, p50 and p99 latency, and errors.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
from bench_queries import START, load, start_memory_server, wait_for_api
from report import table

from labkit import contract
from labkit.config import Settings
from labkit.ops import clients

RESULTS = Path(__file__).parent / "results" / "api.md"
API_PORT = 18080


def drive(url: str, seconds: float, concurrency: int) -> tuple[int, list[float], int]:
    """(requests, latencies in ms, errors) from `concurrency` threads for `seconds`."""
    latencies, errors, lock = [], [0], threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker():
        with httpx.Client(timeout=60) as client:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    ok = client.get(url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    latencies.append((time.perf_counter() - began) * 1000)
                    errors[0] += not ok

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies), latencies, errors[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cars", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--mongo-port", type=int, default=27018)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    settings = Settings.from_env().replace(mongodb_db="bench_queries",
                                           mongodb_uri=f"mongodb://127.0.0.1:{args.mongo_port}")
    mongo_server = start_memory_server(args.mongo_port)
    api = None
    try:
        # No time limit on a reply (pymongo's default): a bench's load, drop or slow query may take minutes.
        client = clients.mongo_client(settings, socketTimeoutMS=None)
        load(client[settings.mongodb_db], settings, args.cars, args.seconds)
        n = client[settings.mongodb_db][settings.collections.telemetry].estimated_document_count()
        client.close()
        env = {**os.environ, "MONGODB_URI": settings.mongodb_uri, "MONGODB_DB": settings.mongodb_db}
        api = subprocess.Popen([sys.executable, "-m", "labkit", "api", "--port", str(API_PORT)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{API_PORT}"
        wait_for_api(base)
        end = START + timedelta(seconds=args.seconds)
        frm, to = contract.to_ms(end - timedelta(minutes=10)), contract.to_ms(end)
        car = contract.car_id(args.cars // 2)
        routes = [
            ("GET /health", "/health"),
            ("GET /cars", "/cars"),
            ("GET /latest", f"/latest?car_id={car}"),
            ("GET /fleet/latest (1,000 cars)", "/fleet/latest"),
            ("GET /series/speed (10 min, 10 s buckets)", f"/series/speed?car_id={car}&from={frm}&to={to}&bucket=10000"),
        ]
        rows = []
        for name, path in routes:
            count, latencies, errors = drive(base + path, args.duration, args.concurrency)
            q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else latencies * 99
            rows.append((name, f"{count / args.duration:,.1f}", f"{statistics.median(latencies):,.1f}",
                         f"{q[98]:,.1f}", f"{errors}"))
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=30)
        mongo_server.terminate()
        mongo_server.wait(timeout=30)
    table(f"{n:,} events, {args.cars} cars, {args.concurrency} client threads x {args.duration:g} s per route, "
          "one uvicorn worker, in-memory mongo-java-server",
          f"python bench/bench_api.py --cars {args.cars} --seconds {args.seconds} --duration {args.duration:g} "
          f"--concurrency {args.concurrency}", ("route", "requests/s", "p50 ms", "p99 ms", "errors"), rows,
          RESULTS if args.record else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
