"""Processor throughput with 1, 2 and 4 workers in one consumer group, over the same backlog.

    python bench/bench_workers.py [--messages 20000] [--workers 1 2 4] [--record]

Loads N simulated messages (default fault rates, 40 cars so every partition has work) into a
fresh topic of 4 partitions, then for each worker count: a new consumer group and database,
the workers started together (`labkit.workers`), and the time from the first assignment until
the group's lag (end offsets minus committed offsets, at the broker) is 0. Messages per
second = N / that time. `--record` appends the table to bench/results/workers.md.

On a 2-core machine the workers, the broker and the MongoDB-wire server share two cores, so
expect the gain to stop early: this measures that, it does not hide it.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

from pymongo import MongoClient

from labkit import kafka_io
from labkit.config import Settings, Topics
from labkit.infra.topics import ensure_topics, topic_plan
from labkit.producer import produce
from labkit.simulator import SimConfig, Simulator, backfill_start
from labkit.workers import Workers, timeline
from report import table

RESULTS = Path(__file__).parent / "results" / "workers.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    base = Settings.from_env()
    tag = uuid.uuid4().hex[:6]
    settings = base.replace(topics=Topics(*(f"bench.{tag}.{n}" for n in ("telemetry", "dlq", "anomaly", "metrics"))))
    ensure_topics(settings, topic_plan(settings))
    config = SimConfig(cars=40, seed=4)
    print(produce(settings, Simulator(config).messages(count=args.messages,
                                                        start=backfill_start(config, count=args.messages))), flush=True)
    rows = []
    for n in args.workers:
        run = settings.replace(mongodb_db=f"bench_workers_{tag}_{n}")
        group = f"bench-{tag}-{n}"
        mongo = MongoClient(run.mongodb_uri, tz_aware=True)
        db = mongo[run.mongodb_db]
        with Workers(run, group, batch_size=500) as workers:
            for i in range(1, n + 1):
                workers.start(f"w{i}")
            workers.wait_until(db, lambda owners: len(owners) == n or n > 4, timeout_s=120)
            began = min(e["at"] for e in timeline(db, run, group) if e["event"] == "assigned")
            while sum(kafka_io.consumer_lag(run, group, run.topics.telemetry).values()) > 0:
                time.sleep(0.2)
            drained = time.time()
        events = timeline(db, run, group)
        mongo.close()
        seconds = drained - began.timestamp()
        rebalances = sum(1 for e in events if e["event"] == "revoked")
        rows.append((n, f"{args.messages:,}", f"{seconds:,.1f}", f"{args.messages / seconds:,.0f}", rebalances))
        print(rows[-1], flush=True)
    table(f"{args.messages:,} messages, 4 partitions: workers in one group draining the same backlog",
          f"python bench/bench_workers.py --messages {args.messages} --workers {' '.join(map(str, args.workers))}",
          ("workers", "messages", "seconds to lag 0 (from the first assignment)", "messages/s", "revocations logged"),
          rows, RESULTS if args.record else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
