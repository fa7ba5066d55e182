"""Two processors in one group: they never hold the same partition at once; when one is
killed the other takes over its partitions within the session timeout, drains the backlog,
and every valid event is stored exactly once."""

import time
import uuid
from datetime import datetime, timezone

from pymongo import MongoClient

from labkit.ops import kafka_io
from labkit.scenarios.workers import Workers, drain_waiting, owners_from, timeline
from tests.pipeline_helpers import expected, send_batch, stored_ids


def held_at_once(events: list[dict], killed: dict[str, datetime]) -> list[tuple]:
    """(event index, partition, workers) wherever two live workers held a partition together
    after an event of the log (a worker in `killed` is dead from its time on: it never logs
    its partitions away)."""
    clashes = []
    for i in range(1, len(events) + 1):
        now = events[i - 1]["at"]
        owners = {}
        for worker, parts in owners_from(events[:i]).items():
            if worker in killed and now >= killed[worker]:
                continue
            for p in parts:
                owners.setdefault(p, []).append(worker)
        clashes += [(i, p, ws) for p, ws in owners.items() if len(ws) > 1]
    return clashes


def test_two_workers_share_the_partitions_and_one_takes_over_when_the_other_is_killed(pipeline):
    group = f"g-{uuid.uuid4().hex[:6]}"
    messages = send_batch(pipeline, 4000, seed=13)
    valid_ids, _ = expected(messages)
    mongo = MongoClient(pipeline.mongodb_uri, tz_aware=True)
    db = mongo[pipeline.mongodb_db]
    try:
        with Workers(pipeline, group, batch_size=50) as workers:
            workers.start("w1")
            workers.start("w2")
            shared = workers.wait_until(db, lambda owners: len(owners) == 2 and sum(map(len, owners.values())) == 4)
            assert sorted(p for parts in shared.values() for p in parts) == [0, 1, 2, 3]
            killed_at, killed_wall = time.monotonic(), datetime.now(timezone.utc)
            workers.kill("w1")
            workers.wait_until(db, lambda owners: owners.get("w2") == [0, 1, 2, 3], timeout_s=30)
            takeover_s = time.monotonic() - killed_at
            deadline = time.monotonic() + 90
            while sum(kafka_io.consumer_lag(pipeline, group, pipeline.topics.telemetry).values()) and time.monotonic() < deadline:
                time.sleep(0.5)
            lag = kafka_io.consumer_lag(pipeline, group, pipeline.topics.telemetry)
        events = timeline(db, pipeline, group)
    finally:
        mongo.close()
    assert sum(lag.values()) == 0, lag
    assert takeover_s < 6 + 15, "the session timeout (6 s) plus a rebalance"
    assert held_at_once(events, killed={"w1": killed_wall}) == []
    ids = stored_ids(pipeline)
    assert len(ids) == len(set(ids)) and set(ids) == valid_ids  # nothing lost, nothing stored twice
    assert all(e["at"] <= datetime.now(timezone.utc) for e in events) and {e["worker"] for e in events} == {"w1", "w2"}


def test_waiting_workers_read_every_message_once_whatever_their_number(pipeline):
    messages = send_batch(pipeline, 400, seed=17)
    for count in (1, 3, 5):
        drained = drain_waiting(pipeline, pipeline.topics.telemetry, count, wait_ms=1)
        assert drained.messages == len(messages)
        shares = list(drained.partitions.values())
        assert sorted(p for share in shares for p in share) == [0, 1, 2, 3]
        assert len(shares) == count and (count <= 4 or shares[-1] == [])
