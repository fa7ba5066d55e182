"""The newest documents of a collection by a time field, without a sorted read of all of them.

    newest_first(anomalies, {"car_id": "CAR_001"}, "timestamp", 100,
                 end=end, first_from=end - timedelta(seconds=10), start=start)

returns what this one query returns:

    anomalies.find({"car_id": "CAR_001", "timestamp": {"$gte": start, "$lt": end}})
             .sort("timestamp", -1).limit(100)

Why not send that query: the lab's local MongoDB-wire server reads every document a sorted
query matches before it applies the limit. Fifteen minutes of a thousand cars hold some
17,000 anomalies, and a day of metrics windows 8,640 (326 ms for the newest one;
bench/results/storage.md), while the newest few lie in the last seconds. So the range is
searched in slices from its end backwards, the newest slice first, each slice `growth`
times as long as the one before, until `limit` documents are found or the range's start is
passed. Slices are half-open and adjacent ([lo, hi), then [lo', lo)), so a document on a
slice's edge is read once, and documents with equal times always share a slice.

Works on any ordered field: datetimes (spans are timedeltas) or epoch ms (spans are ints).
"""

from __future__ import annotations


def newest_first(collection, match: dict, field: str, limit: int, *, end, first_from, start=None,
                 growth: int = 4, projection: dict | None = None) -> list[dict]:
    """The documents of `collection` that match `match` with `field` in [start, end), highest
    `field` first, at most `limit`: what one query sorted by `field` descending with a limit
    returns (among documents with equal `field`, in the order the server gives them).

    `first_from` is where the first slice, [first_from, end), begins: as far back as the
    newest `limit` documents usually reach. Then slices further back, each `growth` times as
    long as the one before, the last one cut at `start`. `end=None`: no upper bound (only
    without a `start`: a slice needs an end to measure its length from). `start=None`: no
    lower bound, so after the first slice everything older is read in one query, the sorted
    read this function avoids, paid only when the first slice holds fewer than `limit`.
    `first_from=None` is that read alone. `projection` is passed to `find`.
    """
    if start is not None and (end is None or (first_from is not None and first_from >= end) or growth < 1):
        raise ValueError("newest_first: slices down to a start need an end, first_from before it, and growth >= 1")
    found: list[dict] = []
    hi, lo = end, first_from
    while len(found) < limit:
        if start is not None and (lo is None or lo < start):
            lo = start
        query = collection.find(_in_range(match, field, lo, hi), projection)
        found += query.sort(field, -1).limit(limit - len(found))
        if lo is None or lo == start:  # the whole range has been read
            break
        # The next slice, further back: `growth` times as long, or, without a start, everything older.
        hi, lo = lo, (lo - (hi - lo) * growth if start is not None else None)
    return found


def _in_range(match: dict, field: str, lo, hi) -> dict:
    """`match` with `field` in [lo, hi); None is an open end (both None: any `field`)."""
    condition = {}
    if lo is not None:
        condition["$gte"] = lo
    if hi is not None:
        condition["$lt"] = hi
    return {**match, field: condition} if condition else dict(match)
