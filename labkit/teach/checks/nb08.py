"""Checks for notebook 08's exercises (read dashboards)."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

from pymongo import monitoring

from labkit.config import Settings
from labkit.ops import clients, kafka_io
from labkit.ops.waiting import wait_until
from labkit.teach import exercises

REQUEST = "08.1 a panel's request"
DIAGNOSE = "08.2 diagnose the board"
LAG = "08.3 total lag"
PER_TYPE = "08.4 anomalies per type"

HINTS = exercises.register_hints({
    REQUEST: "each parameter's value is a variable to replace (${car} from `variables`, ${__from}/${__to} "
             "from the range) or text sent as written. Epoch ms have no time zone: an aware datetime's "
             "timestamp() is UTC seconds. urllib.parse.urlencode joins the pairs",
    PER_TYPE: "let the database count: an aggregation that keeps the range and groups by the anomaly type, "
              "counting each document once ($sum), gives one row per type to turn into a dict",
    LAG: "per partition (partitions_for_topic, TopicPartition): where the log ends (end_offsets) minus "
         "where the group reads next (committed, None if never), never before the first offset still in "
         "the log (beginning_offsets): retention deletes old messages",
    DIAGNOSE: "throughput 0 has two causes (nothing to do, or nobody doing it): the broker's lag tells them "
              "apart. Read lag by its change over the window, not its size. A growing lag outranks every "
              "other sign; what happens now is in the newest sample",
})

COUNTS = exercises.dict_of(exercises.ANYTHING, exercises.INTEGER, "a dict {anomaly type: count}")


#: 08.1's time picker: a range shown two hours east of UTC, starting a quarter of a second into a
#: second. An epoch time is the same in every zone, so reading the picker's wall clock as UTC
#: shows (two hours off), and so do seconds for milliseconds and dropped milliseconds.
PICKER_ZONE = timezone(timedelta(hours=2), "UTC+02:00")
PICKER_START = datetime(2026, 11, 3, 9, 40, 7, 250_000, tzinfo=PICKER_ZONE)
PICKER_END = PICKER_START + timedelta(minutes=15)
#: The check's own target gets the same instants shown seven hours west of UTC: a function that
#: reads the wall clock in this machine's zone is found out whichever zone the machine is in.
WEST_ZONE = timezone(timedelta(hours=-7), "UTC-07:00")
#: The dashboards use one variable, `car`; this target of the check's own uses another (a function
#: that knows only `car` leaves it), lists `to` before `from`, and sends one value as written.
OWN_TARGET = ("a target of the check's own, with a variable `region`", {
    "url": "/fleet/region", "url_options": {"params": [
        {"key": "region", "value": "${region}"}, {"key": "to", "value": "${__to}"},
        {"key": "from", "value": "${__from}"}, {"key": "limit", "value": "25"}]}})
PICKER_VARIABLES = {"car": "CAR_007", "region": "north"}


def request_cases() -> list[tuple[str, dict]]:
    """(what, target): every panel's first target in the lab's dashboards, then OWN_TARGET."""
    from labkit.observe import dashboards

    return [(f"the panel {panel['title']!r}", panel["targets"][0])
            for board in dashboards.dashboards().values() for panel in board["panels"]] + [OWN_TARGET]


def _range_mistake(key: str, given: str, expected: str, other: str) -> str:
    """What is wrong with a `from` or `to` value (`other`: the right value of the other one)."""
    try:
        value = int(given)
    except ValueError:
        try:
            float(given)
        except ValueError:
            return (f"{key}={given!r}: the API reads {key} as epoch milliseconds, a whole number "
                    "(milliseconds since 1970-01-01 UTC)")
        return f"{key}={given!r}: a whole number of milliseconds (an int, without a decimal point)"
    want = int(expected)
    if given == other:
        return f"{key} and the other end of the range are swapped"
    if abs(value * 1000 - want) < 1000:
        return (f"{key}={given}: seconds since 1970, where the API and Grafana count milliseconds: a thousand "
                "times too small, so the range falls in January 1970")
    off, short = divmod(value - want + 1000, 900_000)  # whole quarter hours: a zone's offset (India's is +5:30)
    if off and short <= 1000:
        dropped = " (and its milliseconds were dropped)" if short != 1000 else ""
        return (f"{key} is {(value - want + 1000 - short) / 3_600_000:+g} h off{dropped}: the picker's wall-clock "
                "time was read in another time zone (as UTC, or as this machine's local time once the datetime "
                "lost its zone). An epoch time has no time zone: the aware datetime's own timestamp() gives it")
    if abs(value - want) < 1000:
        return (f"{key}={given}, {want - value} ms short: the milliseconds were dropped "
                "(multiply the seconds by 1000 before you round)")
    return f"{key}={given}, which is not the range's {'start' if key == 'from' else 'end'} in epoch milliseconds"


def _request_mistake(what: str, target: dict, given: str, expected: str) -> str | None:
    """None when `given` asks what `expected` asks (the same path and the same parameters, in
    any order and either encoding); otherwise the first thing wrong, for the student."""
    parts = urlsplit(given)
    path, query = parts.path, parts.query
    if parts.scheme or parts.netloc:
        return (f"for {what}, you returned a whole address ({parts.scheme}://{parts.netloc}...): return the path "
                "and its query only; the API client adds the server's address")
    if path != target["url"]:
        return f"for {what} the path is {path!r}, where the target asks for {target['url']!r}"
    got, want = dict(parse_qsl(query, keep_blank_values=True)), dict(parse_qsl(urlsplit(expected).query))
    left = {k: v for k, v in got.items() if "${" in v}
    if left:
        key, value = next(iter(left.items()))
        return (f"for {what}, you sent {key}={value}: a variable left as written; replace it by its value "
                "(from `variables`, or the range's ends for ${__from} and ${__to})")
    if want.keys() - got.keys():
        missing = sorted(want.keys() - got.keys())
        named = f"the parameter {missing[0]} is" if len(missing) == 1 else f"the parameters {', '.join(missing)} are"
        return (f"for {what} {named} missing: every parameter of the target is sent, "
                "with or without a variable in its value")
    if got.keys() - want.keys():
        return f"for {what}, you sent {', '.join(sorted(got.keys() - want.keys()))}, which the target does not ask for"
    for key in ("from", "to"):
        if key in want and got[key] != want[key]:
            other = want["to" if key == "from" else "from"]
            return f"for {what}: {_range_mistake(key, got[key], want[key], other)}"
    for key, value in want.items():
        if got[key] != value:
            return f"for {what}, you sent {key}={got[key]!r}, where the target gives {value!r}"
    return None


@exercises.graded(REQUEST)
def request_for(func) -> bool:
    """08.1: the student's `func(target, variables, start, end)` gives, for every panel of the
    four dashboards and for a target of the check's own, the request Grafana sends
    (`dashboards.panel_url`), over a range picked in a zone two hours east of UTC (seven hours
    west for its own target)."""
    if exercises.uses_the_lab_version(REQUEST, func, {
            "panel_url": "the target's params, your own replacements and urllib.parse.urlencode"}):
        return False
    from labkit.contract import to_ms
    from labkit.observe import dashboards

    start_ms, end_ms = to_ms(PICKER_START), to_ms(PICKER_END)
    answers, expected = {}, {}
    for what, target in request_cases():
        zone = WEST_ZONE if target is OWN_TARGET[1] else PICKER_ZONE
        given = exercises.attempt(func, copy.deepcopy(target),  # edits cannot leak to the next case
                                   dict(PICKER_VARIABLES), PICKER_START.astimezone(zone), PICKER_END.astimezone(zone))
        if not exercises.expect_type(REQUEST, given, exercises.of_type(str, what="a string: the path and its query"),
                                     case=f"for {what}"):
            return False
        right = dashboards.panel_url(target, PICKER_VARIABLES, start_ms, end_ms)
        mistake = _request_mistake(what, target, given, right)
        if mistake:
            return exercises.wrong(REQUEST, mistake)
        answers[what], expected[what] = right, right
    moved = _answer_in_another_zone(func)
    if moved:
        return exercises.wrong(REQUEST, moved)
    return exercises.check(REQUEST, answers, expected)


#: A zone far from UTC without summer time, and one on the other side, for _answer_in_another_zone.
OTHER_ZONES = ("America/Phoenix", "Asia/Kolkata")


def _answer_in_another_zone(func) -> str | None:
    """The speed panel's request once more, with this machine's time zone changed (the TZ
    variable): a function that drops the datetime's zone and reads the wall clock as local time
    is right only where local time happens to be the zone it converted to (UTC, on a server)."""
    import os
    import time

    from labkit.contract import to_ms
    from labkit.observe import dashboards

    if not hasattr(time, "tzset"):
        return None  # Windows: the machine's zone cannot be changed for a moment
    what, target = next(case for case in request_cases() if case[1]["url"] == "/series/speed")
    right = dashboards.panel_url(target, PICKER_VARIABLES, to_ms(PICKER_START), to_ms(PICKER_END))
    before = os.environ.get("TZ")
    try:
        for zone in OTHER_ZONES:
            os.environ["TZ"] = zone
            time.tzset()
            given = exercises.attempt(func, copy.deepcopy(target), dict(PICKER_VARIABLES), PICKER_START, PICKER_END)
            mistake = _request_mistake(what, target, given, right) if isinstance(given, str) else None
            if mistake:
                return (f"with this machine's time zone set to {zone}, {mistake}: "
                        "your answer depends on the machine's zone, so a datetime lost its zone and was read as local "
                        "time somewhere. The aware datetime's own timestamp() needs no zone")
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()
    return None


def _scratch_anomalies(start: datetime, end: datetime) -> list[dict]:
    """Anomalies inside [start, end) and just outside it: before `start`, exactly at `end`
    (which `$lt` leaves out) and after, with one type found only outside, so an aggregation
    without the range filter, or with `$lte`, gives other counts."""
    inside = [("overspeed", 5), ("engine_overheat", 3), ("low_fuel", 1)]
    last = [("low_fuel", end - timedelta(milliseconds=500))]  # inside, just: a bound short of `end` misses it
    outside = [("overspeed", start - timedelta(seconds=1)), ("engine_overheat", end), ("gps_jump", end),
               ("low_fuel", end + timedelta(minutes=1)), ("overspeed", start - timedelta(hours=1))]
    step = (end - start) / 20
    docs = [{"type": kind, "car_id": f"CAR_{i % 3 + 1:03d}", "timestamp": start + i * step}
            for kind, count in inside for i in range(count)]
    docs += [{"type": kind, "car_id": "CAR_001", "timestamp": moment} for kind, moment in last + outside]
    return docs


class _Travelled(monitoring.CommandListener):
    """Counts the documents the server hands to the client in cursor batches (find, aggregate
    and their getMore), as a pymongo command listener: an aggregation that counts in the server
    sends one row per type; a `$match` alone sends every anomaly, for Python to count."""

    def __init__(self):
        self.documents = 0
        self.listed = 0  # values inside arrays of those documents ($push: the items, to count in Python)
        self.aggregations = 0

    def started(self, event) -> None:
        self.aggregations += event.command_name == "aggregate"

    def succeeded(self, event) -> None:
        cursor = event.reply.get("cursor") if isinstance(event.reply, dict) else None
        if isinstance(cursor, dict):
            batch = cursor.get("firstBatch") or cursor.get("nextBatch") or []
            self.documents += len(batch)
            self.listed += sum(len(v) for doc in batch for v in doc.values() if isinstance(v, list))

    def reset(self) -> None:
        self.documents = self.listed = self.aggregations = 0

    def failed(self, event) -> None:
        pass


@exercises.graded(PER_TYPE)
def anomalies_per_type(func, settings: Settings, start: datetime, end: datetime) -> bool:
    """08.4: {type: count} over [start, end), on a scratch collection the check fills with
    anomalies inside the range and just outside it; compared with a count made in Python."""
    travelled = _Travelled()
    client = clients.mongo_client(settings, event_listeners=[travelled])
    try:
        db, name = client[settings.mongodb_db], f"{settings.collections.anomalies}_check_08_4"
        docs = _scratch_anomalies(start, end)
        db[name].drop()
        db[name].insert_many([dict(d) for d in docs])
        expected = dict(Counter(d["type"] for d in docs if start <= d["timestamp"] < end))
        travelled.reset()  # from here on, what the student's function reads
        answer = exercises.attempt(func, db, name, start, end)
        read, listed, aggregations = travelled.documents, travelled.listed, travelled.aggregations
        db[name].drop()
    finally:
        client.close()
    if not exercises.expect_type(PER_TYPE, answer, COUNTS):
        return False
    if exercises.same(dict(answer), expected) and exercises.calls_method(func, "aggregate") is False:
        return exercises.wrong(PER_TYPE, "right counts, but the exercise asks for one aggregation "
                                         "(collection.aggregate([...])): the server counts, and only the counts travel")
    if exercises.same(dict(answer), expected) and aggregations > 1:
        return exercises.wrong(PER_TYPE, f"right counts, but from {aggregations} aggregations: one $group stage "
                                         "counts every type at once, in one aggregation")
    if exercises.same(dict(answer), expected) and listed:
        return exercises.wrong(PER_TYPE, f"right counts, but {listed} values travelled in lists for Python to count "
                                         "($push): let the $group stage count them ($sum), so only the counts travel")
    if exercises.same(dict(answer), expected) and read > len(expected):
        return exercises.wrong(PER_TYPE, f"right counts, but {read} documents travelled from the server to "
                                         f"Python for {len(expected)} types: let a $group stage count, so that only "
                                         "one row per type travels")
    return exercises.check(PER_TYPE, dict(answer), expected)


#: 08.3's own topic: messages per partition, and the group's committed offset (None: never
#: committed). Five partitions, where the notebook's topic has four: a count typed in misses one.
LAG_TOPIC_MESSAGES = {0: 5, 1: 3, 2: 0, 3: 6, 4: 8}
LAG_COMMITTED = {0: 2, 1: 3, 2: None, 3: None, 4: 1}
#: The first messages of partitions 3 and 4 are deleted (as retention deletes old ones). Partition
#: 3 was never committed: it counts from its first offset, 6 - 4 = 2, not 6. Partition 4's commit
#: points at a deleted message: the group can read from offset 4 at the earliest, 8 - 4 = 4, not 7.
#: (Each wrong reading of the case gives a sum of its own, not the right one by chance.)
LAG_DELETED_BEFORE = {3: 4, 4: 4}


def lag_mistakes() -> dict[int, str]:
    """{the sum a mistaken reading of LAG_TOPIC_MESSAGES gives: what the mistake is}, computed
    from the case itself; a sum that two mistakes (or the right answer) share is left out."""
    ends, committed = LAG_TOPIC_MESSAGES, LAG_COMMITTED
    first = {p: LAG_DELETED_BEFORE.get(p, 0) for p in ends}
    right = {p: ends[p] - max(committed[p] or 0, first[p]) for p in ends}
    readings = {
        "the end offsets alone: subtract where the group reads next (its committed offset)":
            sum(ends.values()),
        "a partition never committed counted from offset 0: it counts from its first offset still in the "
        "log (beginning_offsets), since retention deleted the ones before": sum(ends[p] - (committed[p] or 0) for p in ends),
        "a commit that points at deleted messages counted from the commit: the group reads next from the "
        "larger of its committed offset and the first offset still in the log":
            sum(ends[p] - (first[p] if committed[p] is None else committed[p]) for p in ends),
        "the partitions never committed left out: they count too, from their first offset":
            sum(right[p] for p in ends if committed[p] is not None),
        "the commits ignored: lag counts from where the group reads next, not from the first offset":
            sum(ends[p] - first[p] for p in ends),
        "four partitions counted: this topic has five; ask the consumer for the topic's partitions "
        "(partitions_for_topic)": sum(right[p] for p in range(4)),
    }
    sums = list(readings.values()) + [sum(right.values())]
    return {total: why for why, total in readings.items() if sums.count(total) == 1}


#: A right answer asks the broker a few questions: well under a second.
LAG_DEADLINE_S = 20


@exercises.graded(LAG)
def total_lag(func, settings: Settings, group: str, topic: str) -> bool:
    """08.3: the student's lag equals the broker's end offsets minus the group's commits, on a
    topic of the check's own (`topic` + ".exercise-08-3", made fresh: the notebook's topic is
    left as it is) where one partition is behind, one is caught up, one is empty and one was
    never committed and lost its first messages (it counts from its first offset, not from 0),
    and one's commit points at a deleted message (it counts from the first offset still there),
    so that `return 0`, "end offsets only", `committed or 0` and a typed-in partition count
    cannot pass."""
    if exercises.uses_the_lab_version(LAG, func, {name: "the consumer you are given" for name in (
            "consumer_lag", "partition_lag", "LagReader", "lag_now", "lag_by_partition", "committed_offsets",
            "end_offsets", "log_start_offsets")}):
        return False
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    from labkit.ops.infra.topics import ensure_topics

    own_topic, own_group = f"{topic}.exercise-08-3", f"{group}.exercise-08-3"
    _delete_topic(settings, own_topic)
    ensure_topics(settings, {own_topic: len(LAG_TOPIC_MESSAGES)})
    producer = clients.kafka_producer(settings)
    for partition, count in LAG_TOPIC_MESSAGES.items():
        for _ in range(count):
            producer.send(own_topic, partition=partition, value=b'{"note": "waiting for a processor"}')
    producer.flush()
    producer.close()
    admin = clients.kafka_admin(settings)
    try:
        admin.delete_records({TopicPartition(own_topic, p): offset for p, offset in LAG_DELETED_BEFORE.items()})
    finally:
        admin.close()
    committer = clients.kafka_consumer(settings, group_id=own_group)
    try:
        committer.commit({TopicPartition(own_topic, p): OffsetAndMetadata(offset, "", -1)
                          for p, offset in LAG_COMMITTED.items() if offset is not None})
    finally:
        committer.close(autocommit=False)
    # Measured before the student's call: a function that commits would change its own answer key.
    expected = sum(kafka_io.consumer_lag(settings, own_group, own_topic).values())
    consumer = clients.kafka_consumer(settings, group_id=own_group)
    try:
        answer = exercises.attempt_within(LAG_DEADLINE_S, func, consumer, own_topic)
    finally:
        consumer.close(autocommit=False)  # a loop still polling fails now, and its thread ends
    if exercises.timed_out(answer):
        return exercises.wrong(LAG, f"your function had not returned after {LAG_DEADLINE_S} s: lag needs no "
                                    "messages read, only offsets asked of the broker (no poll, no loop over the consumer)")
    if not exercises.expect_type(LAG, answer, exercises.of_type(float, what="a number (the lag summed over partitions)")):
        return False
    mistake = lag_mistakes().get(answer) if answer != expected else None
    if mistake:
        return exercises.wrong(LAG, f"your function says {answer}, what you get from {mistake}")
    return exercises.check(LAG, answer, expected)


def _delete_topic(settings: Settings, topic: str) -> None:
    """Delete `topic` if it exists (a rerun of the check starts from nothing)."""
    admin = clients.kafka_admin(settings)
    try:
        if topic in admin.list_topics():
            admin.delete_topics([topic])
            wait_until(lambda: topic not in admin.list_topics(), 30, 0.2, what=f"topic {topic} to be deleted")
    finally:
        admin.close()



#: 08.2's answers.
DIAGNOSES = ("healthy", "processor stopped", "processor falling behind", "bad producer", "cars stopped sending")


def _board(lag, events_per_s, invalid_ratio, freshness_s) -> dict:
    return {"lag": list(lag), "events_per_s": list(events_per_s), "invalid_ratio": list(invalid_ratio),
            "freshness_s": list(freshness_s)}


#: (what happened, the board over the last minute in 10 s samples, the answer). Each catches a
#: mistake: judging by throughput alone (the two stopped cases look alike), by freshness alone
#: (it grows in both), by the size of the lag instead of its growth (a steady lag is healthy).
#: The steady boards end a little above where they start, as real noise does: a lag that is
#: merely higher at the end than at the start is not a lag that grows; and a lag can grow in
#: bursts, falling between them. A processor that falls behind by a little keeps its freshness
#: almost flat: only the lag shows it. A lag that swings widely around a steady level is healthy
#: (how much it moves is size again), and a lag that grows by a few messages a sample is falling
#: behind (a growth threshold fitted to the other boards misses it). Each board's numbers agree with its story (a lag grows
#: by the arrivals per second the processor does not take, times 10 s).
BOARDS = [
    ("a steady pipeline with a little work in flight",
     _board([28, 31, 29, 30, 28, 33], [10] * 6, [0.01] * 6, [2, 3, 2, 3, 2, 3]), "healthy"),
    ("a busy pipeline with a large but steady lag",
     _board([480, 510, 495, 505, 500, 515], [50] * 6, [0.02] * 6, [11, 10, 12, 11, 10, 11]), "healthy"),
    ("the processor was killed", _board([0, 100, 200, 300, 400, 500], [10, 0, 0, 0, 0, 0], [0.01, 0, 0, 0, 0, 0],
                                        [2, 12, 22, 32, 42, 52]), "processor stopped"),
    ("the processor was already down", _board([100, 110, 120, 130, 140, 150], [0] * 6, [0.0] * 6,
                                              [60, 70, 80, 90, 100, 110]), "processor stopped"),
    ("the cars went quiet", _board([0] * 6, [10, 0, 0, 0, 0, 0], [0.01, 0, 0, 0, 0, 0],
                                   [2, 12, 22, 32, 42, 52]), "cars stopped sending"),
    ("a device sent garbage for ten seconds", _board([0, 0, 5, 0, 0, 0], [10, 10, 50, 10, 10, 10],
                                                     [0.01, 0.01, 0.8, 0.02, 0.01, 0.01], [2, 3, 2, 3, 2, 3]), "bad producer"),
    ("a backlog of thousands that holds steady", _board([1500, 1530, 1490, 1520, 1510, 1540], [400] * 6, [0.01] * 6,
                                                         [4, 5, 4, 5, 4, 5]), "healthy"),
    ("a few more cars than the processor can take", _board([0, 60, 120, 180, 240, 300], [300] * 6, [0.01] * 6,
                                                           [2, 2, 3, 3, 3, 3]), "processor falling behind"),
    ("falling behind in bursts", _board([200, 150, 420, 360, 640, 590], [400] * 6, [0.01] * 6,
                                        [4, 4, 5, 5, 6, 6]), "processor falling behind"),
    ("falling behind on top of a backlog", _board([500, 560, 620, 680, 740, 800], [400] * 6, [0.01] * 6,
                                                  [4, 5, 6, 7, 8, 9]), "processor falling behind"),
    ("twice as many cars as the processor can take", _board([0, 5000, 10000, 15000, 20000, 25000], [500] * 6,
                                                            [0.01] * 6, [2, 7, 12, 17, 22, 27]), "processor falling behind"),
    ("a busy pipeline that takes its work in large batches", _board([1800, 600, 2400, 700, 2500, 900], [400] * 6,
                                                                    [0.01] * 6, [5, 2, 6, 2, 6, 3]), "healthy"),
    ("a processor just short of keeping up", _board([0, 6, 12, 18, 24, 30], [20] * 6, [0.01] * 6,
                                                    [2, 2, 2, 3, 3, 3]), "processor falling behind"),
    # Two that catch the order of the signs: throughput was 0 for most of the minute, but the
    # newest sample says what happens now; and a growing lag outranks a burst of garbage.
    ("a processor back from a restart, catching up", _board([300, 400, 500, 600, 700, 150], [0, 0, 0, 0, 0, 65],
                                                            [0.0, 0.0, 0.0, 0.0, 0.0, 0.01],
                                                            [40, 50, 60, 70, 80, 3]), "healthy"),
    ("falling behind while a device sends garbage", _board([0, 60, 120, 180, 240, 300], [300] * 6,
                                                           [0.01, 0.01, 0.7, 0.01, 0.01, 0.01], [2, 2, 3, 3, 3, 3]),
     "processor falling behind"),
    # What happens now is in the newest sample: a processor that died in the last ten seconds
    # (its average over the minute still looks busy); and a share of garbage that stays under
    # half is a few bad messages, not a bad producer.
    ("a processor that died in the last ten seconds", _board([0, 0, 0, 0, 0, 300], [30, 30, 30, 30, 30, 0],
                                                             [0.01, 0.01, 0.01, 0.01, 0.01, 0.0], [2, 2, 2, 2, 2, 12]),
     "processor stopped"),
    ("a processor stopped while nothing new arrives", _board([120] * 6, [0] * 6, [0.0] * 6, [60, 70, 80, 90, 100, 110]),
     "processor stopped"),
    ("a few bad messages in a busy minute", _board([20, 25, 22, 21, 24, 23], [40] * 6,
                                                   [0.01, 0.01, 0.3, 0.01, 0.01, 0.01], [2, 3, 2, 3, 2, 3]), "healthy"),
]


@exercises.graded(DIAGNOSE)
def diagnose(func) -> bool:
    """08.2: the student's diagnosis of each of BOARDS (each call gets its own copy)."""
    answers, expected = {}, {}
    for what, board, answer in BOARDS:
        given = exercises.attempt(func, copy.deepcopy(board))
        if not exercises.expect_type(DIAGNOSE, given, exercises.of_type(str, what=f"one of {DIAGNOSES}"), case=f"for {what}"):
            return False
        if given not in DIAGNOSES:
            return exercises.wrong(DIAGNOSE, f"for {what} you returned {given!r}, which is not one of {DIAGNOSES}")
        answers[what], expected[what] = given, answer
    misread = [what for what in answers if answers[what] != expected[what]]
    if misread:
        what = misread[0]
        return exercises.wrong(DIAGNOSE, f"{len(misread)} of {len(BOARDS)} boards misread; the first: for “{what}” "
                                         f"you said {answers[what]!r}, which is not what that board shows")
    return exercises.check(DIAGNOSE, answers, expected)
