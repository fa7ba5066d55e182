"""labkit.simulate.ahead: the simulator in a child process gives the same messages, in the same
order, as in this one; a caller that stops early leaves no process behind; a failure in the
child is raised here, with its message."""

import multiprocessing
from datetime import datetime, timezone

import pytest

from labkit.simulate.ahead import simulate_ahead
from labkit.simulate.simulator import SimConfig, Simulator

pytestmark = pytest.mark.unit

START = datetime(2026, 2, 25, 8, 0, tzinfo=timezone.utc)


def _fields(messages):
    return [(m.key, m.value, m.car_id, m.event_id, m.seq, m.timestamp, m.labels) for m in messages]


@pytest.mark.parametrize("bounds", [{"count": 2500}, {"duration_s": 90.0}])
def test_the_same_messages_in_the_same_order(bounds):
    config = SimConfig(cars=7, seed=3)
    here = _fields(Simulator(config).messages(start=START, **bounds))
    assert len(here) > 600
    assert _fields(simulate_ahead(config, start=START, **bounds)) == here


def test_a_caller_that_stops_early_leaves_no_process():
    messages = simulate_ahead(SimConfig(cars=50), start=START)  # unbounded: the child never ends alone
    assert len([next(messages) for _ in range(10)]) == 10
    messages.close()
    assert multiprocessing.active_children() == []


def test_a_failure_in_the_child_is_raised_here():
    with pytest.raises(RuntimeError, match="timezone-aware"):
        list(simulate_ahead(SimConfig(), count=10, start=datetime(2026, 2, 25, 8, 0)))
