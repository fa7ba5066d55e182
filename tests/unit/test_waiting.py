import math

import pytest

from labkit.ops.waiting import wait_until


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_returns_the_first_truthy_answer_after_polling():
    t = FakeTime()
    answers = iter([None, [], {"w1": [0]}])
    assert wait_until(lambda: next(answers), timeout_s=5, poll_s=1, clock=t.clock, sleep=t.sleep) == {"w1": [0]}
    assert t.now == 2  # two polls slept


def test_gives_up_after_the_timeout_and_says_what_it_waited_for():
    t = FakeTime()
    with pytest.raises(TimeoutError, match="waited 3 s for the topic to go"):
        wait_until(lambda: False, timeout_s=3, poll_s=1, what="the topic to go", clock=t.clock, sleep=t.sleep)
    assert t.now == 3


def test_an_exception_in_the_check_reaches_the_caller():
    def broken():
        raise ValueError("never")

    with pytest.raises(ValueError, match="never"):
        wait_until(broken, timeout_s=3)


def test_an_infinite_timeout_waits_as_long_as_it_takes():
    t = FakeTime()
    answers = iter([False] * 10_000 + ["done"])
    assert wait_until(lambda: next(answers), timeout_s=math.inf, poll_s=60, clock=t.clock, sleep=t.sleep) == "done"
    assert t.now == 600_000  # almost a week of polls, and no TimeoutError
