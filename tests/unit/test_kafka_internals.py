"""kafka-python's private attributes are used in one module (labkit.ops.kafka_internals);
these tests fail when an upgrade of kafka-python renames or removes one of them."""

import pytest

from labkit.ops import kafka_internals

pytestmark = pytest.mark.unit


def test_every_private_name_the_adapter_uses_exists_in_this_kafka_python():
    assert kafka_internals.missing() == []


def test_a_missing_name_is_reported(monkeypatch):
    from kafka.producer.transaction_manager import TransactionManager

    monkeypatch.delattr(TransactionManager, "begin_commit")
    assert kafka_internals.missing() == ["TransactionManager.begin_commit"]


def test_a_step_without_an_answer_times_out_as_a_transient_error():
    from kafka.errors import KafkaTimeoutError

    from labkit.ops.transient import is_transient

    class NeverAnswered:
        def wait(self, timeout_ms):
            return False

    class Sender:
        woken = 0

        def wakeup(self):
            Sender.woken += 1

    class Producer:
        _transaction_manager = object()
        _sender = Sender()

    with pytest.raises(KafkaTimeoutError) as raised:
        kafka_internals.bounded_step(Producer(), lambda tm: NeverAnswered(), 1000, "committing the transaction")
    assert is_transient(raised.value) and Sender.woken == 1
    assert "committing the transaction within 1 s" in str(raised.value)


def test_only_the_adapter_touches_kafka_pythons_private_attributes():
    """Grep labkit for the private names: any use outside the adapter is a new dependency on
    kafka-python's internals that this test's first case would not cover."""
    from pathlib import Path

    import labkit

    names = ("_transaction_manager", "_sender", "_closed", "force_close")
    users = sorted(str(path.relative_to(Path(labkit.__file__).parent))
                   for path in Path(labkit.__file__).parent.rglob("*.py")
                   if any(f".{name}" in path.read_text() for name in names))
    assert users == ["ops/kafka_internals.py"]
