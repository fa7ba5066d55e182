"""Solutions for notebook 09 (scale out)."""

from __future__ import annotations

from collections import Counter

from labkit.ops.kafka_io import partition_for_key


def range_assignment(partitions: int, workers: list[str]) -> dict[str, list[int]]:
    """Exercise 09.1: Kafka's range assignor for one topic. Workers in sorted order each take
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
    """Exercise 09.2: the key that keeps the busiest partition busy, and the share of all
    messages that partition carries."""
    by_partition = Counter(partition_for_key(k.encode(), partitions) for k in keys)
    busiest, load = by_partition.most_common(1)[0]
    key = Counter(k for k in keys if partition_for_key(k.encode(), partitions) == busiest).most_common(1)[0][0]
    return key, load / len(keys)


def partitions_for(rates: dict[str, float], per_worker_rate: float, headroom: float, most: int = 64) -> int | None:
    """Exercise 09.4: the fewest partitions (1 to `most`) for which no partition, its keys placed
    by hash, carries more than one worker reads (`per_worker_rate`) once multiplied by
    `headroom`; None when no count up to `most` does (a single key too busy for one worker)."""
    for count in range(1, most + 1):
        load = Counter()
        for key, rate in rates.items():
            load[partition_for_key(key.encode(), count)] += rate
        if max(load.values()) * headroom <= per_worker_rate:
            return count
    return None


def stalled(lag_samples: list[dict], seconds: float) -> dict[str, float]:
    """Exercise 09.3: {partition: seconds} for each partition whose lag, sampled at the broker,
    stayed above 0 without falling for at least `seconds`: its longest such stretch, from its
    first sample to its last. Nothing waiting (lag 0) is not a stall; a lag that falls, however
    slowly, is a consumer at work."""
    by_partition: dict[str, list[tuple[float, int]]] = {}
    for row in lag_samples:
        by_partition.setdefault(row["partition"], []).append((row["seconds"], row["lag"]))
    found = {}
    for partition, samples in by_partition.items():
        samples.sort()
        longest, start, previous = 0.0, None, None
        for t, lag in samples:
            if lag > 0 and previous is not None and previous > 0 and lag >= previous:
                longest = max(longest, t - start)
            elif lag > 0:
                start = t  # a stretch begins (or begins again after a fall)
            else:
                start = None
            previous = lag
        if longest >= seconds:
            found[partition] = round(longest, 2)
    return found
