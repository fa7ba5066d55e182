"""TransactionalDelivery's fencing rules, with a stand-in producer (no broker): fenced once,
the batch is abandoned and a new producer tried; fenced twice within a minute, it stops for
good and never makes a producer again (a new one would fence the live twin in turn)."""

import pytest
from kafka.errors import ProducerFencedError

from labkit.config import Settings
from labkit.process import delivery
from labkit.process.delivery import BatchAbandoned, FencedTwice, TransactionalDelivery

pytestmark = pytest.mark.unit


class FencedProducer:
    """Initialises fine; every transaction it begins is refused: another producer took its id."""

    made = 0

    def __init__(self, *args, **kwargs):
        FencedProducer.made += 1

    def init_transactions(self):
        pass

    def begin_transaction(self):
        raise ProducerFencedError("a newer producer has this transactional id")

    def close(self, timeout=None):
        pass


class Group:
    def committed(self, offsets):
        return False


@pytest.fixture
def fenced(monkeypatch):
    from labkit.ops import clients

    FencedProducer.made = 0
    monkeypatch.setattr(clients, "kafka_producer", FencedProducer)
    return TransactionalDelivery(Settings(), "g.tx", 60_000, group=Group())


def test_fenced_once_abandons_the_batch_twice_stops_for_good(fenced):
    with pytest.raises(BatchAbandoned):
        fenced.publish([], {("t", 0): 1})
    with pytest.raises(FencedTwice):
        fenced.publish([], {("t", 0): 1})
    assert FencedProducer.made == 2
    for again in (lambda: fenced.publish([], {}), fenced.open):  # metrics, or the next run()
        with pytest.raises(FencedTwice):
            again()
    assert FencedProducer.made == 2, "no producer is made after a live twin was seen"


def test_a_rebalance_error_while_committing_abandons_the_batch(monkeypatch):
    from kafka.errors import RebalanceInProgressError

    class Group:
        def commit(self, offsets):
            raise RebalanceInProgressError("the group is rebalancing")

    acked = delivery.AckedDelivery(Settings(), group=Group())
    acked._producer = type("Producer", (), {"send": None, "flush": lambda self, timeout: None})()
    with pytest.raises(BatchAbandoned):
        acked.publish([], {("t", 0): 1})
