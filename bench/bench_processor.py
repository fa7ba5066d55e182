"""Processor throughput, side by side in one run, over the same topic and data.

    python bench/bench_processor.py [--messages 20000] [--record]

Loads N simulated messages (default fault rates) into a fresh topic, then measures:
  raw consume        kafka-python reading the topic, nothing else (the client's ceiling)
  raw insert_many    the MongoDB server storing the same valid events in batches of 500
                     (the database's ceiling)
  ours               labkit's Processor: validate + detect + insert + latest state + DLQ +
                     anomalies + commit after every batch
  naive loop         the original's shape: auto-commit, json.loads, insert_one per event

Every side starts from an empty database and a new consumer group. `--record` appends the
table to bench/results/processor.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from report import table

from labkit.config import Settings, Topics
from labkit.ops import clients
from labkit.ops.infra.topics import ensure_topics, topic_plan
from labkit.process.processor import Processor, ProcessorConfig
from labkit.process.validation import validate
from labkit.simulate.producer import produce
from labkit.simulate.simulator import SimConfig, Simulator, backfill_start
from labkit.store.mongo import event_document

RESULTS = Path(__file__).parent / "results" / "processor.md"


def isolated(settings: Settings) -> Settings:
    tag = uuid.uuid4().hex[:6]
    return settings.replace(
        topics=Topics(*(f"bench.{tag}.{name}" for name in ("telemetry", "dlq", "anomaly", "metrics"))),
        mongodb_db=f"bench_{tag}",
    )


def consume_all(settings: Settings, n: int, on_message=None, auto_commit=False) -> float:
    # kafka-python's own defaults but for these: the baseline of a plain consumer loop.
    consumer = clients.kafka_consumer(settings, group_id=f"bench-{uuid.uuid4().hex[:6]}", auto_offset_reset="earliest",
                                      enable_auto_commit=auto_commit, max_poll_records=500,
                                      isolation_level="read_uncommitted")
    consumer.subscribe([settings.topics.telemetry])
    seen = 0
    began = None
    while seen < n:
        batch = consumer.poll(timeout_ms=1000)
        for records in batch.values():
            if began is None:
                began = time.perf_counter()  # from the first message: group join is not throughput
            for record in records:
                if on_message:
                    on_message(record)
                seen += 1
    elapsed = time.perf_counter() - began
    consumer.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    n = args.messages
    settings = isolated(Settings.from_env())
    ensure_topics(settings, topic_plan(settings))
    config = SimConfig(cars=100, seed=1)
    messages = list(Simulator(config).messages(count=n, start=backfill_start(config, count=n)))
    assert produce(settings, messages).sent == n
    now = datetime.now(timezone.utc)
    docs = [event_document(v.event) for v in (validate(m.value, now) for m in messages) if v.ok]
    # No time limit on a reply (pymongo's default): a bench's load, drop or slow query may take minutes.
    client = clients.mongo_client(settings, socketTimeoutMS=None)
    db = client[settings.mongodb_db]
    rows = []

    rows.append(("raw kafka-python consume", n, consume_all(settings, n)))

    unique = list({d["_id"]: d for d in docs}.values())
    began = time.perf_counter()
    for i in range(0, len(unique), 500):
        db.raw_insert.insert_many(unique[i:i + 500], ordered=False)
    rows.append((f"raw insert_many ({len(unique):,} valid events, batches of 500)", len(unique),
                 time.perf_counter() - began))

    processor = Processor(settings, ProcessorConfig(group_id=f"bench-{uuid.uuid4().hex[:6]}", max_invalid_ratio=None))
    stats = processor.run(max_messages=n)
    rows.append(("ours: Processor, Kafka transactions (exactly-once outputs)", stats.processed, stats.seconds))

    # The same run without transactions (acked sends, then a plain commit), into a fresh database
    # so it stores everything too rather than finding duplicates.
    plain_db = settings.replace(mongodb_db=settings.mongodb_db + "_plain")
    plain = Processor(plain_db, ProcessorConfig(group_id=f"bench-{uuid.uuid4().hex[:6]}", max_invalid_ratio=None,
                                                transactions=False)).run(max_messages=n)
    rows.append(("ours without transactions (at-least-once outputs)", plain.processed, plain.seconds))
    client.drop_database(plain_db.mongodb_db)

    naive = db.naive

    def naive_handle(record):
        try:
            event = json.loads(record.value)
            if not isinstance(event, dict) or any(f not in event for f in ("car_id", "timestamp", "speed")):
                return
        except ValueError:
            return
        naive.insert_one(event)

    rows.append(("naive loop: auto-commit, insert_one per event", n,
                 consume_all(settings, n, naive_handle, auto_commit=True)))
    client.drop_database(settings.mongodb_db)
    client.close()
    admin = clients.kafka_admin(settings)
    admin.delete_topics(list(settings.topics.all()))
    admin.close()

    ours_rate = stats.processed / stats.seconds
    from labkit.ops.infra import local

    server = {"secantus": "SecantusDB 0.7.0b3", "java": "mongo-java-server 1.47.0 (H2)"}[local.mongo_server(settings)]
    table(f"{n:,} messages (default fault rates), local Kafka 4.1.1 and {server}",
          f"python bench/bench_processor.py --messages {n}", ("side", "messages", "seconds", "msg/s", "ours vs this"),
          [(name, f"{count:,}", f"{seconds:.2f}", f"{count / seconds:,.0f}", f"{ours_rate / (count / seconds):.2f}x")
           for name, count, seconds in rows],
          RESULTS if args.record else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
