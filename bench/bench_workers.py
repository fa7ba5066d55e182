"""Processor throughput with 1, 2 and 4 workers in one consumer group, over the same backlog.

    python bench/bench_workers.py [--messages 20000] [--workers 1 2 4] [--record]

Sends N simulated messages (default fault rates, 40 cars so every partition has work) to a
fresh topic of 4 partitions per worker count, with a new consumer group and database: the
workers join the empty topic together (`labkit.scenarios.workers`), then the backlog is sent,
and the time from its first send until the group's lag (end offsets minus committed offsets,
at the broker) is 0 is measured. Messages per second = N / that time. `--record` appends
the table to bench/results/workers.md.

On a 2-core machine the workers, the broker and the MongoDB-wire server share two cores, so
expect the gain to stop early: this measures that, it does not hide it.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

from report import table

from labkit.config import Settings, Topics
from labkit.ops.infra.topics import ensure_topics, topic_plan
from labkit.scenarios.workers import drain
from labkit.simulate.simulator import SimConfig, Simulator, backfill_start

RESULTS = Path(__file__).parent / "results" / "workers.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    base = Settings.from_env()
    tag = uuid.uuid4().hex[:6]
    config = SimConfig(cars=40, seed=4)
    backlog = list(Simulator(config).messages(count=args.messages, start=backfill_start(config, count=args.messages)))
    rows = []
    for n in args.workers:
        # A new topic per worker count: the workers join it empty, then the backlog is sent.
        settings = base.replace(topics=Topics(*(f"bench.{tag}.w{n}.{t}" for t in ("telemetry", "dlq", "anomaly", "metrics"))),
                                mongodb_db=f"bench_workers_{tag}_{n}")
        ensure_topics(settings, topic_plan(settings))
        result = drain(settings, f"bench-{tag}-{n}", n, backlog)
        rows.append((n, f"{args.messages:,}", f"{result.seconds:,.1f}", f"{args.messages / result.seconds:,.0f}",
                     result.rebalances))
        print(rows[-1], flush=True)
    table(f"{args.messages:,} messages, 4 partitions: workers in one group draining the same backlog",
          f"python bench/bench_workers.py --messages {args.messages} --workers {' '.join(map(str, args.workers))}",
          ("workers", "messages", "seconds from the first send to lag 0", "messages/s", "revocations with partitions"),
          rows, RESULTS if args.record else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
