"""Checks for notebook 09's exercises (scale out)."""

from __future__ import annotations

import math
from collections import Counter
from types import SimpleNamespace

from labkit.ops.kafka_io import partition_for_key
from labkit.teach import exercises

RANGE = "09.1 range assignment"
HOT_KEY = "09.2 hot key"
STALL = "09.3 a stall alert"
PARTITIONS = "09.4 partition count"

HINTS = exercises.register_hints({
    RANGE: "range means runs: each worker, in sorted(workers) order, gets one run of consecutive "
           "partitions (a range()), the runs as even as the count allows. divmod() splits a count into an "
           "even share and a remainder. Compare with drains[2].owners",
    HOT_KEY: "find the busiest partition first (kafka_io.partition_for_key, collections.Counter), then "
             "the key that sends the most messages to it; the share is of all the messages",
    STALL: "group the samples by partition and sort each by time; walk them keeping where the current "
           "stretch began: it goes on while the lag is above 0 and not below the sample before, and begins "
           "again when the lag falls; keep each partition's longest stretch, in seconds",
    PARTITIONS: "a partition is read by one worker, so what must fit a worker is the busiest partition, "
                "not the average: try counts from 1 up, place every key with kafka_io.partition_for_key, "
                "and stop at the first count whose busiest partition fits",
})

#: The cases 09.1 tries: the notebook's topic with 3 workers, more workers than partitions,
#: a partition count that does not divide evenly, and eleven workers, whose ids sort as text
#: (w10 before w2), as Kafka compares member ids, not by their numbers.
ASSIGNMENT_CASES = [(4, ["w1", "w2", "w3"]), (4, ["w3", "w1", "w2", "w4", "w5"]), (10, ["b", "a", "c"]),
                    (12, [f"w{i}" for i in range(11, 0, -1)])]

ASSIGNMENT = exercises.dict_of(exercises.ANYTHING, exercises.list_of(exercises.INTEGER),
                               "a dict {worker: [partitions]}")
KEY_AND_SHARE = exercises.pair(exercises.TEXT, exercises.NUMBER, "a (key, share) pair: a string and a number from 0 to 1")
COUNT = exercises.of_type(int, what="a number of partitions")


@exercises.graded(RANGE)
def range_assignment(func) -> bool:
    """09.1: the student's assignor against Kafka's range rule on every case."""
    answers, expected = {}, {}
    for partitions, workers in ASSIGNMENT_CASES:
        case = f"{partitions} partitions, workers {workers}"
        answer = exercises.attempt(func, partitions, list(workers))
        if not exercises.expect_type(RANGE, answer, ASSIGNMENT, case=f"for {case}"):
            return False
        answers[case] = {w: list(p) for w, p in answer.items()}
        expected[case] = kafkas_range_assignment(partitions, workers)
        mistake = _assignment_mistake(partitions, workers, answers[case]) if answers[case] != expected[case] else None
        if mistake:
            return exercises.wrong(RANGE, f"for {partitions} partitions and workers {workers}: {mistake}")
    return exercises.check(RANGE, answers, expected)


def _runs(partitions: int, ordered: list[str]) -> dict[str, list[int]]:
    """The range rule over workers in the order given: even runs, the first ones one longer."""
    share, extra = divmod(partitions, len(ordered))
    out, start = {}, 0
    for i, worker in enumerate(ordered):
        size = share + (1 if i < extra else 0)
        out[worker] = list(range(start, start + size))
        start += size
    return out


def _number_in(worker: str) -> tuple[int, str]:
    digits = "".join(ch for ch in worker if ch.isdigit())
    return (int(digits) if digits else -1, worker)


def _assignment_mistake(partitions: int, workers: list[str], answer: dict) -> str | None:
    """What a wrong 09.1 answer did, when it is one of the classic mistakes; None otherwise."""
    ordered = sorted(workers)
    readings = [
        (_runs(partitions, sorted(workers, key=_number_in)),
         "you sorted the workers by their numbers (w2 before w10); Kafka compares member ids as text, "
         "so 'w10' comes before 'w2' (sorted() on the strings)"),
        (_runs(partitions, list(workers)), "you kept the workers in the order given; the range assignor sorts "
                                          "them first (as text)"),
        ({w: list(range(i, partitions, len(ordered))) for i, w in enumerate(ordered)},
         "round robin, not range: each worker gets one run of consecutive partitions"),
        ({w: p for w, p in _runs(partitions, ordered).items() if p},
         "a worker without partitions is left out: give it an empty list, as the assignor does"),
        (_runs_extra_last(partitions, ordered),
         "the extra partitions went to the last workers; the range assignor gives them to the first"),
    ]
    right = _runs(partitions, ordered)
    return next((why for reading, why in readings if reading != right and answer == reading), None)


