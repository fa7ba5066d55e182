"""The broker-lag sampler keeps what it measured, in order, and the API's rows' shape."""

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from labkit.observe.lag_sampler import LagSampler, lag_row

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def test_a_row_has_the_total_and_one_column_per_partition():
    rows = [{"partition": 1, "lag": 7}, {"partition": 0, "lag": 2}]
    assert lag_row(rows, T0) == {"t": T0, "total": 9, "p0": 2, "p1": 7}


def test_samples_are_kept_in_order_and_read_by_range():
    lags = iter([0, 3, 8])
    ticks = iter([T0, T0 + timedelta(seconds=5), T0 + timedelta(seconds=10)])
    sampler = LagSampler(lambda: [{"partition": 0, "lag": next(lags)}], clock=lambda: next(ticks), keep=2)
    for _ in range(3):
        sampler.sample()
    # keep=2: the oldest sample is gone
    assert [r["total"] for r in sampler.between(T0, T0 + timedelta(minutes=1))] == [3, 8]
    assert [r["total"] for r in sampler.between(T0, T0 + timedelta(seconds=10))] == [3]


def test_a_failed_measurement_is_a_gap_not_a_dead_task():
    calls = []

    def measure():
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("broker down")
        return [{"partition": 0, "lag": 4}]

    sampler = LagSampler(measure, every_s=0.01)

    async def run_briefly():
        task = asyncio.create_task(sampler.run())
        while len(calls) < 3:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(run_briefly())
    kept = sampler.between(T0, datetime.now(timezone.utc) + timedelta(seconds=1))
    assert len(kept) >= 2 and all(r["total"] == 4 for r in kept)
