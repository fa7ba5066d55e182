"""Checks for notebook 02's exercises (consume and validate)."""

from __future__ import annotations

import json
from datetime import datetime

from labkit.config import Settings
from labkit.ops import clients, kafka_io
from labkit.process.validation import validate
from labkit.teach import exercises

CITY = "02.1 city speed rule"
STORE = "02.2 idempotent store"
LOOP = "02.3 commit after the write"
THRESHOLD = "02.4 choose a threshold"

HINTS = exercises.register_hints({
    CITY: "build on validate(raw, now): only a verdict that is already ok can break the new rule, and "
          "then you return Verdict(False, 'range:speed', ...). 'Faster than 200' means 200 itself passes.",
    STORE: "catch pymongo.errors.BulkWriteError; exc.details['writeErrors'] lists the refused "
           "documents (code 11000 = duplicate key), and the rest were inserted",
    LOOP: "poll until a poll comes back empty; store each poll's values with your store_events, and "
          "only after that write call consumer.commit()",
    THRESHOLD: "the target is a filter, not a score: keep the rows whose precision is a number at least "
               "min_precision (None is not), then the best recall wins, equal recall going to the higher "
               "threshold. max() with a key that is a tuple does both; no row kept means None",
})

#: What validate returns: anything with .ok and .reason (a Verdict).
VERDICT = exercises.Kind("a Verdict (what validate returns, or Verdict(False, 'range:speed', ...))",
                         lambda x: hasattr(x, "ok") and hasattr(x, "reason"))
STORED = exercises.of_type(int, what="a whole number (how many documents were newly stored)")


def _distinct_valid(raws: list[bytes], now: datetime) -> int:
    return len({v.event["event_id"] for v in (validate(raw, now) for raw in raws) if v.ok})


@exercises.graded(CITY)
def city_rule(rule, good: dict, now: datetime) -> bool:
    """02.1: slow and exactly-200 events pass, 230 km/h is range:speed, garbage keeps its reason."""
    cases = {"59 km/h": (json.dumps(good).encode(), None),
             "exactly 200 km/h": (json.dumps(dict(good, speed=200.0)).encode(), None),
             "230 km/h": (json.dumps(dict(good, speed=230.0)).encode(), "range:speed"),
             "binary garbage": (b"\xff", "not_json")}
    answers = {}
    for name, (raw, _) in cases.items():
        verdict = exercises.attempt(rule, raw, now)
        if not exercises.expect_type(CITY, verdict, VERDICT, case=f"for {name}"):
            return False
        answers[name] = verdict.reason
    return exercises.check(CITY, answers, {n: reason for n, (_, reason) in cases.items()})


