"""The local MongoDB servers side by side at class scale: load, disk, queries, a crash, the API.

    python bench/bench_storage.py [--servers secantus java] [--cars 1000] [--seconds 1000]
                                  [--rate 50] [--duration 10] [--record]

For each server, in this order and in one run (timings on a shared machine are only
comparable within a run):

1. start it on its own port with its own data folder under bench/.scratch/ (the lab's
   services are not touched), with the same options `infra up` uses;
2. load cars x seconds readings (default 1,000,000) with `dataset.load_fleet`, which also
   builds the rollups, plus 8,640 pipeline-metrics windows (one day), 20,000 dead letters
   (2 % of the events) and the anomaly records the simulator's default episodes give for
   the same cars and seconds (about 1.9 % of the events), so every dashboard route has data
   to read;
3. measure disk bytes per event, then the queries (median of --repeat): one car's 30 min in
   10 s buckets from the rollups and from the readings, the plan `explain()` reports, and
   the fleet's latest state;
4. SIGKILL the server, start it again, and check that every document is still there and the
   series query gives the same answer;
5. serve the API in its own process and play a class watching the boards: each viewer has
   its own board and car and refreshes every 10 s, sending the board's panel requests at
   once as Grafana does (`class_mix`), about --rate requests/s in all (50/s is a hundred
   viewers); latency is measured from each refresh, so a server that falls behind shows it.
   Then each route alone, as fast as 8 client threads can, no two requests alike (the
   highest rate one API process sustains when nothing is shared).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

import httpx
from bench_queries import timed, wait_for_api
from report import table

from labkit import contract
from labkit.config import Settings
from labkit.ops import clients
from labkit.ops.infra import local
from labkit.ops.infra.readiness import mongodb_ready
from labkit.ops.waiting import wait_until
from labkit.scenarios.dataset import load_fleet
from labkit.store import mongo, queries
from labkit.store.mongo import ensure_indexes

RESULTS = Path(__file__).parent / "results" / "storage.md"
SCRATCH = Path(__file__).parent / ".scratch" / "storage"
DASHBOARDS = Path(__file__).parent.parent / "dashboards"
# The data ends about now, as in class: Grafana's "last 15 minutes" finds it.
START = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=1)
PORTS = {"secantus": 27117, "java": 27118}
API_PORT = 18081


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", nargs="+", default=["secantus", "java"], choices=sorted(PORTS))
    parser.add_argument("--cars", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second of the class mix, in all")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per route and phase")
    parser.add_argument("--reuse", action="store_true", help="keep a server's data from an earlier run of this size")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    n = args.cars * args.seconds
    summary, routes = [], []
    for kind in args.servers:
        result = measure(kind, args)
        summary.append(result["summary"])
        routes += result["routes"]
    command = (f"python bench/bench_storage.py --servers {' '.join(args.servers)} --cars {args.cars} "
               f"--seconds {args.seconds} --rate {args.rate:g} --duration {args.duration:g}")
    record = RESULTS if args.record else None
    table(f"{n:,} events, {args.cars:,} cars: load, disk, queries, SIGKILL and restart", command,
          ("server", "load (incl. rollups)", "bytes/event on disk (after load / after restart)", "series 30 min, 10 s (rollups)",
           "same from readings", "plan of the readings query", "fleet latest", "restart: ready after",
           "documents kept", "same series after"), summary, record)
    table(f"{n:,} events: viewers watching the four Grafana boards (each its own board and car, refreshing "
          f"every 10 s, a board's panels at once), about {args.rate:g} requests/s for {args.duration:g} s; then each "
          "route alone, 8 threads flat out, no two requests alike (one API process)", command,
          ("server", "route", "requests in the mix", "p50 ms", "p99 ms", "p50 ms in the app", "p99 ms in the app",
           "errors", "highest requests/s alone"),
          routes, record)
    return 0


def measure(kind: str, args) -> dict:
    home = SCRATCH / kind
    settings = Settings.from_env().replace(mongodb_uri=f"mongodb://127.0.0.1:{PORTS[kind]}", mongodb_db="bench_storage",
                                           mongo_server=kind, lab_home=home)
    server = next(s for s in local.services(settings) if s.name == "mongo")
    local.stop(server, home)
    n = args.cars * args.seconds
    if not args.reuse:
        shutil.rmtree(home, ignore_errors=True)
    print(f"[{kind}] starting on port {server.port}", flush=True)
    start_server(server, settings, home)
    try:
        client = clients.mongo_client(settings, socketTimeoutMS=600_000)
        db = client[settings.mongodb_db]
        load_s = None
        info = db["bench_info"].find_one({"_id": "start"})
        if info and _count(db, settings) == n:
            args.start = info["at"]
        else:
            client.drop_database(settings.mongodb_db)
            args.start = START
            began = time.perf_counter()
            try:
                load_fleet(db, settings, args.cars, args.seconds, START, progress=True, batch=5000)
            except Exception as exc:  # a server that cannot hold the data: say where it failed
                stored = _count(db, settings)
                print(f"[{kind}] load failed after {stored:,} documents: {exc!r}", flush=True)
                client.close()
                return {"summary": (kind, f"FAILED after {stored:,} documents: {str(exc)[:120]}", *["-"] * 8),
                        "routes": []}
            load_s = time.perf_counter() - began
            seed_pipeline_data(db, settings, n)
            db["bench_info"].insert_one({"_id": "start", "at": START})
        if db[settings.collections.anomalies].estimated_document_count() == 0:  # also a dataset loaded before they were
            seed_anomalies(db, settings, args.cars, args.seconds, args.start)
        client.close()
        disk = du(home / ("secantus" if kind == "secantus" else "mongo"))
        print(f"[{kind}] {n:,} events, {disk / n:,.0f} bytes/event on disk", flush=True)

        # No time limit on a reply (pymongo's default): a bench's load, drop or slow query may take minutes.
        client = clients.mongo_client(settings, socketTimeoutMS=None)
        db = client[settings.mongodb_db]
        car = contract.car_id(args.cars // 2)
        window = (args.start + timedelta(seconds=args.seconds - 1800 + 3), args.start + timedelta(seconds=args.seconds + 3))
        queries.series(db, settings, car, "speed", *window, bucket_ms=10_000)  # warm-up: connections, caches
        fast_ms, before = timed(lambda: queries.series(db, settings, car, "speed", *window, bucket_ms=10_000), args.repeat)
        slow_ms, slow = timed(lambda: queries.series(db, settings, car, "speed", *window, bucket_ms=10_000,
                                                     use_rollups=False), args.repeat)
        fleet_ms, _ = timed(lambda: queries.fleet_latest(db, settings), args.repeat)
        plan = winning_plan(db, settings, car, window)
        client.close()

        print(f"[{kind}] SIGKILL and restart", flush=True)
        local.kill(server, home)
        began = time.perf_counter()
        start_server(server, settings, home)
        ready_s = time.perf_counter() - began
        disk_after = du(home / ("secantus" if kind == "secantus" else "mongo"))
        # No time limit on a reply (pymongo's default): a bench's load, drop or slow query may take minutes.
        client = clients.mongo_client(settings, socketTimeoutMS=None)
        db = client[settings.mongodb_db]
        kept = _count(db, settings)
        after = queries.series(db, settings, car, "speed", *window, bucket_ms=10_000)
        client.close()
        loaded = f"{load_s:,.0f} s ({n / load_s:,.0f} events/s)" if load_s else "reused from an earlier run"
        summary = (kind, loaded, f"{disk / n:,.0f} / {disk_after / n:,.0f}", f"{fast_ms:,.1f} ms",
                   f"{slow_ms:,.1f} ms", plan, f"{fleet_ms:,.1f} ms", f"{ready_s:.1f} s", f"{kept:,} of {n:,}",
                   "yes" if after == before else "NO")
        routes = drive_routes(kind, settings, args)
        return {"summary": summary, "routes": routes}
    finally:
        local.stop(server, home)


def start_server(server, settings: Settings, home: Path) -> None:
    # A killed server's socket can outlive it by a moment.
    wait_until(lambda: not local.port_open(server.port), 10, poll_s=0.1, what=f"port {server.port} to be free")
    local.start(server, settings, home)
    local.wait_ready(server, home, lambda: mongodb_ready(settings), timeout=300)


def seed_pipeline_data(db, settings: Settings, events: int) -> None:
    """One day of processor windows and 2 % of the events as dead letters, as a class would leave."""
    ensure_indexes(db, settings)
    t0 = contract.to_ms(START)
    windows = [{"_id": f"bench:{t0 + i * 10_000}", "window_start_ms": t0 + i * 10_000, "window_s": 10, "processed": 1000,
                "valid": 980, "stored": 975, "invalid": 20, "duplicates": 5, "anomalies": 3,
                "invalid_by_reason": {"range:speed": 12, "not_json": 8}, "anomalies_by_type": {"overspeed": 3},
                "newest_event_ms": t0 + i * 10_000 + 9_000, "consumer_lag": 0, "batches": 4, "batch_latency_ms_avg": 40.0}
               for i in range(-8640 + 100, 100)]
    db[settings.collections.metrics].insert_many(windows)
    rng = random.Random(1)
    reasons = ["not_json", "range:speed", "range:rpm", "missing:timestamp", "bad_type:speed", "future_timestamp"]
    dead = []
    for i in range(events // 50):
        reason = rng.choice(reasons)
        dead.append({"_id": f"car.telemetry.v1:{i % 4}:{i}", "reason": reason, "reason_class": reason.split(":")[0],
                     "detail": "bench", "source": {"topic": "car.telemetry.v1", "partition": i % 4, "offset": i, "key": None},
                     "failed_at": START + timedelta(milliseconds=i * 50), "original": {"encoding": "utf-8", "data": "{}"}})
    mongo.write_dead_letters(db, settings, dead)


def seed_anomalies(db, settings: Settings, cars: int, seconds: int, start: datetime) -> int:
    """The anomaly records a class's data would hold: the same simulator, cars and seconds as
    the readings, with the simulator's default anomaly episodes, through the processor's
    detector. Only the records are stored (the readings are loaded without episodes, so the
    rollups' numbers stay those of the earlier runs). Returns how many."""
    from labkit.process.detectors import AnomalyDetector
    from labkit.process.validation import validate
    from labkit.simulate.faults import FaultRates
    from labkit.simulate.simulator import SimConfig, Simulator
    from labkit.store.sinks import MongoStore

    faults = FaultRates(episode=FaultRates().episode, invalid=0.0, duplicate=0.0, late=0.0)
    simulator, detector = Simulator(SimConfig(cars=cars, seed=3, faults=faults)), AnomalyDetector()
    now = start + timedelta(seconds=seconds + 1)
    found = [dict(a.as_record(), _id=a.anomaly_id)
             for message in simulator.messages(duration_s=seconds, start=start)
             for a in detector.detect(validate(message.value, now).event)]
    for i in range(0, len(found), 5000):
        MongoStore(db, settings).insert_anomalies(found[i:i + 5000])
    print(f"  {len(found):,} anomaly records", flush=True)
    return len(found)


def winning_plan(db, settings: Settings, car: str, window) -> str:
    """The plan the server reports for the readings' series query (IXSCAN, COLLSCAN, or none)."""
    from labkit.store import rollups

    pipeline = rollups.from_readings_pipeline(car, contract.to_ms(window[0]), contract.to_ms(window[1]), 10_000, ("speed",))
    try:
        explained = db.command("explain", {"aggregate": settings.collections.telemetry, "pipeline": pipeline,
                                           "cursor": {}}, verbosity="queryPlanner")
    except Exception as exc:
        return f"no explain ({type(exc).__name__})"
    text = str(explained)
    return next((stage for stage in ("IXSCAN", "COLLSCAN") if stage in text), "unknown")


@functools.cache
def board_targets() -> dict[str, list[tuple[str, list[tuple[str, str]]]]]:
    """Each Grafana board's panel targets as its JSON defines them: (url, [(key, value)]).
    Read once: the load generator shares the machine with the API and must stay light."""
    boards = {}
    for board in sorted(DASHBOARDS.glob("*.json")):
        boards[board.stem] = [(target["url"], [(p["key"], p["value"]) for p in target.get("url_options", {}).get("params", [])])
                              for panel in json.loads(board.read_text())["panels"] for target in panel.get("targets", [])]
    return boards


def board_requests(car: str, frm_ms: int, to_ms: int) -> dict[str, list[str]]:
    """Every request each Grafana board sends on one refresh, one per panel target, with the
    board's variables filled in."""
    values = {"${car}": car, "${__from}": str(frm_ms), "${__to}": str(to_ms)}
    return {board: [url + ("?" + urlencode([(k, values.get(v, v)) for k, v in params]) if params else "")
                    for url, params in targets]
            for board, targets in board_targets().items()}


REFRESH_S = 10.0  # the boards' refresh interval
RANGE_MS = 15 * 60_000  # and their time range: the last 15 minutes


def drive_routes(kind: str, settings: Settings, args) -> list[tuple]:
    """The class mix at about --rate requests/s (p50/p99 per route), then each route flat out."""
    env = {**os.environ, **settings.as_env()}
    api = subprocess.Popen([sys.executable, "-m", "labkit", "api", "--port", str(API_PORT)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{API_PORT}"
    try:
        wait_for_api(base)
        data_end_ms = contract.to_ms(args.start + timedelta(seconds=args.seconds))
        latencies, errors, viewers = class_mix(base, args.rate, args.duration, args.cars, data_end_ms)
        print(f"[{kind}] {viewers} viewers, {len(latencies) / args.duration:.1f} requests/s", flush=True)
        rows = []
        for route in sorted({path.split("?")[0] for path, _, _ in latencies}):
            mine = [(ms, app) for path, ms, app in latencies if path.split("?")[0] == route]
            q = percentiles([ms for ms, _ in mine])
            inside = percentiles([app for _, app in mine if app is not None])
            example = next(path for path, _, _ in latencies if path.split("?")[0] == route)
            highest = flat_out(base, example, 5.0)
            rows.append((kind, route, len(mine), f"{q[49]:,.1f}", f"{q[98]:,.1f}", f"{inside[49]:,.1f}",
                         f"{inside[98]:,.1f}", errors.get(route, 0), f"{highest:,.0f}"))
            print(f"[{kind}] {rows[-1]}", flush=True)
        return rows
    finally:
        api.terminate()
        api.wait(timeout=30)


def percentiles(values: list[float]) -> list[float]:
    """The 1st to 99th percentiles (index 49 is the median, 98 the p99)."""
    return statistics.quantiles(values, n=100) if len(values) > 1 else (values or [float("nan")]) * 99


def class_mix(base: str, rate: float, seconds: float, cars: int, data_end_ms: int):
    """Viewers watching the boards, as a class would: viewer i watches board i % 4 and its own
    car, and refreshes every 10 s, the viewers' refreshes spread evenly over those 10 s. A
    refresh sends all of its board's requests at once (as Grafana does), with the same
    from/to: the last 15 minutes of a clock that runs through the loaded data. There are as
    many viewers as make about `rate` requests/s. Latency is counted from the refresh, so
    a server that falls behind shows it. Returns (path, ms, ms inside the app) triples (the
    app's own time from its Server-Timing header), errors per route, and the viewers."""
    boards = sorted(board_requests("", 0, 0))
    per_board = sum(len(v) for v in board_requests("", 0, 0).values()) / len(boards)
    viewers = max(1, round(rate * REFRESH_S / per_board))
    refreshes = []  # (due s, viewer)
    for v in range(viewers):
        at = v * REFRESH_S / viewers
        while at < seconds:
            refreshes.append((at, v))
            at += REFRESH_S
    refreshes.sort()
    start = time.perf_counter() + 0.5
    lock, latencies, errors = threading.Lock(), [], {}
    jobs = iter(refreshes)

    def send(client, path, due):
        app_ms = None
        try:
            response = client.get(base + path)
            ok = response.status_code == 200
            app_ms = float(response.headers.get("server-timing", "app;dur=nan").partition("dur=")[2])
        except httpx.HTTPError:
            ok = False
        ms = (time.perf_counter() - due) * 1000
        with lock:
            latencies.append((path, ms, app_ms))
            if not ok:
                route = path.split("?")[0]
                errors[route] = errors.get(route, 0) + 1

    def viewer_thread():
        # One thread per refresh in flight; a refresh's panels go out in parallel, as a
        # browser sends them (six connections per host).
        with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=6)) as client:
            while True:
                with lock:
                    job = next(jobs, None)
                if job is None:
                    return
                at, v = job
                due = start + at
                time.sleep(max(0.0, due - time.perf_counter()))
                to_ms = data_end_ms - int(seconds * 1000) + int(at * 1000)
                paths = board_requests(contract.car_id((v * 37) % cars), to_ms - RANGE_MS, to_ms)[boards[v % len(boards)]]
                panels = [threading.Thread(target=send, args=(client, path, due)) for path in paths]
                for t in panels:
                    t.start()
                for t in panels:
                    t.join()

    # The load generator is Python too: without this, its own full garbage collections
    # (tens of ms) would count as the API's latency, which a browser does not add.
    gc.freeze()
    pool = [threading.Thread(target=viewer_thread) for _ in range(12)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return latencies, errors, viewers


def flat_out(base: str, path: str, seconds: float, threads: int = 8) -> float:
    """Requests per second that `threads` clients get through, each sending the next at once.
    Each request's `to` is a millisecond later than the one before, so no two are alike and
    none shares another's answer: this is the route's cost, uncached."""
    deadline = time.perf_counter() + seconds
    done = [0]
    lock = threading.Lock()

    def next_path() -> str:
        with lock:
            done[0] += 1
            n = done[0]
        if "&to=" not in path:
            return path
        head, _, tail = path.partition("&to=")
        value, sep, rest = tail.partition("&")
        return f"{head}&to={int(value) + n}{sep}{rest}"

    def worker():
        with httpx.Client(timeout=30) as client:
            while time.perf_counter() < deadline:
                client.get(base + next_path())

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return done[0] / seconds


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _count(db, settings: Settings) -> int:
    try:
        return db[settings.collections.telemetry].count_documents({})
    except Exception:
        return -1


if __name__ == "__main__":
    sys.exit(main())
