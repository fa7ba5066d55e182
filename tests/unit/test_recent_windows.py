"""The API's in-memory tail of metrics windows answers as a direct read would."""

from labkit.api.recent import RecentWindows


class FakeCollection:
    """Metrics windows by start (ms), and how many documents each read returned."""

    def __init__(self, starts):
        self.docs = {s: {"window_start_ms": s, "processed": 1} for s in starts}
        self.read = 0
        self.looked_at = 0  # windows the newest-window queries looked at

    def newest(self, at_least_ms):
        """As queries.newest_window_start on a server that reads every match of a sorted query."""
        if at_least_ms is not None and any(s >= at_least_ms for s in self.docs):
            self.looked_at += sum(s >= at_least_ms for s in self.docs)
            return max(self.docs)
        self.looked_at += len(self.docs)
        return max(self.docs, default=None)

    def since(self, ms):
        found = [self.docs[s] for s in sorted(self.docs) if s >= ms]
        self.read += len(found)
        return found

    def direct(self, frm, to):
        return [self.docs[s] for s in sorted(self.docs) if frm <= s < to]


def make(collection, **kwargs):
    clock = [0.0]
    recent = RecentWindows(collection.newest, collection.since, span_ms=600_000, overlap_ms=20_000,
                           clock=lambda: clock[0], **kwargs)
    return recent, clock


def test_answers_equal_a_direct_read_and_later_requests_read_only_the_tail():
    mongo = FakeCollection(range(0, 1_000_000, 10_000))  # 100 windows of 10 s
    recent, _ = make(mongo)
    assert recent.windows(700_000, 1_000_000) == mongo.direct(700_000, 1_000_000)
    first = mongo.read
    assert first == 61  # the newest ten minutes, from 390,000 on
    mongo.docs[1_000_000] = {"window_start_ms": 1_000_000, "processed": 5}  # a new window closes
    assert recent.windows(700_000, 1_100_000) == mongo.direct(700_000, 1_100_000)
    assert mongo.read - first == 4  # 970,000 .. 1,000,000: the overlap and the new one


def test_a_window_rewritten_inside_the_overlap_is_seen_at_once():
    mongo = FakeCollection(range(0, 100_000, 10_000))
    recent, _ = make(mongo)
    recent.windows(0, 100_000)
    mongo.docs[90_000] = {"window_start_ms": 90_000, "processed": 7}
    assert recent.windows(0, 100_000)[-1]["processed"] == 7


def test_a_range_before_what_is_held_is_left_to_the_database():
    mongo = FakeCollection(range(0, 1_000_000, 10_000))
    recent, _ = make(mongo)
    assert recent.windows(100_000, 200_000) is None
    assert recent.windows(390_000, 400_000) == mongo.direct(390_000, 400_000)


def test_deleted_windows_are_noticed_and_an_empty_collection_is_not_cached():
    mongo = FakeCollection(range(0, 100_000, 10_000))
    recent, _ = make(mongo)
    assert len(recent.windows(0, 100_000)) == 10
    mongo.docs.clear()  # make reset
    assert recent.windows(0, 100_000) is None
    mongo.docs[50_000] = {"window_start_ms": 50_000, "processed": 1}
    assert recent.windows(0, 100_000) == mongo.direct(0, 100_000)


def test_everything_is_read_again_after_reload_s():
    mongo = FakeCollection(range(0, 100_000, 10_000))
    recent, clock = make(mongo, reload_s=60)
    recent.windows(0, 100_000)
    mongo.docs[0] = {"window_start_ms": 0, "processed": 9}  # far behind the tail: not seen yet
    assert recent.windows(0, 100_000)[0]["processed"] == 1
    clock[0] = 61
    assert recent.windows(0, 100_000)[0]["processed"] == 9


def test_a_reload_looks_for_the_newest_window_from_the_newest_one_held():
    mongo = FakeCollection(range(0, 8_640 * 10_000, 10_000))  # a day of windows
    recent, clock = make(mongo, reload_s=60)
    recent.windows(86_000_000, 86_400_000)
    assert mongo.looked_at == 8_640  # nothing held yet: every window
    mongo.docs[86_400_000] = {"window_start_ms": 86_400_000, "processed": 2}
    clock[0] = 61
    assert recent.windows(86_000_000, 86_500_000) == mongo.direct(86_000_000, 86_500_000)
    assert mongo.looked_at == 8_640 + 2  # the newest held, and the one after it
    mongo.docs.clear()  # make reset: nothing from the newest held on, so the whole (empty) collection is asked
    clock[0] = 122
    assert recent.windows(0, 100_000) is None