@exercises.graded(STORE)
def idempotent_store(store, collection, raws: list[bytes], now: datetime) -> bool:
    """02.2: the first half of the messages, then all of them with some repeated: the second
    batch mixes events already stored, new events and repeats inside the batch, as a
    redelivery after a crash does. Each call must return how many documents it newly stored;
    `except BulkWriteError: return 0` stores the new ones but counts none of them."""
    collection.drop()
    half = raws[: len(raws) // 2]
    mixed = raws + half[:5]
    first = exercises.attempt(store, collection, half, now)
    if not exercises.expect_type(STORE, first, STORED, case="first call, the first half"):
        return False
    second = exercises.attempt(store, collection, mixed, now)
    if not exercises.expect_type(STORE, second, STORED, case="second call: stored, new and repeated events"):
        return False
    stored_first, everything = _distinct_valid(half, now), _distinct_valid(raws, now)
    answer = {"first call returned": first, "second call returned": second,
              "documents in the collection": collection.count_documents({})}
    expected = {"first call returned": stored_first, "second call returned": everything - stored_first,
                "documents in the collection": everything}
    return exercises.check(STORE, answer, expected)


class SimulatedCrash(BaseException):
    """The process was killed (a BaseException, like KeyboardInterrupt: `except Exception` in
    the student's loop does not catch it, as no code survives a kill -9)."""


class _CrashOnFirstWrite:
    """A collection whose first write kills the process before anything is written."""

    WRITES = {"insert_many", "insert_one", "bulk_write", "update_one", "update_many", "replace_one"}

    def __init__(self, collection):
        self._collection, self.crashed = collection, False

    def __getattr__(self, name):
        if name in self.WRITES and not self.crashed:
            def crash(*args, **kwargs):
                self.crashed = True
                raise SimulatedCrash("killed during the write")
            return crash
        return getattr(self._collection, name)


@exercises.graded(LOOP)
def consume_loop(consume, settings: Settings, topic: str, group: str, collection, batch, now: datetime) -> bool:
    """02.3: the student's loop is killed during its first write, then restarted in the same
    group, as after a crash. After the restart MongoDB must hold every distinct valid event
    and the group's committed offset must be the end of the (one-partition) topic. A loop that
    commits before it writes has committed the first poll when it dies: the restart starts
    after it, and those events are lost. What the loop returns is not graded."""
    import uuid

    from kafka import TopicPartition

    collection.drop()
    group = f"{group}.{uuid.uuid4().hex[:6]}"  # a new group per try: an earlier attempt's commits must not count

    def run(target):
        consumer = clients.kafka_consumer(settings, group_id=group, auto_offset_reset="earliest")
        consumer.assign([TopicPartition(topic, 0)])
        try:
            return exercises.attempt(consume, consumer, target, now)
        finally:
            consumer.close(autocommit=False)

    try:
        result = run(_CrashOnFirstWrite(collection))  # killed during its first write ...
    except SimulatedCrash:
        result = run(collection)  # ... and restarted: it resumes at the group's committed offset
    if not exercises.expect_type(LOOP, result, exercises.ANYTHING):
        return False
    end = kafka_io.end_offsets(settings, topic)[0]
    answer = {"documents in MongoDB": collection.count_documents({}),
              "committed offset": kafka_io.committed_offsets(settings, group, topic).get(0)}
    expected = {"documents in MongoDB": _distinct_valid([m.value for m in batch], now), "committed offset": end}
    return exercises.check(LOOP, answer, expected)


#: What 02.4 returns: one of the rows' thresholds (None only when no row meets the target).
A_THRESHOLD = exercises.of_type(float, what="a number (the threshold of the row you choose)")


def _row(threshold: float, precision: float | None, recall: float) -> dict:
    """A sweep row as `labkit.scenarios.tuning.sweep` makes them (its counts left out)."""
    f1 = round(2 * precision * recall / (precision + recall), 3) if precision and recall else 0.0
    return {"threshold": threshold, "precision": precision, "recall": recall, "f1": f1}


#: 02.4's own sweeps: (what the case is, min_precision, rows, the right answer). Each is made to
#: catch a mistake; the comments say which answer that mistake gives.
THRESHOLD_CASES = [
    ("a sweep where two rows share the best recall (target 0.9)", 0.9, [
        _row(100.0, 0.50, 1.00),   # the best recall of all: ignoring the target picks it
        _row(105.0, 0.70, 1.00),
        _row(110.0, 0.88, 0.98),   # the best F1, but below the target
        _row(115.0, 0.90, 0.90),   # the lowest threshold that meets the target, exactly
        _row(117.5, 0.93, 0.90),   # the same recall, a higher threshold: the answer
        _row(120.0, 0.97, 0.80),
        _row(125.0, 1.00, 0.50),   # the best precision: the highest threshold that meets the target
        _row(130.0, None, 0.00),   # flagged nothing: `None >= 0.9` raises TypeError
    ], 117.5),
    ("a sweep in no order, one row exactly at the target (0.95)", 0.95, [
        _row(120.0, 0.99, 0.85),   # the first row that meets the target, in the order given
        _row(112.0, 0.90, 1.00),
        _row(116.0, 0.95, 0.97),   # exactly at the target (precision > target misses it): the answer
        _row(122.0, 1.00, 0.70),
        _row(114.0, 0.93, 1.00),
        _row(118.0, 1.00, 0.96),   # the best F1 of the rows that meet the target; and the answer of
                                   # `precision > target`
    ], 116.0),
    ("a sweep where no row reaches the target (0.99)", 0.99, [
        _row(120.0, 0.90, 0.95),
        _row(125.0, 0.95, 0.60),
        _row(130.0, 0.98, 0.20),
        _row(135.0, None, 0.00),   # flagged nothing: counting None as meeting the target picks it
    ], None),
]


def _best(rows: list[dict], min_precision: float) -> float | None:
    """02.4's answer for the notebook's sweep, computed as the exercise asks."""
    meeting = [r for r in rows if r["precision"] is not None and r["precision"] >= min_precision]
    return max(meeting, key=lambda r: (r["recall"], r["threshold"]))["threshold"] if meeting else None


def _what_is_wrong(rows: list[dict], min_precision: float, answer) -> str | None:
    """What is wrong with `answer` (a threshold, or None) for this sweep, in words that name the
    rule broken, never the right threshold; None when it is right. (Thresholds a few tenths
    apart are all "within 1%" of each other: `check`'s numeric message would say "rounding".)"""
    meets = [r for r in rows if r["precision"] is not None and r["precision"] >= min_precision]
    if answer is None:
        return None if not meets else "you returned None, but some rows meet the target"
    chosen = [r for r in rows if exercises.same(r["threshold"], answer)]
    if not chosen:
        return f"{float(answer):g} is not the threshold of any row"
    row = chosen[0]
    if row["precision"] is None:
        return f"the row at {row['threshold']:g} flagged nothing (precision None): it meets no target"
    if row["precision"] < min_precision:
        return (f"the row at {row['threshold']:g} has precision {row['precision']:g}, below the target "
                f"{min_precision:g}: the target must be met, it is not traded against recall")
    if any(r["recall"] > row["recall"] for r in meets):
        return f"another row meets the target and has a higher recall than the row at {row['threshold']:g}"
    if any(r["recall"] == row["recall"] and r["threshold"] > row["threshold"] for r in meets):
        return (f"another row meets the target with the same recall as the row at {row['threshold']:g} and a "
                "higher threshold: it catches the same overheats with no more false alarms")
    return None


@exercises.graded(THRESHOLD)
def choose_threshold(func, sweep_rows: list[dict], min_precision: float = 0.95) -> bool:
    """02.4: the student's threshold for section 6's sweep and for each of THRESHOLD_CASES (each
    call gets its own copy of the rows). The first case answered wrongly is reported with the
    rule it breaks (below the target, a better recall elsewhere, a higher threshold with the
    same recall, a row that flagged nothing, not a row's threshold). The cases reject the
    classic mistakes: the best F1 instead of the target, the lowest threshold that meets the
    target instead of the best recall, rows with no precision, `>` for "at least", the order
    the rows come in, and an answer where no row meets the target."""
    cases = [(f"section 6's sweep (target {min_precision:g})", min_precision, sweep_rows,
              _best(sweep_rows, min_precision)), *THRESHOLD_CASES]
    answers, expected = {}, {}
    for name, target, rows, right in cases:
        answer = exercises.attempt(func, [dict(r) for r in rows], target)
        kind = exercises.optional(A_THRESHOLD) if right is None else A_THRESHOLD
        if not exercises.expect_type(THRESHOLD, answer, kind, case=f"for {name}"):
            return False
        problem = _what_is_wrong(rows, target, answer)
        if problem is not None:
            return exercises.wrong(THRESHOLD, f"for {name}: {problem}")
        answers[name], expected[name] = answer, right
    return exercises.check(THRESHOLD, answers, expected)
