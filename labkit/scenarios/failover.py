"""Kill a partition's leader while producing with acks=all, then count every confirmed send.

    result = leader_failover(cluster, topic="lab09.failover", events=1500, rate=300)
    result.lost            # confirmed sends missing from the topic: 0 is the claim under test
    result.timeline        # [{t, leader, isr}], sampled while it happened

With three replicas and `min.insync.replicas=2`, the leader confirms a write sent with
`acks="all"` only once every in-sync replica has it, and at least two must be in sync. So
when the leader dies, a follower that holds every confirmed write exists, and the
controllers elect one of them. The producer meanwhile gets errors for its in-flight
batches, asks for new metadata and retries them on the new leader; idempotence
(`enable_idempotence=True`) keeps a retried batch from being written twice.

Used by notebook 11 (on the lab's cluster: `infra up --brokers 3`) and by the reliability
tests (on a cluster of their own on other ports).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from labkit.ops import clients
from labkit.ops.infra.cluster import Cluster
from labkit.ops.infra.topics import ensure_topics, partition_table
from labkit.ops.waiting import wait_until


@dataclass
class FailoverResult:
    topic: str
    killed: int  # the node id of the leader that was killed
    new_leader: int  # the partition's leader once the producer finished
    sent: int
    confirmed: int  # sends the cluster acknowledged (acks=all)
    failed: dict[str, int]  # error name -> sends the producer gave up on
    stored: int  # distinct sequence numbers read back from the surviving brokers
    lost: int  # confirmed, but not in the topic
    duplicates: int  # sequence numbers stored more than once
    # From the kill to the first good sample naming a new leader: an upper bound, since a
    # sample's metadata request can fail or time out (SAMPLE_TIMEOUT_MS) while the controllers elect.
    leader_moved_after_s: float | None
    killed_at_s: float | None = None  # seconds after the first send
    restarted_at_s: float | None = None  # when the killed node was started again (None: it was not)
    timeline: list[dict] = field(default_factory=list)  # {t, leader, isr}: seconds after the first send

    def __str__(self) -> str:
        moved = "never" if self.leader_moved_after_s is None else f"at most {self.leader_moved_after_s:.1f} s after the kill"
        return (f"killed leader {self.killed}; new leader {self.new_leader} ({moved}); "
                f"{self.confirmed:,} of {self.sent:,} sends confirmed, {sum(self.failed.values())} failed; "
                f"{self.stored:,} in the topic; lost {self.lost}, duplicates {self.duplicates}")


def leader_failover(cluster: Cluster, topic: str = "lab.failover", events: int = 1500, rate: float = 300.0,
                    kill_at: float = 0.3, restart: bool = True, settings=None,
                    make_topic=None, make_producer=None) -> FailoverResult:
    """Produce `events` numbered messages to a one-partition topic at about `rate` per second
    with acks=all; after `kill_at` of them, SIGKILL the partition's leader. Then read the topic
    back from the surviving brokers and compare with what was confirmed. With `restart`, the
    killed node is started again at the end and its return to the ISR is sampled too.
    Messages are `seq` as text (key: none).

    `make_topic(admin, name)` and `make_producer(bootstrap)` (notebook 11's exercise 11.1)
    replace the lab's own: the topic is then deleted first if it exists, made by
    `make_topic`, and written by the producer `make_producer` returns, whatever its settings."""
    from labkit.config import Settings

    settings = settings or Settings.from_env()
    if make_topic is None:
        ensure_topics(settings, {topic: 1}, bootstrap=cluster.bootstrap)
    else:
        _remake(settings, cluster.bootstrap, topic, make_topic)
    # A new topic's followers join the in-sync replicas a moment after it is made: start only
    # once all of them have, so what the kill does to the ISR is the kill's doing.
    wait_until(lambda: len(_sample(cluster.bootstrap, topic, 0.0)["isr"]) == len(cluster.nodes), 30, poll_s=0.2,
               what=f"every replica of {topic} to be in sync")
    start_offset = _end_offset(settings, cluster.bootstrap, topic)
    killed = _leader(cluster.bootstrap, topic)
    survivors = ",".join(f"{cluster.host}:{n.port}" for n in cluster.nodes if n.node_id != killed)

    confirmed: set[int] = set()
    failed: Counter = Counter()
    if make_producer is None:
        # acks="all", idempotent (labkit.ops.clients); retried for up to a minute while a leader is elected.
        producer = clients.kafka_producer(settings, cluster.bootstrap, retries=2**31 - 1, request_timeout_ms=5000,
                                          delivery_timeout_ms=60000)
    else:
        producer = make_producer(cluster.bootstrap)
    timeline: list[dict] = []
    t0 = time.monotonic()
    kill_seq = int(events * kill_at)
    killed_at = None
    next_sample = 0.0
    try:
        for seq in range(events):
            if seq == kill_seq:
                cluster.kill(killed)
                killed_at = time.monotonic() - t0
            future = producer.send(topic, str(seq).encode())
            future.add_callback(lambda _md, s=seq: confirmed.add(s))
            future.add_errback(lambda exc: failed.update([type(exc).__name__]))
            now = time.monotonic() - t0
            # The partition's state, twice a second. A sample is a metadata request: while the
            # controllers elect it can fail (an "error" row) or wait out its timeout.
            if now >= next_sample:
                timeline.append(_sample(survivors if killed_at is not None else cluster.bootstrap, topic, now))
                next_sample = now + 0.5
            time.sleep(max(0.0, (seq + 1) / rate - (time.monotonic() - t0)))
        producer.flush()
    finally:
        producer.close()
    # Once the sends are through, the sends no longer hold the samples up: a few of the
    # partition under its new leader, before the killed node comes back.
    for _ in range(3):
        timeline.append(_sample(survivors, topic, time.monotonic() - t0))
        time.sleep(0.5)
    restarted_at = None
    if restart:
        cluster.start_node(killed)
        restarted_at = round(time.monotonic() - t0, 2)
        def back_in_sync() -> bool:
            timeline.append(_sample(cluster.bootstrap, topic, time.monotonic() - t0))
            return killed in timeline[-1]["isr"]

        wait_until(back_in_sync, 60, poll_s=0.5, what=f"node {killed} to rejoin the in-sync replicas")

    stored = Counter(_read_back(settings, survivors, topic, start_offset))
    moved = next((row["t"] - killed_at for row in timeline
                  if killed_at is not None and row["t"] >= killed_at and row["leader"] not in (killed, -1)), None)
    return FailoverResult(
        topic=topic, killed=killed, new_leader=_leader(survivors, topic), sent=events, confirmed=len(confirmed),
        failed=dict(failed), stored=len(stored), lost=len(confirmed - set(stored)),
        duplicates=sum(1 for n in stored.values() if n > 1), leader_moved_after_s=moved,
        killed_at_s=None if killed_at is None else round(killed_at, 2), restarted_at_s=restarted_at, timeline=timeline)


def _remake(settings, bootstrap: str, topic: str, make_topic) -> None:
    """Delete `topic` if it exists (a second run of the cell), then let `make_topic` create it."""
    admin = clients.kafka_admin(settings, bootstrap)
    try:
        if topic in admin.list_topics():
            admin.delete_topics([topic])
            wait_until(lambda: topic not in admin.list_topics(), 30, poll_s=0.2, what=f"{topic} to be deleted")
        make_topic(admin, topic)
        # The controller knows the topic before every broker does: wait until its metadata names a leader.
        wait_until(lambda: _sample(bootstrap, topic, 0.0)["leader"] >= 0, 30, poll_s=0.2, what=f"{topic} to get a leader")
    finally:
        admin.close()


def _leader(bootstrap: str, topic: str) -> int:
    return partition_table(bootstrap, [topic])[0]["leader"]


#: A sample's metadata request gives up after this long: while the controllers elect, a
#: request can wait for a broker that is gone, and the sends (same loop) wait with it.
SAMPLE_TIMEOUT_MS = 1500


def _sample(bootstrap: str, topic: str, t: float) -> dict:
    try:
        row = partition_table(bootstrap, [topic], timeout_ms=SAMPLE_TIMEOUT_MS)[0]
        return {"t": round(t, 2), "leader": row["leader"], "isr": row["isr"]}
    except Exception as exc:  # metadata unavailable for a moment while the controllers elect
        return {"t": round(t, 2), "leader": -1, "isr": [], "error": type(exc).__name__}


def _end_offset(settings, bootstrap: str, topic: str) -> int:
    from kafka import TopicPartition

    consumer = clients.kafka_consumer(settings, bootstrap)
    try:
        tp = TopicPartition(topic, 0)
        return consumer.end_offsets([tp])[tp]
    finally:
        consumer.close()


def _read_back(settings, bootstrap: str, topic: str, start: int) -> list[int]:
    """Every sequence number in the topic from offset `start` to its end, read committed."""
    from kafka import TopicPartition

    consumer = clients.kafka_consumer(settings, bootstrap, consumer_timeout_ms=5000)
    tp = TopicPartition(topic, 0)
    try:
        consumer.assign([tp])
        end = consumer.end_offsets([tp])[tp]
        consumer.seek(tp, start)
        seqs = []
        while consumer.position(tp) < end:
            batch = consumer.poll(timeout_ms=1000)
            if not batch:
                break
            seqs += [int(m.value) for m in batch.get(tp, [])]
        return seqs
    finally:
        consumer.close()