def test_with_fresh_s_requests_answer_from_what_is_held_until_it_is_that_old():
    mongo = FakeCollection(range(0, 100_000, 10_000))
    recent, clock = make(mongo, fresh_s=2.0)
    recent.windows(0, 200_000)
    read = mongo.read
    mongo.docs[100_000] = {"window_start_ms": 100_000, "processed": 3}
    clock[0] = 1.9
    assert len(recent.windows(0, 200_000)) == 10 and mongo.read == read  # held, read 1.9 s ago: not read again
    clock[0] = 2.0
    assert recent.windows(0, 200_000) == mongo.direct(0, 200_000)  # 2 s old: this request reads the tail


def test_the_background_read_keeps_requests_off_the_database_while_someone_watches():
    mongo = FakeCollection(range(0, 100_000, 10_000))
    recent, clock = make(mongo, fresh_s=2.0)
    assert recent.refresh_if_watched() is False  # nobody asked yet: no read
    recent.windows(0, 200_000)
    for step in range(1, 6):  # every second, a background read, then a viewer's request
        mongo.docs[100_000 + step * 10_000] = {"window_start_ms": 100_000 + step * 10_000, "processed": 1}
        clock[0] = step
        assert recent.refresh_if_watched() is True
        read = mongo.read
        assert recent.windows(0, 1_000_000) == mongo.direct(0, 1_000_000)
        assert mongo.read == read  # the request itself read nothing
    clock[0] = 5 + 60
    assert recent.refresh_if_watched() is False  # no request for a minute: the reads stop


def test_an_empty_collection_is_never_fresh_so_the_first_window_is_seen_at_once():
    mongo = FakeCollection([])
    recent, clock = make(mongo, fresh_s=2.0)
    assert recent.windows(0, 100_000) is None
    mongo.docs[50_000] = {"window_start_ms": 50_000, "processed": 1}
    assert recent.windows(0, 100_000) == mongo.direct(0, 100_000)


def test_counts_by_start_ms_and_a_recount_behind_the_tail_is_seen_at_the_next_reload():
    """The live API holds the anomalies' 10 s counts the same way (key `start_ms`); a late
    anomaly recounted further back than the tail reaches is seen within `reload_s`."""
    counts = {s: {"start_ms": s, "counts": {"overspeed": 1}} for s in range(0, 600_000, 10_000)}
    newest = lambda ms: max(counts, default=None)  # noqa: E731
    since = lambda ms: [counts[s] for s in sorted(counts) if s >= ms]  # noqa: E731
    clock = [0.0]
    recent = RecentWindows(newest, since, span_ms=3_600_000, overlap_ms=120_000, reload_s=10.0, fresh_s=2.0,
                           key="start_ms", clock=lambda: clock[0])
    assert [d["start_ms"] for d in recent.windows(0, 100_000)] == list(range(0, 100_000, 10_000))
    counts[50_000] = {"start_ms": 50_000, "counts": {"overspeed": 2}}  # recounted, 9 minutes behind the newest
    clock[0] = 5.0
    recent.refresh_if_watched()
    assert recent.windows(0, 100_000)[5]["counts"] == {"overspeed": 1}  # the tail does not reach it
    clock[0] = 10.0
    recent.refresh_if_watched()
    assert recent.windows(0, 100_000)[5]["counts"] == {"overspeed": 2}  # the reload does


def test_a_range_before_what_is_held_is_none_at_once_without_a_read():
    mongo = FakeCollection(range(0, 1_000_000, 10_000))
    recent, clock = make(mongo, fresh_s=2.0)
    recent.windows(900_000, 1_000_000)
    read = mongo.read
    clock[0] = 5.0  # stale: a request inside what is held would read the tail
    assert recent.windows(0, 1_000_000) is None and mongo.read == read
