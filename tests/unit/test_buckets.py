"""Bucket arithmetic, in one place (labkit.contract): in Python and as MongoDB computes it."""

import pytest

from labkit.contract import bucket_ceil, bucket_start, bucket_start_expression
from labkit.store import queries, rollups


@pytest.mark.parametrize("ms, size, start, ceil", [
    (1_764_230_412_345, 10_000, 1_764_230_410_000, 1_764_230_420_000),
    (1_764_230_410_000, 10_000, 1_764_230_410_000, 1_764_230_410_000),  # on an edge: both are the edge
    (1_764_230_459_999, 60_000, 1_764_230_400_000, 1_764_230_460_000),
    (0, 3_600_000, 0, 0),
])
def test_buckets_start_and_end_on_multiples_of_their_size(ms, size, start, ceil):
    assert (bucket_start(ms, size), bucket_ceil(ms, size)) == (start, ceil)


def test_the_servers_bucket_is_the_same_arithmetic_on_the_timestamp():
    t = {"$toLong": "$timestamp"}
    assert bucket_start_expression(t, 10_000) == {"$subtract": [t, {"$mod": [t, 10_000]}]}
    assert queries.bucket_expression(60_000) == bucket_start_expression(t, 60_000)
    assert rollups.from_readings_pipeline("CAR_001", 0, 60_000, 10_000)[1]["$group"]["_id"] == bucket_start_expression(t, 10_000)
