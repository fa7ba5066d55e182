"""Processor throughput, side by side in one run, over the same topic and data.

    python bench/bench_processor.py [--messages 20000] [--cars 20 1000] [--naive] [--profile] [--commands] [--record]

Loads N simulated messages (default fault rates) of a fleet into a fresh topic, then measures:
  raw consume        kafka-python reading the topic, nothing else (the client's ceiling)
  raw insert_many    the MongoDB server storing the same valid events in batches of 2,000
                     into a collection with the readings' two indexes (the database's ceiling),
                     from one client, then from two at once (does a second writer add any?)
  ours               labkit's Processor: validate + detect + insert + DLQ + anomalies +
                     windows + rollups and latest states when due + a transaction per batch,
                     once per fleet size (`--cars`); without transactions for the first size
  naive loop         (`--naive`, minutes on SecantusDB) the original's shape: auto-commit,
                     json.loads, insert_one per event

Every side starts from an empty database and a new consumer group. `--profile` samples the
processor and the local database server with py-spy while each fleet's "ours" runs, and adds
a table of the functions where each spent its CPU. `--commands` times every MongoDB command
of each fleet's "ours" (by command and collection) and the CPU the processor, the database
server and the broker spent meanwhile. `--record` appends the tables to
bench/results/processor.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

from commands import Commands
from profiles import Profiles, database_pid, service_pid
from report import table

from labkit.config import Settings, Topics
from labkit.ops import clients
from labkit.ops.infra.topics import ensure_topics, topic_plan
from labkit.process.processor import Processor, ProcessorConfig
from labkit.process.validation import validate
from labkit.simulate.producer import produce
from labkit.simulate.simulator import SimConfig, Simulator, backfill_start
from labkit.store.mongo import ensure_indexes, event_document

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
    began = None
    if on_message is None:
        # The raw read: every partition assigned, no group to join, timed from the first
        # poll (its first fetch included).
        from kafka import TopicPartition

        topic = settings.topics.telemetry
        consumer.assign([TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))])
        began = time.perf_counter()
    else:
        consumer.subscribe([settings.topics.telemetry])
    seen = 0
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


def insert_in_parallel(base: Settings, settings: Settings, documents: list[dict], writers: int) -> float:
    """Seconds for `writers` threads, each with its own client, to insert every writers-th
    document into the readings (batches of 2,000), all started together."""
    import threading

    clients_ = [clients.mongo_client(base, socketTimeoutMS=None) for _ in range(writers)]
    shares = [documents[w::writers] for w in range(writers)]

    def insert(client, share):
        readings = client[settings.mongodb_db][settings.collections.telemetry]
        for j in range(0, len(share), 2000):
            readings.insert_many(share[j:j + 2000], ordered=False)

    threads = [threading.Thread(target=insert, args=pair) for pair in zip(clients_, shares)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    for c in clients_:
        c.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--cars", type=int, nargs="+", default=[20, 1000], help="fleet sizes (default 20 1000)")
    parser.add_argument("--naive", action="store_true", help="also time the naive loop (slow)")
    parser.add_argument("--profile", action="store_true", help="py-spy the processor and the database server")
    parser.add_argument("--commands", action="store_true",
                        help="time every MongoDB command of ours, and the CPU of the processor, server and broker")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    profiles = {}
    n = args.messages
    commands = Commands() if args.commands else None  # before any client: pymongo tells its listeners
    timings: dict[int, tuple] = {}
    base = Settings.from_env()
    # No time limit on a reply (pymongo's default): a bench's load, drop or slow query may take minutes.
    client = clients.mongo_client(base, socketTimeoutMS=None)
    rows = []
    for i, cars in enumerate(args.cars):
        settings = isolated(base)
        ensure_topics(settings, topic_plan(settings))
        config = SimConfig(cars=cars, seed=1)
        messages = list(Simulator(config).messages(count=n, start=backfill_start(config, count=n)))
        assert produce(settings, messages).sent == n
        db = client[settings.mongodb_db]
        if i == 0:
            rows.append(("raw kafka-python consume", n, consume_all(settings, n)))
            now = datetime.now(timezone.utc)
            docs = [event_document(v.event) for v in (validate(m.value, now) for m in messages) if v.ok]
            unique = list({d["_id"]: d for d in docs}.values())
            ensure_indexes(db, settings)  # the readings' indexes: each insert updates them too
            readings = db[settings.collections.telemetry]
            began = time.perf_counter()
            for j in range(0, len(unique), 2000):
                readings.insert_many(unique[j:j + 2000], ordered=False)
            rows.append((f"raw insert_many, readings' indexes ({len(unique):,} events, batches of 2,000)", len(unique),
                         time.perf_counter() - began))
            client.drop_database(settings.mongodb_db)
            # The same, half each from two clients at once: whether the server does more when
            # asked by two writers (then a processor could store with two threads) or not (then
            # only keeping the server busy while the processor decides can add throughput).
            ensure_indexes(db, settings)
            rows.append((f"raw insert_many from 2 clients at once (the same {len(unique):,} events)", len(unique),
                         insert_in_parallel(base, settings, unique, writers=2)))
            client.drop_database(settings.mongodb_db)

        processor = Processor(settings, ProcessorConfig(group_id=f"bench-{uuid.uuid4().hex[:6]}", max_invalid_ratio=None))
        sampled = Profiles({"processor": os.getpid(), "database server": database_pid()} if args.profile else {})
        timed = commands.timing({"processor": os.getpid(), "database server": database_pid(),
                                 "Kafka broker": service_pid("kafka")}) if commands else nullcontext()
        with sampled, timed:
            stats = processor.run(max_messages=n)
        if commands:
            timings[cars] = (commands.top(12), dict(commands.cpu), commands.wall)
        profiles[cars] = sampled
        rows.append((f"ours, {cars:,} cars: Processor, Kafka transactions (exactly-once outputs)", stats.processed,
                     stats.seconds))

        if i == 0:
            # The same run without transactions (acked sends, then a plain commit), into a fresh
            # database so it stores everything too rather than finding duplicates.
            plain_db = settings.replace(mongodb_db=settings.mongodb_db + "_plain")
            plain = Processor(plain_db, ProcessorConfig(group_id=f"bench-{uuid.uuid4().hex[:6]}", max_invalid_ratio=None,
                                                        transactions=False)).run(max_messages=n)
            rows.append((f"ours, {cars:,} cars, without transactions (at-least-once outputs)", plain.processed,
                         plain.seconds))
            client.drop_database(plain_db.mongodb_db)

        if i == 0 and args.naive:
            def naive_handle(record, naive=db.naive):
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
        admin = clients.kafka_admin(settings)
        admin.delete_topics(list(settings.topics.all()))
        admin.close()
    client.close()

    from labkit.ops.infra import local

    server = {"secantus": "SecantusDB 0.7.0b3", "java": "mongo-java-server 1.47.0 (H2)"}[local.mongo_server(base)]
    cars = " ".join(str(c) for c in args.cars)
    table(f"{n:,} messages per fleet (default fault rates), local Kafka 4.1.1 and {server}",
          f"python bench/bench_processor.py --messages {n} --cars {cars}" + (" --naive" if args.naive else ""),
          ("side", "messages", "seconds", "msg/s"),
          [(name, f"{count:,}", f"{seconds:.2f}", f"{count / seconds:,.0f}") for name, count, seconds in rows],
          RESULTS if args.record else None)
    for cars, sampled in profiles.items():
        for who, rows in sampled.top(12).items():
            table(f"profile of the {who}, ours with {cars:,} cars: functions by own CPU time (py-spy, {len(rows)} largest)",
                  f"python bench/bench_processor.py --messages {n} --cars {' '.join(str(c) for c in args.cars)} --profile",
                  ("function", "file", "share of busy samples"), rows, RESULTS if args.record else None)
        for who, why in sampled.problems.items():
            print(f"(no profile of the {who}: {why})")
    for cars, (rows, cpu, wall) in timings.items():
        spent = ", ".join(f"{who} {seconds:.1f} s" for who, seconds in cpu.items())
        table(f"MongoDB commands of ours with {cars:,} cars ({wall:.1f} s; CPU meanwhile: {spent})",
              f"python bench/bench_processor.py --messages {n} --cars {' '.join(str(c) for c in args.cars)} --commands",
              ("command", "collection", "calls", "seconds", "share of the run"), rows, RESULTS if args.record else None)
    return 0



if __name__ == "__main__":
    sys.exit(main())
