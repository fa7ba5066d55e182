"""Producer throughput, side by side in one run, on the same broker and topic layout.

    python bench/bench_producer.py [--messages 100000] [--cars 100] [--record]

Compares:
  simulate only   the fleet model + fault injection, no Kafka (our CPU cost per event)
  ours            labkit.simulate.producer.produce in as-fast-as-possible mode: simulate + send,
                  every delivery confirmed and counted
  ours, ahead     the same, with the simulator in a process of its own, running ahead of the
                  sends (labkit.simulate.ahead; what `python -m labkit simulate --fast` does)
  ours, pre-built the same produce() over messages simulated beforehand: the cost of
                  our delivery bookkeeping alone
  raw send        kafka-python sending the same messages pre-serialised, same settings
                  (acks=all, idempotent, linger 20 ms, 64 KB batches): the client's ceiling

Each side gets a fresh 4-partition topic. `--record` appends the table to
bench/results/producer.md.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

from report import table

from labkit.config import Settings
from labkit.ops import clients
from labkit.ops.clients import kafka_producer
from labkit.ops.infra.topics import ensure_topics
from labkit.simulate.ahead import simulate_ahead
from labkit.simulate.producer import PRODUCER_TUNING, produce
from labkit.simulate.simulator import SimConfig, Simulator, backfill_start

RESULTS = Path(__file__).parent / "results" / "producer.md"


def fresh_topic(settings: Settings, label: str) -> str:
    name = f"bench.{label}.{uuid.uuid4().hex[:6]}"
    ensure_topics(settings, {name: 4})
    return name


def drop_topics(settings: Settings, names: list[str]) -> None:
    admin = clients.kafka_admin(settings)
    try:
        admin.delete_topics(names)
    finally:
        admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--cars", type=int, default=100)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    settings = Settings.from_env()
    config = SimConfig(cars=args.cars, seed=1)
    n = args.messages

    start = backfill_start(config, count=n)

    def messages():
        return Simulator(config).messages(count=n, start=start)

    rows = []
    began = time.perf_counter()
    prebuilt = list(messages())
    sim_s = time.perf_counter() - began
    rows.append(("simulate only (no Kafka)", n, sim_s))
    payload = [(m.key, m.value) for m in prebuilt]

    topics = []
    topic = fresh_topic(settings, "ours")
    topics.append(topic)
    report = produce(settings, messages(), topic=topic)
    assert report.sent == n and report.failed == 0, report
    rows.append(("ours: simulate + produce, confirmed", report.sent, report.seconds))

    topic = fresh_topic(settings, "ahead")
    topics.append(topic)
    report = produce(settings, simulate_ahead(config, count=n, start=start), topic=topic)
    assert report.sent == n and report.failed == 0, report
    rows.append(("ours: simulated in a process of its own + produce, confirmed", report.sent, report.seconds))

    topic = fresh_topic(settings, "prebuilt")
    topics.append(topic)
    report = produce(settings, prebuilt, topic=topic)
    assert report.sent == n and report.failed == 0, report
    rows.append(("ours: produce() of pre-built messages, confirmed", report.sent, report.seconds))

    topic = fresh_topic(settings, "raw")
    topics.append(topic)
    producer = kafka_producer(settings, **PRODUCER_TUNING)
    acked = [0]

    def ok(_):
        acked[0] += 1

    began = time.perf_counter()
    for key, value in payload:
        producer.send(topic, key=key, value=value).add_callback(ok)
    producer.flush()
    raw_s = time.perf_counter() - began
    producer.close()
    assert acked[0] == n
    rows.append(("raw kafka-python send of pre-serialised bytes", acked[0], raw_s))
    drop_topics(settings, topics)

    raw_rate = n / raw_s
    table(f"{n:,} messages, {args.cars} cars", f"python bench/bench_producer.py --messages {n} --cars {args.cars}",
          ("side", "messages", "seconds", "msg/s", "vs raw send"),
          [(name, f"{count:,}", f"{seconds:.2f}", f"{count / seconds:,.0f}", f"{count / seconds / raw_rate:.2f}x")
           for name, count, seconds in rows],
          RESULTS if args.record else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
