"""Solutions for notebook 08 (scale out)."""

from __future__ import annotations

import math
from collections import Counter

from labkit.ops.kafka_io import partition_for_key


def range_assignment(partitions: int, workers: list[str]) -> dict[str, list[int]]:
    """Exercise 08.1: Kafka's range assignor for one topic. Workers in sorted order each take
    a run of consecutive partitions; the first `partitions % len(workers)` take one more.
    A worker beyond the partition count gets an empty list."""
    ordered = sorted(workers)
    share, extra = divmod(partitions, len(ordered))
    result, start = {}, 0
    for i, worker in enumerate(ordered):
        size = share + (1 if i < extra else 0)
        result[worker] = list(range(start, start + size))
        start += size
    return result


def hot_key(keys: list[str], partitions: int) -> tuple[str, float]:
    """Exercise 08.2: the key that keeps the busiest partition busy, and the share of all
    messages that partition carries."""
    by_partition = Counter(partition_for_key(k.encode(), partitions) for k in keys)
    busiest, load = by_partition.most_common(1)[0]
    key = Counter(k for k in keys if partition_for_key(k.encode(), partitions) == busiest).most_common(1)[0][0]
    return key, load / len(keys)


def partitions_for(rate: float, per_worker_rate: float, headroom: float) -> int:
    """Exercise 08.3: the fewest partitions that let enough workers (one per partition, each
    doing `per_worker_rate`) keep up with `rate` times `headroom`."""
    return math.ceil(rate * headroom / per_worker_rate)