def _runs_extra_last(partitions: int, ordered: list[str]) -> dict[str, list[int]]:
    flipped = _runs(partitions, ordered[::-1])
    sizes = [len(flipped[w]) for w in ordered[::-1]][::-1]
    out, start = {}, 0
    for worker, size in zip(ordered, sizes):
        out[worker] = list(range(start, start + size))
        start += size
    return out


def kafkas_range_assignment(partitions: int, workers: list[str]) -> dict[str, list[int]]:
    """09.1's answer key: what the client's own range assignor (kafka-python's
    RangePartitionAssignor, the code a group leader runs) gives `workers` for one topic."""
    from kafka.coordinator.assignors.range import RangePartitionAssignor

    cluster = SimpleNamespace(partitions_for_topic=lambda topic: set(range(partitions)))
    members = [SimpleNamespace(member_id=w, group_instance_id=None, metadata=SimpleNamespace(topics=["t"]))
               for w in workers]
    assigned = RangePartitionAssignor.assign(cluster, members)
    return {w: list(dict(assigned[w].assigned_partitions).get("t", [])) for w in workers}


def _keys_in(partition: int, partitions: int, count: int) -> list[str]:
    """`count` car ids whose messages land in `partition`."""
    from labkit.ops.kafka_io import partition_for_key

    found = (f"CAR_{i:03d}" for i in range(1, 10_000) if partition_for_key(f"CAR_{i:03d}".encode(), partitions) == partition)
    return [next(found) for _ in range(count)]


def _lone_giant(partitions: int) -> list[str]:
    """Keys where the most frequent key of all sits alone in a quiet partition, while another
    partition is busier with four keys: "the most common key" is not the hot key."""
    giant = _keys_in(0, partitions, 1)[0]
    crowd = _keys_in(1, partitions, 4)
    return [giant] * 30 + [crowd[0]] * 15 + [k for k in crowd[1:] for _ in range(10)]


@exercises.graded(HOT_KEY)
def hot_key(func, keys: list[str], partitions: int) -> bool:
    """09.2: the hot key and its partition's share of the messages, on the notebook's keys and
    on keys of the check's own whose most frequent key is not in the busiest partition."""
    cases = {"the notebook's keys": (list(keys), partitions),
             "keys where the most frequent is alone": (_lone_giant(partitions), partitions),
             f"the notebook's keys over {partitions + 2} partitions": (list(keys), partitions + 2)}
    answers, expected = {}, {}
    for name, (case, count) in cases.items():
        answer = exercises.attempt(func, list(case), count)
        if not exercises.expect_type(HOT_KEY, answer, KEY_AND_SHARE, case=f"for {name}"):
            return False
        key, share = _hot_key_answer(case, count)
        answers[name], expected[name] = (answer[0], round(float(answer[1]), 3)), (key, round(share, 3))
        given_key, given_share = answers[name]
        own_share = round(case.count(given_key) / len(case), 3) if given_key in case else None
        if given_key == key and given_share != expected[name][1] and given_share == own_share:
            return exercises.wrong(HOT_KEY, f"for {name}: the right key, but {given_share} is its own share of the "
                                            "messages; the share asked for is its partition's, every key in it "
                                            "together (what one worker must read)")
        if given_key != key and given_key == Counter(case).most_common(1)[0][0]:
            return exercises.wrong(HOT_KEY, f"for {name}: {given_key!r} is the most frequent key, but not in the busiest "
                                            "partition: find the busiest partition first, then its busiest key")
    return exercises.check(HOT_KEY, answers, expected)


