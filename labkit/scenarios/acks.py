"""What `acks` decides, run: the followers fall behind for a second, then the leader dies.

    result = lost_with_acks(cluster, topic="lab11.acks-1", acks=1)
    result.lost    # confirmed sends missing from the topic

A follower copies its leader by asking it for new messages. Here both followers of a
one-partition topic (three replicas, `min.insync.replicas=2`) are paused with SIGSTOP for
about a second, as a long garbage-collection pause would freeze them. That is shorter than
the controllers' session timeout (3 s on the lab's brokers), so the controllers still count
both as alive and in sync. While they are paused, `during` messages are sent; then the
leader is SIGKILLed and the followers resume. The controllers elect one of the followers,
in sync as far as they know, and it never copied those messages.

- `acks=1`: the leader confirmed each message as soon as it had written it itself. Confirmed,
  then lost: the old leader, started again, cuts its log back to the new leader's.
- `acks="all"`: the leader confirms a message only once every in-sync replica has it, so none
  sent during the pause is confirmed before the kill. The producer sends them again to the new
  leader, which confirms them.

Used by notebook 11, on the same three brokers as `failover.leader_failover`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from labkit.ops import clients
from labkit.ops.infra.cluster import Cluster
from labkit.ops.waiting import wait_until
from labkit.scenarios.failover import _end_offset, _leader, _read_back, _remake, _sample

#: A follower's fetch request waits up to this long on the leader for new messages (Kafka's
#: `replica.fetch.wait.max.ms`, 500 ms): one sent just before the pause is answered, empty,
#: within it. Sent later, the messages would reach the paused follower's socket and be
#: copied the moment it resumes.
FETCH_WAIT_S = 0.6


@dataclass
class AcksResult:
    acks: str  # "1" or "all"
    sent: int  # in all: `before` the pause and `during` it
    sent_while_paused: int  # `during`
    confirmed_before_kill: int  # of the sends made while the followers were paused
    confirmed: int  # of all sends, once the producer had finished
    stored: int  # distinct sequence numbers read back, once the old leader is back in sync
    lost: int  # confirmed, but not in the topic
    killed: int  # the leader's node id
    new_leader: int

    def __str__(self) -> str:
        return (f"acks={self.acks}: {self.confirmed_before_kill} of the sends made while the followers were paused "
                f"were confirmed before the leader died; {self.confirmed} of {self.sent} confirmed in all, "
                f"{self.stored} in the topic, lost {self.lost}")


def lost_with_acks(cluster: Cluster, topic: str, acks, settings=None, before: int = 100,
                   during: int = 50) -> AcksResult:
    """Send `before` messages and wait until every replica has them; pause both followers;
    send `during` more with `acks`; kill the leader and resume the followers; then start the
    old leader again and read the topic back. The topic is made anew (three replicas,
    `min.insync.replicas=2`). Messages are their sequence number as text."""
    from labkit.config import Settings

    settings = settings or Settings.from_env()
    _remake(settings, cluster.bootstrap, topic, _three_copies)
    wait_until(lambda: len(_sample(cluster.bootstrap, topic, 0.0)["isr"]) == len(cluster.nodes), 30, poll_s=0.2,
               what=f"every replica of {topic} to be in sync")
    leader = _leader(cluster.bootstrap, topic)
    followers = [n.node_id for n in cluster.nodes if n.node_id != leader]
    survivors = ",".join(f"{cluster.host}:{cluster.node(n).port}" for n in followers)
    # Idempotence needs acks="all": with acks=1 the producer cannot have it.
    producer = clients.kafka_producer(settings, cluster.bootstrap, acks=acks, enable_idempotence=acks == "all",
                                      retries=2**31 - 1, request_timeout_ms=5000, delivery_timeout_ms=60000)
    confirmed: set[int] = set()

    def send(seqs) -> None:
        for seq in seqs:
            producer.send(topic, str(seq).encode()).add_callback(lambda _md, s=seq: confirmed.add(s))

    try:
        send(range(before))
        producer.flush()
        # The end offset a reader sees is the high watermark: it reaches `before` once every
        # in-sync replica has copied them.
        wait_until(lambda: _end_offset(settings, cluster.bootstrap, topic) == before, 30, poll_s=0.2,
                   what="the followers to copy the first messages")
        for node in followers:
            cluster.pause(node)
        try:
            time.sleep(FETCH_WAIT_S)
            send(range(before, before + during))
            time.sleep(0.3)  # the leader's answers arrive
            confirmed_before_kill = len(confirmed & set(range(before, before + during)))
            cluster.kill(leader)
        finally:
            for node in followers:  # never leave a broker frozen, whatever happened
                cluster.resume(node)
        producer.flush()
    finally:
        producer.close()
    wait_until(lambda: _sample(survivors, topic, 0.0)["leader"] not in (leader, -1), 60, poll_s=0.3,
               what=f"a new leader for {topic}")
    new_leader = _leader(survivors, topic)
    cluster.start_node(leader)
    wait_until(lambda: leader in _sample(cluster.bootstrap, topic, 0.0)["isr"], 60, poll_s=0.5,
               what=f"node {leader} to rejoin the in-sync replicas")
    stored = set(_read_back(settings, cluster.bootstrap, topic, 0))
    return AcksResult(acks=str(acks), sent=before + during, sent_while_paused=during, confirmed_before_kill=confirmed_before_kill,
                      confirmed=len(confirmed), stored=len(stored), lost=len(confirmed - stored), killed=leader,
                      new_leader=new_leader)


def _three_copies(admin, name: str) -> None:
    """A one-partition topic with three replicas, of which two must hold a write."""
    admin.create_topics({name: {"num_partitions": 1, "replication_factor": 3,
                                "configs": {"min.insync.replicas": "2"}}})
