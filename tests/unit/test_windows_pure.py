"""Event-time windows on hand-made sequences, with exact expected results."""

import random

import pytest

from labkit.process.windows import FLEET, LATE, ON_TIME, TOO_LATE, EventTimeWindows, lateness_trade_off

S = 1_000  # one second in ms; windows are 10 s


def states(emissions, key="CAR_001"):
    return [(e.start_ms // S, e.state, e.revision, e.count) for e in emissions if e.key == key]


def test_a_window_is_emitted_when_the_watermark_passes_its_end():
    w = EventTimeWindows(delay_ms=2 * S, allowed_lateness_ms=30 * S)
    for t in (0, 3, 9.999):
        assert w.add(0, "CAR_001", int(t * S), now_ms=0) == ON_TIME
    assert w.advance(0) == []  # watermark 9.999 - 2: the window [0, 10) is still open
    w.add(0, "CAR_001", 10 * S, now_ms=0)  # exactly at the end: the next window
    w.add(0, "CAR_001", 11 * S, now_ms=0)
    assert w.advance(0) == []  # watermark 9 s
    w.add(0, "CAR_001", 12 * S, now_ms=0)  # watermark 10 s: [0, 10) is complete
    assert states(w.advance(0)) == [(0, "emitted", 0, 3)]
    assert states(w.advance(0), key=FLEET) == []  # nothing new: nothing published twice
    assert w.watermark(0) == 10 * S


def test_a_late_event_revises_an_emitted_window_and_a_too_late_one_is_set_aside():
    w = EventTimeWindows(delay_ms=0, allowed_lateness_ms=20 * S)
    w.add(0, "CAR_001", 5 * S, 0)
    w.add(0, "CAR_001", 15 * S, 0)
    assert states(w.advance(0)) == [(0, "emitted", 0, 1)]
    assert w.add(0, "CAR_001", 7 * S, 0) == LATE  # [0, 10) emitted; watermark 15 < 10 + 20
    assert w.add(0, "CAR_001", 8 * S, 0) == LATE
    assert states(w.advance(0)) == [(0, "revised", 1, 3)]
    w.add(0, "CAR_001", 30 * S, 0)  # watermark 30 = 10 + 20: [0, 10) is final
    assert states(w.advance(0)) == [(0, "final", 1, 3), (10, "emitted", 0, 1)]
    assert w.add(0, "CAR_001", 9 * S, 0) == TOO_LATE
    assert states(w.advance(0)) == []  # a too-late event changes no window
    assert w.counts == {ON_TIME: 3, LATE: 2, TOO_LATE: 1}


def test_fleet_windows_count_every_car():
    w = EventTimeWindows(delay_ms=0, allowed_lateness_ms=0)
    for car in ("CAR_001", "CAR_002", "CAR_002"):
        w.add(0, car, 1 * S, 0)
    w.add(0, "CAR_001", 10 * S, 0)
    out = w.advance(0)
    assert states(out, FLEET) == [(0, "emitted", 0, 3), (0, "final", 0, 3)]
    assert states(out, "CAR_002") == [(0, "emitted", 0, 2), (0, "final", 0, 2)]


def test_the_slowest_partition_holds_the_watermark_back_until_it_is_idle():
    w = EventTimeWindows(delay_ms=0, allowed_lateness_ms=0, idle_ms=30 * S)
    w.add(0, "CAR_001", 5 * S, now_ms=0)
    w.add(1, "CAR_002", 100 * S, now_ms=0)
    assert w.watermark(now_ms=0) == 5 * S  # partition 0 is behind
    assert states(w.advance(0), FLEET) == []
    assert w.watermark(now_ms=29 * S) == 5 * S
    w.add(1, "CAR_002", 101 * S, now_ms=29 * S)  # partition 1 keeps talking; 0 is silent
    assert w.watermark(now_ms=30 * S) == 101 * S  # partition 0 idle for 30 s: left out
    assert states(w.advance(30 * S), "CAR_001") == [(0, "emitted", 0, 1), (0, "final", 0, 1)]
    w.add(0, "CAR_001", 6 * S, now_ms=31 * S)  # it speaks again, far behind: too late
    assert w.counts[TOO_LATE] == 1 and w.watermark(now_ms=31 * S) == 101 * S  # it never moves back


def test_when_every_partition_is_idle_the_watermark_stays():
    # A broker outage: nothing arrives for a minute, then partitions resume at their own pace.
    w = EventTimeWindows(delay_ms=0, allowed_lateness_ms=10 * S, idle_ms=30 * S)
    w.assign([0, 1], now_ms=0)
    w.add(0, "CAR_001", 100 * S, now_ms=0)
    w.add(1, "CAR_002", 20 * S, now_ms=0)  # partition 1's backlog is further behind
    assert w.watermark(0) == 20 * S
    assert w.watermark(60 * S) == 20 * S  # both idle: no jump to partition 0's 100 s
    assert w.add(1, "CAR_002", 21 * S, now_ms=61 * S) == ON_TIME


def test_every_event_is_in_exactly_one_final_window_or_too_late():
    rng = random.Random(3)
    w = EventTimeWindows(delay_ms=2 * S, allowed_lateness_ms=5 * S)
    finals, added = {}, 0
    for i in range(3_000):
        car = f"CAR_{rng.randrange(5):03d}"
        t = i * 100 - (rng.randrange(30 * S) if rng.random() < 0.05 else rng.randrange(3 * S))
        w.add(rng.randrange(3), car, max(0, t), now_ms=i * 100)
        added += 1
        for e in w.advance(i * 100):
            if e.state == "final":
                finals[(e.key, e.start_ms)] = e.count
    w.add(0, "CAR_000", 10**9, now_ms=300 * S)  # move the watermark past everything
    w.add(1, "CAR_000", 10**9, now_ms=300 * S)
    w.add(2, "CAR_000", 10**9, now_ms=300 * S)
    for e in w.advance(300 * S):
        if e.state == "final":
            finals[(e.key, e.start_ms)] = e.count
    per_car = sum(n for (key, start), n in finals.items() if key != FLEET and start < 10**9 - 10 * S)
    fleet = sum(n for (key, start), n in finals.items() if key == FLEET and start < 10**9 - 10 * S)
    assert per_car + w.counts[TOO_LATE] == added == fleet + w.counts[TOO_LATE]
    assert w.counts[TOO_LATE] > 0 and w.counts[LATE] > 0  # the sequence did exercise both


def test_an_assigned_partition_that_delivered_nothing_holds_the_watermark_until_idle():
    w = EventTimeWindows(delay_ms=0, allowed_lateness_ms=0, idle_ms=30 * S)
    w.assign([0, 1], now_ms=0)
    w.add(0, "CAR_001", 500 * S, now_ms=0)  # partition 0's backlog is read first ...
    assert w.watermark(0) is None and w.advance(0) == []
    assert w.add(1, "CAR_002", 1 * S, now_ms=1 * S) == ON_TIME  # ... so partition 1's old events are on time
    assert w.watermark(1 * S) == 1 * S
    w.revoke([1])  # partition 1 moved to another processor: it no longer holds anything back
    assert w.watermark(2 * S) == 500 * S
    w.assign([2], now_ms=2 * S)  # a new, empty partition: held back, until idle
    assert w.watermark(3 * S) is None and w.watermark(32 * S) is None  # a new epoch; all idle: unchanged
    w.add(0, "CAR_001", 501 * S, now_ms=33 * S)  # partition 0 talks, partition 2 is idle: it no longer counts
    assert w.watermark(33 * S) == 501 * S


def test_a_partition_with_a_backlog_at_the_broker_is_never_idle():
    """The chaos run's case: partition 0's backlog is read for over idle_ms while partition 1
    waits its turn; its events must still be on time when they come."""
    w = EventTimeWindows(delay_ms=0, allowed_lateness_ms=0, idle_ms=30 * S)
    w.assign([0, 1], now_ms=0)
    for second in range(0, 60):
        w.backlogged([1], now_ms=second * S)  # the broker still holds partition 1's messages
        w.add(0, "CAR_001", (500 + second) * S, now_ms=second * S)
    assert w.watermark(60 * S) is None  # partition 1 has delivered nothing yet: held back
    assert w.add(1, "CAR_002", 1 * S, now_ms=61 * S) == ON_TIME
    assert w.watermark(61 * S) == 1 * S
    # Once partition 1 has nothing waiting and stays silent for idle_ms, it is left out as before.
    w.add(0, "CAR_001", 600 * S, now_ms=92 * S)
    assert w.watermark(92 * S) == 600 * S


def test_lateness_trade_off_counts_what_each_allowed_lateness_loses():
    # 10 s windows, no delay: the watermark is the newest event time seen before each reading.
    stream = [{"car_id": "CAR_001", "event_ms": e * S, "arrival_ms": a * S} for e, a in [
        (1, 1), (12, 12),
        (5, 13),  # watermark 12: [0, 10) is final once 10 + lateness <= 12, so too late up to 2 s
        (25, 25),
        (8, 26),  # watermark 25: too late up to 15 s
    ]]
    rows = lateness_trade_off(stream, 0, [0, 2, 3, 15, 20])
    assert [(r["lateness_s"], r["too_late"], r["counted_pct"]) for r in rows] == [
        (0, 2, 60.0), (2, 2, 60.0), (3, 1, 80.0), (15, 1, 80.0), (20, 0, 100.0)]
    assert [r["lateness_s"] for r in lateness_trade_off(stream, 0, [20, 0])] == [20, 0]  # in the order given
    # 30 s windows: [0, 30) is still open for both stragglers; a 10 s delay spares the first.
    assert [r["too_late"] for r in lateness_trade_off(stream, 0, [0], size_ms=30 * S)] == [0]
    assert [r["too_late"] for r in lateness_trade_off(stream, 10 * S, [0, 5, 6])] == [1, 1, 0]
    with pytest.raises(ValueError):
        lateness_trade_off([], 0, [0])
