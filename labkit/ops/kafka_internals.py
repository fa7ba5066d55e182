"""The only module that touches kafka-python's private attributes.

Two things kafka-python (2.x) does not offer publicly, and the processor needs:
- a time limit on `send_offsets_to_transaction()` and `commit_transaction()`: the public
  calls wait for the broker's answer without one, and after a broker restart that answer
  can be lost for good (seen in the chaos run: a processor waiting forever);
- closing a producer that cannot flush (fenced or disconnected) without flushing: its
  buffered records must not be sent, and kafka-python would try to close it again when it
  is garbage-collected.

`missing()` lists the private names these rely on; a unit test fails when an upgrade of
kafka-python renames one, instead of a processor hanging in a class.
"""

from __future__ import annotations

#: (object, attribute) pairs used below, checked by `missing()`.
_PRODUCER_ATTRS = ("_transaction_manager", "_sender", "_closed")
_SENDER_METHODS = ("wakeup", "force_close")
_TRANSACTION_MANAGER_METHODS = ("send_offsets_to_transaction", "begin_commit")


def bounded_step(producer, start, timeout_ms: int, what: str) -> None:
    """Run one transaction step through the producer's transaction manager and wait at most
    `timeout_ms` for the broker's answer. `start(transaction_manager)` begins the step and
    returns its result handle. Raises KafkaTimeoutError (transient) when no answer came: the
    caller replaces the producer, whose successor aborts the open transaction."""
    from kafka.errors import KafkaTimeoutError

    result = start(producer._transaction_manager)
    producer._sender.wakeup()  # the step's request goes out now, not at the next linger
    if not result.wait(timeout_ms=timeout_ms):
        raise KafkaTimeoutError(f"no answer from Kafka while {what} within {timeout_ms // 1000} s")


def send_offsets(producer, offsets: dict, group_metadata, timeout_ms: int) -> None:
    """`producer.send_offsets_to_transaction(offsets, group_metadata)`, bounded."""
    bounded_step(producer, lambda tm: tm.send_offsets_to_transaction(offsets, group_metadata), timeout_ms,
                 "sending offsets")


def commit(producer, timeout_ms: int) -> None:
    """`producer.commit_transaction()`, bounded."""
    bounded_step(producer, lambda tm: tm.begin_commit(), timeout_ms, "committing the transaction")


def close_without_flush(producer) -> None:
    """Stop the producer's I/O thread and mark it closed, dropping what it still buffers."""
    sender = getattr(producer, "_sender", None)
    if sender is not None:
        sender.force_close()
    producer._closed = True


def missing() -> list[str]:
    """The private names above that this kafka-python does not have (empty when all are there)."""
    from kafka import KafkaProducer
    from kafka.producer.sender import Sender
    from kafka.producer.transaction_manager import TransactionManager

    gaps = [f"KafkaProducer.{name}" for name in _PRODUCER_ATTRS
            if name not in KafkaProducer.__init__.__code__.co_names and not hasattr(KafkaProducer, name)]
    gaps += [f"Sender.{name}" for name in _SENDER_METHODS if not callable(getattr(Sender, name, None))]
    gaps += [f"TransactionManager.{name}" for name in _TRANSACTION_MANAGER_METHODS
             if not callable(getattr(TransactionManager, name, None))]
    return gaps