def _hot_key_answer(keys: list[str], partitions: int) -> tuple[str, float]:
    """09.2's answer key: the busiest partition's share of all messages, and its busiest key."""
    home = {k: partition_for_key(k.encode(), partitions) for k in set(keys)}
    busiest, load = Counter(home[k] for k in keys).most_common(1)[0]
    return Counter(k for k in keys if home[k] == busiest).most_common(1)[0][0], load / len(keys)


#: 09.4's fleets: (description, {key: messages per second}, per_worker_rate, headroom).
#: The even split (total x headroom / per_worker_rate, rounded up) is one short for the
#: first two, since hashing never spreads a few dozen keys evenly; the bus cannot fit.
FLEETS = [
    ("40 cars at 20/s", {f"CAR_{i:03d}": 20.0 for i in range(1, 41)}, 450.0, 1.5),
    ("60 cars at 10/s", {f"CAR_{i:03d}": 10.0 for i in range(1, 61)}, 300.0, 2.0),
    ("5 cars at 10/s", {f"CAR_{i:03d}": 10.0 for i in range(1, 6)}, 450.0, 1.5),
    ("20 cars at 10/s and a bus at 400/s", {**{f"CAR_{i:03d}": 10.0 for i in range(1, 21)}, "BUS_001": 400.0},
     450.0, 1.5),
    # exactly a worker's rate once the headroom is added: it fits (a strict < would say never)
    ("one car at 100/s, with headroom exactly a worker's 150/s", {"CAR_001": 100.0}, 150.0, 1.5),
]


@exercises.graded(PARTITIONS)
def partitions_for(func) -> bool:
    """09.4: each fleet's answer against the fewest partitions whose busiest one fits a worker."""
    answers, expected = {}, {}
    for name, rates, per_worker, headroom in FLEETS:
        expected[name] = _fewest_partitions(rates, per_worker, headroom)
        answer = exercises.attempt(func, dict(rates), per_worker, headroom)
        if answer is None and expected[name] is not None and "exactly" in name:
            return exercises.wrong(PARTITIONS, f"for {name} you returned None, where {expected[name]} partition(s) "
                                               "fit: a busiest partition whose load with headroom equals a worker's "
                                               "rate fits (<=, not <)")
        kind = exercises.optional(COUNT) if expected[name] is None else COUNT  # None elsewhere: a forgotten return
        if not exercises.expect_type(PARTITIONS, answer, kind, case=f"for {name}"):
            return False
        answers[name] = answer
        even = math.ceil(sum(rates.values()) * headroom / per_worker)
        if answer != expected[name] and answer == even and expected[name] is not None:
            return exercises.wrong(PARTITIONS, f"for {name} you returned {answer}, section 5's even split (the total "
                                               "rate over a worker's): keys do not spread evenly, so place each key "
                                               "and size for the busiest partition")
    return exercises.check(PARTITIONS, answers, expected)


def _fewest_partitions(rates: dict[str, float], per_worker: float, headroom: float, most: int = 64) -> int | None:
    for count in range(1, most + 1):
        busiest = {}
        for key, rate in rates.items():
            p = partition_for_key(key.encode(), count)
            busiest[p] = busiest.get(p, 0.0) + rate
        if max(busiest.values()) * headroom <= per_worker:
            return count
    return None


# ------------------------------------------------------------------ 09.3: a stall alert

STALL_AFTER_S = 2.0  # the alert's threshold in every case


def _samples(partition: str, lags: list[int], step_s: float = 0.2, start_s: float = 0.0) -> list[dict]:
    return [{"seconds": round(start_s + i * step_s, 2), "partition": partition, "lag": lag} for i, lag in enumerate(lags)]


#: (what, samples, the partition it is about): each catches a reading of "stalled" that the
#: lesson says is wrong.
STALL_CASES = [
    ("a dead worker's partition, nothing new arriving (its lag stays flat)",
     _samples("0", [40, 32, 24] + [24] * 16 + [10, 0]), "0"),
    ("a worker draining its backlog", _samples("1", list(range(300, 0, -15))), "1"),
    ("a stuck worker while the producers keep writing (its lag grows)", _samples("2", list(range(20, 120, 5))), "2"),
    ("a quiet partition, with nothing waiting", _samples("3", [0] * 20), "3"),
    ("a busy worker that commits a batch every 0.6 s", _samples("4", [90, 90, 90, 60, 60, 60, 30, 30, 30, 0]), "4"),
    ("two pauses, the second one long enough", _samples("5", [50] * 6 + [40] * 14 + [0]), "5"),
    ("a pause of exactly the threshold", _samples("6", [30] * 11 + [0]), "6"),
]


