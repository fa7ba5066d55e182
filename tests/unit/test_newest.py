"""newest_first returns exactly what one sorted query with a limit returns, reading less."""

import random
from datetime import datetime, timedelta, timezone

import pytest

from labkit.store.newest import newest_first

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


class FakeCollection:
    """Enough of a pymongo collection for `find(filter, projection).sort(field, -1).limit(n)`:
    equality and `$gte`/`$lt` conditions, a stable sort (documents with equal values keep the
    order they were inserted in, as one real server might give them), and a count of the
    documents every query matched (what the local server reads before it applies a limit)."""

    def __init__(self, docs):
        self.docs = list(docs)
        self.queries: list[dict] = []
        self.read = 0

    def find(self, flt, projection=None):
        self.queries.append(flt)
        matched = [d for d in self.docs if all(_matches(d.get(k), cond) for k, cond in flt.items())]
        self.read += len(matched)
        return FakeCursor(matched, projection)


class FakeCursor:
    def __init__(self, docs, projection):
        self.docs, self.projection = docs, projection

    def sort(self, field, direction):
        self.docs = sorted(self.docs, key=lambda d: d[field], reverse=direction < 0)
        return self

    def limit(self, n):
        assert n > 0, "pymongo's limit(0) means no limit at all"
        self.docs = self.docs[:n]
        return self

    def __iter__(self):
        for d in self.docs:
            if self.projection == {"_id": 0}:
                yield {k: v for k, v in d.items() if k != "_id"}
            elif self.projection:
                yield {k: v for k, v in d.items() if k == "_id" or self.projection.get(k)}
            else:
                yield dict(d)


def _matches(value, cond) -> bool:
    if isinstance(cond, dict):
        return value is not None and ("$gte" not in cond or value >= cond["$gte"]) and ("$lt" not in cond or value < cond["$lt"])
    return value == cond


def sorted_query(collection, match, field, limit, start=None, end=None):
    """The one query newest_first stands for."""
    cond = {k: v for k, v in (("$gte", start), ("$lt", end)) if v is not None}
    return list(FakeCollection(collection.docs).find({**match, field: cond} if cond else match).sort(field, -1).limit(limit))


def docs_at(*seconds, car="CAR_001"):
    return [{"_id": f"{car}:{i}", "car_id": car, "timestamp": T0 + timedelta(seconds=s)} for i, s in enumerate(seconds)]


def test_an_empty_collection_gives_nothing():
    assert newest_first(FakeCollection([]), {}, "timestamp", 5, end=T0, first_from=T0 - timedelta(seconds=10),
                        start=T0 - timedelta(hours=1)) == []


def test_fewer_than_the_limit_gives_all_of_them_newest_first_and_stops_at_the_start():
    coll = FakeCollection(docs_at(-5, -100, -3000, -30))
    found = newest_first(coll, {}, "timestamp", 10, end=T0, first_from=T0 - timedelta(seconds=10),
                         start=T0 - timedelta(seconds=3600))
    assert [d["_id"] for d in found] == ["CAR_001:0", "CAR_001:3", "CAR_001:1", "CAR_001:2"]
    # 10 s, 40 s, 160 s, 640 s, 2,560 s, then the 190 s left down to the start, never below it
    assert len(coll.queries) == 6 and coll.queries[-1]["timestamp"]["$gte"] == T0 - timedelta(seconds=3600)


def test_the_range_is_half_open_and_the_match_applies():
    coll = FakeCollection(docs_at(0, -10, -20) + docs_at(-1, car="CAR_002"))
    found = newest_first(coll, {"car_id": "CAR_001"}, "timestamp", 10, end=T0, first_from=T0 - timedelta(seconds=10),
                         start=T0 - timedelta(seconds=20))
    assert [d["timestamp"] for d in found] == [T0 - timedelta(seconds=10), T0 - timedelta(seconds=20)]


def test_documents_on_a_slice_edge_are_read_once_and_ties_keep_the_servers_order():
    # Edges of the slices back from T0: -10 s, -50 s, -210 s. Three documents on each.
    coll = FakeCollection(docs_at(-10, -10, -50, -10, -50, -210, -50, -210, -210, -9))
    for limit in range(1, 12):
        found = newest_first(coll, {}, "timestamp", limit, end=T0, first_from=T0 - timedelta(seconds=10),
                             start=T0 - timedelta(days=1))
        assert found == sorted_query(coll, {}, "timestamp", limit, T0 - timedelta(days=1), T0)


def test_the_first_slice_usually_suffices_and_reads_only_the_newest():
    coll = FakeCollection(docs_at(*range(-3600, 0)))  # one a second for an hour
    found = newest_first(coll, {}, "timestamp", 5, end=T0, first_from=T0 - timedelta(seconds=10),
                         start=T0 - timedelta(hours=1))
    assert found == sorted_query(coll, {}, "timestamp", 5, T0 - timedelta(hours=1), T0)
    assert len(coll.queries) == 1 and coll.read == 10  # not 3,600


def test_without_a_start_everything_older_is_read_in_one_last_query():
    coll = FakeCollection([{"_id": s, "window_start_ms": s} for s in (0, 10_000, 20_000)])
    found = newest_first(coll, {}, "window_start_ms", 1, end=None, first_from=50_000)
    assert found == [{"_id": 20_000, "window_start_ms": 20_000}]
    assert coll.queries == [{"window_start_ms": {"$gte": 50_000}}, {"window_start_ms": {"$lt": 50_000}}]
    assert newest_first(coll, {}, "window_start_ms", 1, end=None, first_from=0)[0]["_id"] == 20_000
    coll.queries.clear()
    assert newest_first(coll, {}, "window_start_ms", 2, end=None, first_from=None)[1]["_id"] == 10_000
    assert coll.queries == [{}]  # no first slice: the one sorted query


def test_a_limit_of_zero_asks_nothing():
    coll = FakeCollection(docs_at(-1))
    assert newest_first(coll, {}, "timestamp", 0, end=T0, first_from=T0 - timedelta(seconds=10)) == []
    assert coll.queries == []


def test_slices_down_to_a_start_need_an_end_before_which_to_begin():
    with pytest.raises(ValueError):
        newest_first(FakeCollection([]), {}, "t", 1, end=None, first_from=5, start=0)
    with pytest.raises(ValueError):
        newest_first(FakeCollection([]), {}, "t", 1, end=10, first_from=10, start=0)


@pytest.mark.parametrize("seed", range(40))
def test_equals_the_sorted_query_on_random_data(seed):
    """Epoch-ms values with many ties, any limit, any range, any first slice, with and without a start."""
    rng = random.Random(seed)
    docs = [{"_id": i, "kind": rng.choice("ab"), "t": rng.randrange(0, 200) * 50} for i in range(rng.randrange(0, 300))]
    coll = FakeCollection(docs)
    for _ in range(20):
        end = rng.randrange(1, 10_500)
        start = rng.choice([None, rng.randrange(-100, end)])
        first_from = end - rng.randrange(1, 2_000)
        match = rng.choice([{}, {"kind": "a"}])
        limit = rng.randrange(0, 60)
        projection = rng.choice([None, {"_id": 0}, {"t": 1}])
        found = newest_first(coll, match, "t", limit, end=end, first_from=first_from, start=start,
                             growth=rng.choice([1, 2, 4]), projection=projection)
        expected = list(FakeCursor(sorted_query(coll, match, "t", limit, start, end), projection)) if limit else []
        assert found == expected
