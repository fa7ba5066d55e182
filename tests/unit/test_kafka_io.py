"""The lag of one partition, as every part of the lab computes it (labkit.ops.kafka_io)."""

import pytest

from labkit.ops.kafka_io import partition_lag


@pytest.mark.parametrize("end, committed, log_start, lag", [
    (800, None, 500, 300),  # never committed, old records deleted: from the log start, not from 0
    (800, 600, 500, 200),  # committed: from the committed offset
    (800, 400, 500, 300),  # committed below the log start (retention passed it): end - log start
    (800, 800, 500, 0),  # read to the end
    (800, None, None, 800),  # never committed, nothing known deleted: the whole partition
    (800, 600, None, 200),  # the log start unknown (a consumer's own position, say)
    (None, 600, 500, None),  # the end unknown: the lag is too
])
def test_partition_lag(end, committed, log_start, lag):
    assert partition_lag(end, committed, log_start) == lag
