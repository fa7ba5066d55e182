"""Reading the assignment log: who holds which partition, and for how long; and the kill
experiment's loop, run against scripted owners and lags (no broker, no database)."""

from datetime import datetime, timedelta, timezone

import pytest

from labkit.scenarios import workers
from labkit.scenarios.workers import holds_all, owners_from, ownership, range_split

T = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


def at(s):
    return T + timedelta(seconds=s)


EVENTS = [
    {"worker": "w1", "event": "assigned", "partitions": [0, 1, 2, 3], "at": at(0)},
    {"worker": "w1", "event": "revoked", "partitions": [0, 1, 2, 3], "at": at(5)},  # w2 joins
    {"worker": "w1", "event": "assigned", "partitions": [0, 1], "at": at(6)},
    {"worker": "w2", "event": "assigned", "partitions": [2, 3], "at": at(6)},
    # w1 is killed at 10 s: it never revokes; after the session timeout w2 gets everything
    {"worker": "w2", "event": "revoked", "partitions": [2, 3], "at": at(16)},
    {"worker": "w2", "event": "assigned", "partitions": [0, 1, 2, 3], "at": at(17)},
]


def test_owners_replay_the_log():
    assert owners_from(EVENTS[:4]) == {"w1": [0, 1], "w2": [2, 3]}
    assert owners_from(EVENTS[:5]) == {"w1": [0, 1]}  # mid-rebalance: w2 gave up its partitions
    # w1 never said goodbye, so the log alone still shows it with [0, 1]; w2's assignment is the truth
    assert owners_from(EVENTS)["w2"] == [0, 1, 2, 3]


def test_ownership_intervals_end_when_the_group_moves_a_partition():
    rows = ownership(EVENTS, until=at(30))
    p0 = [(r["worker"], (r["start"] - T).seconds, (r["end"] - T).seconds) for r in rows if r["partition"] == 0]
    assert p0 == [("w1", 0, 5), ("w1", 6, 17), ("w2", 17, 30)]
    p3 = [(r["worker"], (r["start"] - T).seconds, (r["end"] - T).seconds) for r in rows if r["partition"] == 3]
    assert p3 == [("w1", 0, 5), ("w2", 6, 16), ("w2", 17, 30)]


def test_range_split_gives_the_first_workers_one_more_and_a_spare_nothing():
    assert range_split(4, 1) == [[0, 1, 2, 3]]
    assert range_split(4, 3) == [[0, 1], [2], [3]]
    assert range_split(4, 5) == [[0], [1], [2], [3], []]


def test_holds_all_only_when_the_worker_alone_holds_every_partition():
    assert holds_all({"w2": [0, 1, 2, 3]}, "w2", 4)
    assert not holds_all({"w2": [2, 3]}, "w2", 4)  # w1's partitions not handed over yet
    assert not holds_all({}, "w2", 4)  # mid-rebalance: w2 gave its partitions back
    assert not holds_all({"w1": [0, 1], "w2": [0, 1, 2, 3]}, "w2", 4)


# --- kill_one's loop, with the group, the broker and MongoDB replaced by scripts ----------

class ScriptedWorkers:
    """Stands in for `Workers`: `owners` answers from a script, one answer per read."""

    def __init__(self, owners):
        self.script = list(owners)
        self.reads = 0
        self.log = []

    def __call__(self, settings, group, batch_size, session_timeout_ms, transaction_timeout_ms):
        self.log.append(("new", batch_size, session_timeout_ms, transaction_timeout_ms))
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.log.append(("stop_all",))

    def start(self, name):
        self.log.append(("start", name))

    def kill(self, name):
        self.log.append(("kill", name))

    def wait_until(self, db, condition, timeout_s=60.0):
        before = {"w1": [0, 1], "w2": [2, 3]}
        assert condition(before)
        return before

    def owners(self, db):
        answer = self.script[min(self.reads, len(self.script) - 1)]
        self.reads += 1
        return answer


