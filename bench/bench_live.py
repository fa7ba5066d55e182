"""The whole pipeline live, at a fleet's rate: does the processor keep up, and do the boards stay fast?

    python bench/bench_live.py [--cars 1000] [--rate 1] [--minutes 10] [--record]

Runs `make live`'s three processes (simulator in real time, processor, API) on topics and a
database of their own, for `--minutes`. Meanwhile it measures, every second, the processor
group's lag at the broker (end offsets minus committed offsets, summed over partitions), and
plays a dashboard viewer: every 2 s the requests of the Fleet and Pipeline Health boards,
each one timed. Lag is also given in seconds of arrivals (lag / (cars x rate)): the time a new
reading waits before the processor stores it. `--record` appends the tables to
bench/results/live.md. Needs the services up (`make infra-up`); stops what it started.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import httpx
from report import table

from labkit.config import Settings
from labkit.ops import kafka_io
from labkit.scenarios import live

RESULTS = Path(__file__).parent / "results" / "live.md"
GROUP = "telemetry-processor"  # what `python -m labkit process` joins by default
API_PORT = 8010
ROUTES = ["/fleet/latest", "/fleet/summary", "/pipeline/health", "/pipeline/series", "/pipeline/lag/broker",
          "/dlq/reasons", "/series/anomalies"]
SPARK = " ▁▂▃▄▅▆▇█"


def sample_lag(settings: Settings, stop: threading.Event, samples: list[tuple[float, int]], began: float) -> None:
    while not stop.wait(1.0):
        try:
            lag = sum(kafka_io.consumer_lag(settings, GROUP, settings.topics.telemetry).values())
        except Exception:  # noqa: BLE001  (a sample missed while the group forms: the next one counts)
            continue
        samples.append((time.monotonic() - began, lag))


def app_ms(response: httpx.Response) -> float:
    """The time the API itself took, from its `Server-Timing: app;dur=...` header (NaN without one)."""
    for part in response.headers.get("server-timing", "").split(";"):
        if part.startswith("dur="):
            return float(part[4:])
    return float("nan")


def view_boards(url: str, stop: threading.Event, timings: dict[str, list[tuple[float, float]]],
                errors: list[str], trace: list[tuple] | None = None, began: float = 0.0) -> None:
    """Every 2 s, each route in turn: its time as the viewer waits for it, and as the API
    took it (the difference is queueing in the API process and the network)."""
    with httpx.Client(base_url=url, timeout=10) as client:
        while not stop.wait(2.0):
            for route in ROUTES:
                started = time.perf_counter()
                try:
                    response = client.get(route)
                except httpx.HTTPError as exc:
                    errors.append(f"{route}: {type(exc).__name__}")
                    continue
                if response.status_code >= 500:
                    errors.append(f"{route}: {response.status_code}")
                waited, in_app = (time.perf_counter() - started) * 1000, app_ms(response)
                timings.setdefault(route, []).append((waited, in_app))
                if trace is not None:
                    trace.append((round(time.monotonic() - began, 3), route, round(waited, 1), in_app))


def cleanup(settings: Settings) -> None:
    """Delete the run's topics, consumer group offsets on them and database: a benchmark leaves nothing."""
    from labkit.ops import clients

    admin = clients.kafka_admin(settings)
    try:
        admin.delete_topics([t for t in settings.topics.all() if t in admin.list_topics()])
    finally:
        admin.close()
    # The local server drops a database document by document: ten minutes of 1,000 cars (600,000
    # readings and what derives from them) took more than 5 minutes once, on a busy machine.
    mongo = clients.mongo_client(settings, socketTimeoutMS=1_800_000)
    try:
        mongo.drop_database(settings.mongodb_db)
    finally:
        mongo.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def sparkline(values: list[int]) -> str:
    top = max(values) or 1
    return "".join(SPARK[min(len(SPARK) - 1, round(v / top * (len(SPARK) - 1)))] for v in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cars", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1.0, help="readings per car per second")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--trace", type=Path, help="write every board request (second, route, ms waited, ms in the API) as CSV")
    args = parser.parse_args()

    base = Settings.from_env()
    tag = uuid.uuid4().hex[:6]
    settings = base.replace(topics=replace(base.topics, **{f: f"bench.live.{tag}.{getattr(base.topics, f)}"
                                                            for f in ("telemetry", "dlq", "anomaly", "metrics")}),
                            mongodb_db=f"bench_live_{tag}", api_url=f"http://127.0.0.1:{API_PORT}")
    stop, done = threading.Event(), threading.Event()
    samples: list[tuple[float, int]] = []
    timings: dict[str, list[tuple[float, float]]] = {}
    trace: list[tuple] | None = [] if args.trace else None
    errors: list[str] = []
    runner = threading.Thread(target=lambda: (live.run(settings, cars=args.cars, rate=args.rate, stop=stop,
                                                       log=lambda *_: None), done.set()), daemon=True)
    # Ctrl+C or SIGTERM ends the run early: the runner stops its three processes and the run's
    # topics and database are deleted as after a full run (nothing is recorded).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    runner.start()
    stop.wait(15)  # the three processes start, the group forms, the API answers
    began = time.monotonic()
    watchers = [threading.Thread(target=sample_lag, args=(settings, done, samples, began), daemon=True),
                threading.Thread(target=view_boards, args=(settings.api_url, done, timings, errors, trace, began),
                                 daemon=True)]
    for watcher in watchers:
        watcher.start()
    print(f"{args.cars} cars at {args.rate} Hz for {args.minutes:g} min ...", flush=True)
    interrupted = stop.wait(args.minutes * 60)
    done.set()
    stop.set()
    runner.join(timeout=120)
    if interrupted:
        print("Interrupted: the run's processes are stopped; deleting its topics and database, recording nothing.")
        cleanup(settings)
        return 130

    arrivals = args.cars * args.rate
    lags = [lag for _, lag in samples]
    per_minute = [max((lag for t, lag in samples if m * 60 <= t < (m + 1) * 60), default=0)
                  for m in range(int(args.minutes + 0.999))]
    command = f"python bench/bench_live.py --cars {args.cars} --rate {args.rate:g} --minutes {args.minutes:g}"
    rows = [("lag samples (one a second)", len(samples)),
            ("lag, highest (messages / seconds of arrivals)", f"{max(lags, default=0):,} / {max(lags, default=0) / arrivals:,.1f} s"),
            ("lag, last sample", f"{lags[-1] if lags else 0:,} / {(lags[-1] if lags else 0) / arrivals:,.1f} s"),
            ("samples with lag under 10 s of arrivals", f"{sum(lag < 10 * arrivals for lag in lags)} of {len(lags)}"),
            ("highest lag per minute (messages)", ", ".join(f"{v:,}" for v in per_minute)),
            ("lag over the run, in 10 s steps", sparkline([max((lag for t, lag in samples if s <= t < s + 10), default=0)
                                                          for s in range(0, int(args.minutes * 60), 10)])),
            ("board requests that failed", len(errors))]
    for route, pairs in timings.items():
        waited, in_app = [w for w, _ in pairs], [a for _, a in pairs if a == a]
        rows.append((f"{route}: p50 / p99 / requests (p99 in the API)",
                     f"{statistics.median(waited):.0f} / {percentile(waited, 0.99):.0f} ms / {len(waited)} "
                     f"({percentile(in_app, 0.99):.0f} ms)"))
    table(f"live pipeline, {args.cars} cars x {args.rate:g} Hz for {args.minutes:g} min, boards viewed every 2 s",
          command, ("measure", "value"), rows, RESULTS if args.record else None)
    if args.trace:
        args.trace.write_text("second,route,waited_ms,app_ms\n" + "".join(",".join(map(str, row)) + "\n" for row in trace))
    cleanup(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
