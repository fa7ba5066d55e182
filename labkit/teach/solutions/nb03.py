"""Solutions for notebook 03 (groups and transactions)."""

from __future__ import annotations

from kafka import AsyncConsumerRebalanceListener, KafkaConsumer
from kafka.structs import OffsetAndMetadata

from labkit.config import Settings


def group_consumer(settings: Settings, topic: str, group: str) -> KafkaConsumer:
    """Exercise 1: a member of consumer group `group`, subscribed to `topic` (the group
    shares the partitions out), starting at the first offset where the group has not
    committed, committing only when told to."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, **settings.kafka_auth, group_id=group,
                             auto_offset_reset="earliest",  # the default, "latest", skips what is already there
                             enable_auto_commit=False)      # commit after the work, not on a timer
    consumer.subscribe([topic])
    return consumer


class CommitOnRevoke(AsyncConsumerRebalanceListener):
    """Exercise 2: before a rebalance takes partitions away, commit what was processed on
    them. `done` maps each TopicPartition to the next offset to process (everything before
    it is finished); the consumer's position may be further on (polled, not yet processed).

    kafka-python calls a listener inside the consumer's own event loop, where a blocking
    `commit()` cannot wait: the async listener awaits `commit_async()` instead (the Java
    client's listener calls `commitSync()`, the same step)."""

    def __init__(self, consumer: KafkaConsumer, done: dict):
        self.consumer, self.done = consumer, done

    async def on_partitions_revoked(self, revoked):
        finished = {tp: OffsetAndMetadata(self.done[tp], "", -1) for tp in revoked if tp in self.done}
        if finished:
            await self.consumer.commit_async(finished)

    async def on_partitions_assigned(self, assigned):
        pass


def publish_all_or_nothing(producer, topic: str, values: list[bytes]) -> bool:
    """Exercise 3: every value to `topic` in one transaction, or none: True once committed;
    when a send fails, the transaction is aborted and the answer is False. The producer is
    registered already (init_transactions), and stays ready for the next call."""
    producer.begin_transaction()
    try:
        futures = [producer.send(topic, value=value) for value in values]
        for future in futures:
            future.get(timeout=30)  # raises if the broker refused it
    except Exception:  # a refused send (too big, a broker error): nothing of this call may show
        producer.abort_transaction()
        return False
    producer.commit_transaction()
    return True


def copy_exactly_once(consumer: KafkaConsumer, producer, target: str) -> int:
    """Exercise 4: copy every record the consumer reads to `target`, one transaction per
    poll: the copies and the consumer's offsets are committed together or not at all.
    Returns the number of records copied."""
    producer.init_transactions()  # fences an older producer with the same transactional id
    copied = 0
    while True:
        polled = consumer.poll(timeout_ms=1000)
        if not polled:
            return copied
        producer.begin_transaction()
        offsets = {}
        for tp, records in polled.items():
            for record in records:
                producer.send(target, key=record.key, value=record.value)
            offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, "", -1)  # the next offset to read
            copied += len(records)
        producer.send_offsets_to_transaction(offsets, consumer.group_metadata())
        producer.commit_transaction()