def _answer_key(samples: list[dict], seconds: float) -> dict[str, float]:
    """09.3's answer key: per partition, the longest stretch of samples whose lag is above 0 and
    never below the sample before, from its first sample to its last; those of `seconds` or more."""
    from itertools import groupby

    key = {}
    rows = sorted(samples, key=lambda r: (r["partition"], r["seconds"]))
    for partition, group in groupby(rows, key=lambda r: r["partition"]):
        group = list(group)
        best, begun = 0.0, None
        for before, row in zip([None] + group[:-1], group):
            if row["lag"] <= 0:
                begun = None
            elif before is None or before["lag"] <= 0 or row["lag"] < before["lag"]:
                begun = row["seconds"]
            best = max(best, row["seconds"] - begun) if begun is not None else best
        if best >= seconds:
            key[partition] = round(best, 2)
    return key


STALLS = exercises.dict_of(exercises.ANYTHING, exercises.NUMBER, "a dict {partition: seconds}")


@exercises.graded(STALL)
def stalled(func, lag_samples: list[dict]) -> bool:
    """09.3: the student's stall alert on STALL_CASES (all the synthetic partitions together, in
    time order across partitions, as the broker's samples come) and on the kill experiment's
    own samples; the classic misreadings are named."""
    import random

    synthetic = [row for _, rows, _ in STALL_CASES for row in rows]
    random.Random(9).shuffle(synthetic)  # in any order: the function sorts what it needs
    answers, expected = {}, {}
    for name, samples in (("the check's partitions", synthetic), ("the kill experiment's samples", list(lag_samples))):
        answer = exercises.attempt(func, [dict(r) for r in samples], STALL_AFTER_S)
        if not exercises.expect_type(STALL, answer, STALLS, case=f"for {name}"):
            return False
        answers[name] = {str(p): round(float(t), 2) for p, t in answer.items()}
        expected[name] = _answer_key(samples, STALL_AFTER_S)
    mistake = _stall_mistake(answers["the check's partitions"], expected["the check's partitions"])
    if mistake:
        return exercises.wrong(STALL, mistake)
    return exercises.check(STALL, answers, expected)


def _stall_mistake(answer: dict[str, float], expected: dict[str, float]) -> str | None:
    """What a wrong answer on STALL_CASES misread, named by the case it got wrong."""
    for what, rows, partition in STALL_CASES:  # a length in samples shows first, whatever else is wrong
        got, want = answer.get(partition), expected.get(partition)
        if got is not None and want is not None and got >= len(rows) / 2 > want:
            return f"for {what} you gave {got}: count seconds (the samples' times), not samples"
    for what, _rows, partition in STALL_CASES:
        got, want = answer.get(partition), expected.get(partition)
        if got is None and want is not None:
            if partition == "6":
                return f"you missed {what}: a stretch of exactly `seconds` is long enough (>=, not >)"
            if partition == "0":
                return (f"you missed {what}: a dead worker's lag does not grow when nothing new arrives, it stays "
                        "flat. Alert on a lag above 0 that does not fall, not only on one that grows")
            return f"you missed {what}: its lag stayed above 0 without falling for {want} s"
        if got is not None and want is None:
            if partition == "3":
                return f"you flagged {what}: a lag of 0 means nothing waits, so nothing is stalled"
            return f"you flagged {what}: its lag fell, so the consumer was at work"
    for what, rows, partition in STALL_CASES:  # then how long: once every stall is found
        got, want = answer.get(partition), expected.get(partition)
        if got is not None and got != want:
            if got >= len(rows) / 2 > want:
                return f"for {what} you gave {got}: count seconds (the samples' times), not samples"
            if got > want:
                return (f"for {what} you gave {got} s, longer than its lag stood still: a stretch begins again "
                        "wherever the lag falls")
            return f"for {what} you gave {got} s, shorter than its longest stretch without a fall"
    return None