class FakeMongo(dict):
    closed = False

    def __missing__(self, name):
        return object()

    def close(self):
        self.closed = True


def scripted(monkeypatch, owners, lags):
    from labkit.ops import clients, kafka_io
    from labkit.scenarios import workers
    from labkit.simulate import producer

    crew, mongo, lag_script, sent = ScriptedWorkers(owners), FakeMongo(), list(lags), []
    monkeypatch.setattr(workers, "Workers", crew)
    monkeypatch.setattr(clients, "mongo_client", lambda settings: mongo)
    monkeypatch.setattr(kafka_io, "consumer_lag",
                        lambda settings, group, topic: lag_script.pop(0) if len(lag_script) > 1 else lag_script[0])
    monkeypatch.setattr(producer, "produce", lambda settings, messages: sent.append(list(messages)))
    return crew, mongo, sent


def test_kill_one_reads_the_owners_once_per_check_and_drains_to_zero(monkeypatch):
    from labkit.config import Settings
    from labkit.scenarios.workers import kill_one

    owners = [{"w2": [2, 3]}, {}, {"w2": [0, 1, 2, 3]}]  # before the timeout; mid-rebalance; taken over
    lags = [{p: 50 for p in range(4)}, {0: 50, 1: 50, 2: 0, 3: 0}, {0: 50, 1: 50, 2: 0, 3: 0},
            {0: 20, 1: 0, 2: 0, 3: 0}, {p: 0 for p in range(4)}]
    crew, mongo, sent = scripted(monkeypatch, owners, lags)
    run = kill_one(Settings(telemetry_partitions=4), "g", ["m1", "m2"], session_timeout_ms=3000, kill_after_s=0.0)

    assert sent == [["m1", "m2"]]
    assert crew.log == [("new", 50, 3000, 10_000), ("start", "w1"), ("start", "w2"), ("kill", "w1"), ("stop_all",)]
    assert crew.reads == 3  # one read per check, and `after` is the read that met the condition
    assert run.before == {"w1": [0, 1], "w2": [2, 3]} and run.after == {"w2": [0, 1, 2, 3]}
    assert 0 <= run.killed_s <= run.takeover_s
    assert [s["lag"] for s in run.lag_samples[-4:]] == [0, 0, 0, 0]  # the last samples: drained
    assert {s["partition"] for s in run.lag_samples} == {"0", "1", "2", "3"}
    assert len(run.lag_samples) == 4 * len(lags)  # two while w2 waited, three until lag 0
    assert run.t0_wall.tzinfo is not None and mongo.closed


def test_kill_one_gives_up_when_w2_never_takes_over_and_stops_its_workers(monkeypatch):
    from labkit.config import Settings
    from labkit.scenarios.workers import kill_one

    crew, mongo, _ = scripted(monkeypatch, [{"w2": [2, 3]}], [{p: 10 for p in range(4)}])
    with pytest.raises(TimeoutError, match=r"held so: \{'w2': \[2, 3\]\}"):
        kill_one(Settings(telemetry_partitions=4), "g", [], kill_after_s=0.0, timeout_s=0.0)
    assert crew.log[-1] == ("stop_all",) and mongo.closed


def test_a_drain_reports_each_side_busy_as_cpu_seconds_over_its_seconds():
    drain = workers.Drain(workers=2, seconds=4.0, owners={}, rebalances=0,
                          cpu_s={"all workers": 1.0, "database server": 3.0})
    assert drain.busy() == {"all workers": 0.25, "database server": 0.75}


def test_cpu_seconds_count_a_running_process_and_skip_one_that_is_gone():
    import os

    assert sum(i * i for i in range(200_000)) > 0  # some CPU of this process's own
    assert workers._cpu_seconds([os.getpid()]) > 0
    assert workers._cpu_seconds([2**22 + 12345]) == 0.0  # no such process: nothing, no error
