import math

import pytest

from labkit.teach import exercises
from tests.wrong_answers import fall_through_lateness


@pytest.fixture(autouse=True)
def _no_leftover_hints(monkeypatch):
    monkeypatch.setattr(exercises, "HINTS", {})


def stub():
    raise NotImplementedError


def buggy():
    return 1 / 0


def test_unattempted_stub_is_reported_not_raised(capsys):
    assert exercises.check("x", exercises.attempt(stub), 3) is False
    assert "not attempted" in capsys.readouterr().out


def test_a_bug_in_an_attempt_is_reported_not_raised(capsys):
    assert exercises.check("x", exercises.attempt(buggy), 3) is False
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_a_bug_is_reported_with_the_line_that_raised(capsys):
    exercises.check("x", exercises.attempt(buggy), 3)
    out = capsys.readouterr().out
    assert "division by zero" in out
    assert f"test_exercises.py:{buggy.__code__.co_firstlineno + 1}" in out
    assert "return 1 / 0" in out
    assert len(out.strip().splitlines()) <= 3


def test_a_failure_inside_a_list_of_attempts_is_reported(capsys):
    answers = [exercises.attempt(lambda: True), exercises.attempt(buggy)]
    assert exercises.check("x", answers, [True, False]) is False
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_right_and_wrong_answers(capsys):
    assert exercises.check("x", exercises.attempt(lambda: 3), 3) is True
    assert exercises.check("x", 4, 3, hint="count again") is False
    out = capsys.readouterr().out
    assert "✔ x: correct!" in out
    assert "✘ x: " in out and "too high" in out
    assert "count again" not in out  # the hint waits until asked for
    assert 'Need a hint? Run exercises.hint("x")' in out


# --- hints ----------------------------------------------------------------------------


def test_hint_prints_the_registered_hint(capsys):
    exercises.check("01.3 stopped share", 0.5, 0.25, hint="divide by the number of events")
    capsys.readouterr()
    exercises.hint("01.3 stopped share")
    assert "divide by the number of events" in capsys.readouterr().out
    exercises.hint("01.3")  # a unique prefix is enough
    assert "divide by the number of events" in capsys.readouterr().out


def test_hint_for_an_unknown_name_lists_the_known_names(capsys):
    exercises.hint("nothing yet")
    assert "No hint" in capsys.readouterr().out
    exercises.check("a", 1, 2, hint="h1")
    exercises.check("b", 1, 1, hint="h2")
    capsys.readouterr()
    exercises.hint("zzz")
    out = capsys.readouterr().out
    assert "No hint for 'zzz'" in out and "'a'" in out and "'b'" in out
    assert "h1" not in out


def test_no_hint_line_without_a_hint(capsys):
    exercises.check("x", 4, 3)
    assert "Need a hint" not in capsys.readouterr().out


def test_right_answer_and_unattempted_do_not_point_to_the_hint(capsys):
    exercises.check("x", 3, 3, hint="h")
    exercises.check("x", exercises.attempt(stub), 3, hint="h")
    assert "Need a hint" not in capsys.readouterr().out


# --- tolerance ------------------------------------------------------------------------


def test_floats_are_compared_with_a_tolerance(capsys):
    assert exercises.check("x", 0.1 + 0.2, 0.3) is True
    assert exercises.check("x", [0.1 + 0.2, 1], [0.3, 1]) is True
    assert exercises.check("x", {"a": {"b": 0.1 + 0.2}}, {"a": {"b": 0.3}}) is True
    assert exercises.check("x", (1.0, 2), (1, 2.0)) is True
    assert exercises.check("x", 0.3001, 0.3) is False
    assert exercises.check("x", 1e-15, 0.0) is True


def test_numpy_scalars_compare_like_numbers():
    np = pytest.importorskip("numpy")
    assert exercises.same(np.float64(0.1) + np.float64(0.2), 0.3)
    assert exercises.same(np.int64(7), 7)
    assert exercises.same(np.bool_(True), True)
    assert not exercises.same(1, True)


def test_nan_matches_only_nan():
    assert exercises.same(math.nan, math.nan)
    assert not exercises.same(math.nan, 1.0)


# --- what is wrong, without the answer --------------------------------------------


SECRET = 987654


@pytest.mark.parametrize("answer, expected, words", [
    ([1, 2], {"a": 1}, "you returned a list; expected a dict"),
    ("3", 3, "you returned a string; expected a number"),
    (None, 3, "you returned None; expected a number"),
    (2 * SECRET, SECRET, "about 2x too high"),
    (SECRET / 3, SECRET, "about 3x too low"),
    (SECRET * 1.2, SECRET, "about 20% too high"),
    (SECRET * 0.999, SECRET, "slightly too low"),
    (-5, SECRET, "too low (and of the wrong sign)"),
    ({"a": 1}, {"a": 1, "b": SECRET}, "missing keys: ['b']"),
    ({"a": 1, "z": 2}, {"a": 1}, "unexpected keys: ['z']"),
    ({3: SECRET + 10}, {3: SECRET}, "wrong value for key 3: yours is"),
    ({3: SECRET + 10}, {3: SECRET}, "too high"),
    ([1, 2, 3, 4], [1, 2, 3, 4, 5, SECRET], "you returned 4 items; expected 6"),
    ([1, 2, 3], [1, 2, SECRET], "first difference at position 2: yours is"),
    ((1, 2), [1, 2], "you returned a tuple; expected a list"),
    ("abc", "xyz", "expected a different value"),
    (True, False, "expected a different value"),
    ("Car_001", "CAR_001", "upper/lower case"),
    ((x for x in [1]), [1], "wrap it in list(...)"),
    ({1, 2, 5}, {1, 2, 3}, "unexpected items: [5]; 1 expected item is missing"),
    ([{"speed": 5}], [{"speed": SECRET}], "first difference at position 0, key 'speed': yours is"),
    ({"a": [1, 2], "b": 3}, {"a": [1, SECRET], "b": 4}, "wrong value for key 'a', position 1"),
    ({"a": [1]}, {"a": [1, SECRET]}, "wrong value for key 'a': yours has 1 item; expected 2"),
    (1, SECRET, "at least 100,000x too low"),
])
def test_describe_difference_names_what_is_wrong(answer, expected, words):
    text = exercises.describe_difference(answer, expected)
    assert words in text
    assert str(SECRET) not in text
    assert len(text.splitlines()) <= 2


def test_describe_difference_of_equal_values():
    assert exercises.describe_difference([0.1 + 0.2], [0.3]) == "it matches"


@pytest.mark.parametrize("answer, expected", [
    (123, SECRET),
    (float(SECRET) + 0.5, float(SECRET)),
    ([1, 2], [1, SECRET]),
    ([1], [1, SECRET]),
    ({"k": 1}, {"k": SECRET}),
    ({"k": 1}, {"k": 1, "j": SECRET}),
    ("nope", str(SECRET)),
    ([str(SECRET - 1)], [str(SECRET)]),
    ({1}, {SECRET}),
])
def test_wrong_answers_never_show_the_expected_value(capsys, answer, expected):
    assert exercises.check("x", answer, expected, hint="think") is False
    out = capsys.readouterr().out
    assert out.startswith("✘ x: ")
    assert str(SECRET) not in out


# --- never raises ---------------------------------------------------------------------


class RaisingEq:
    def __eq__(self, other):
        raise RuntimeError("no comparing me")

    __hash__ = object.__hash__

    def __repr__(self):
        raise RuntimeError("no printing me either")


class NotABool:
    def __bool__(self):
        raise RuntimeError("ambiguous")


class WeirdEq:
    def __eq__(self, other):
        return NotABool()

    __hash__ = object.__hash__


def _self_containing():
    items = []
    items.append(items)
    return items


@pytest.mark.parametrize("answer, expected", [
    (RaisingEq(), 3),
    (RaisingEq(), RaisingEq()),
    (3, RaisingEq()),
    ([RaisingEq()], [RaisingEq()]),
    ({"a": RaisingEq()}, {"a": 1}),
    (WeirdEq(), WeirdEq()),
    ((x for x in range(3)), [0, 1, 2]),
    (iter([1]), iter([1])),
    (math.nan, 1.0),
    (1.0, math.nan),
    (math.inf, 1.0),
    (10**400, 1.5),
    (_self_containing(), _self_containing()),
    ({RaisingEq()}, {1}),
    (object(), object()),
])
def test_check_never_raises(capsys, answer, expected):
    assert exercises.check("x", answer, expected, hint="h") in (True, False)
    out = capsys.readouterr().out
    assert out.startswith(("✔ x", "✘ x", "⏳ x"))
    assert isinstance(exercises.describe_difference(answer, expected), str)


def test_a_failure_whose_message_cannot_be_printed_is_still_reported(capsys):
    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no")

    def raises():
        raise Unprintable()

    assert exercises.check("x", exercises.attempt(raises), 1) is False
    assert "Unprintable" in capsys.readouterr().out


def test_numpy_arrays_are_wrong_not_crashing(capsys):
    np = pytest.importorskip("numpy")
    assert exercises.check("x", np.array([1, 2]), [1, 2]) is False
    assert exercises.check("x", np.array([1, 2]), np.array([1, 2])) is False
    out = capsys.readouterr().out
    assert "you returned a ndarray; expected a list" in out


# --- predict --------------------------------------------------------------------------


@pytest.mark.parametrize("guess", [..., None])
def test_predict_without_a_guess_does_not_reveal_the_answer(capsys, guess):
    assert exercises.predict("p", guess, SECRET, why="because") is False
    out = capsys.readouterr().out
    assert out.strip() == ("⏳ p: write your prediction first (replace the ...), "
                           "then run this cell again.")
    assert str(SECRET) not in out and "because" not in out


def test_predict_right(capsys):
    assert exercises.predict("p", 3, 3, why="three partitions") is True
    out = capsys.readouterr().out
    assert "✔ p: you predicted 3, and it is 3." in out
    assert "Why: three partitions" in out


def test_predict_wrong_shows_the_answer_and_why(capsys):
    assert exercises.predict("p", 2, 3, why="three partitions") is False
    out = capsys.readouterr().out
    assert "✘ p: you predicted 2; it is 3." in out
    assert "Why: three partitions" in out


def test_predict_tolerance(capsys):
    assert exercises.predict("p", 100, 104.5, tolerance=5) is True
    assert exercises.predict("p", 100, 105.5, tolerance=5) is False
    assert exercises.predict("p", 0.3, 0.1 + 0.2) is True  # rounding noise always matches
    out = capsys.readouterr().out
    assert "Why" not in out
    assert "you predicted 0.3, and it is 0.3." in out


def test_predict_other_types_by_equality(capsys):
    assert exercises.predict("p", "CAR_001", "CAR_001") is True
    assert exercises.predict("p", [1, 2], [1, 3]) is False
    assert exercises.predict("p", True, np_bool_or_true()) is True


def np_bool_or_true():
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        return True
    return np.bool_(True)


@pytest.mark.parametrize("guess, actual", [
    (RaisingEq(), 3),
    (3, RaisingEq()),
    (WeirdEq(), WeirdEq()),
    (math.nan, math.nan),
    ("3", 3),
    (10**400, 1.5),
])
def test_predict_never_raises(capsys, guess, actual):
    assert exercises.predict("p", guess, actual, tolerance=1) in (True, False)
    assert capsys.readouterr().out.startswith(("✔ p", "✘ p"))


# --- None from an edited function is a wrong answer, not "not attempted" ---------------


def test_a_function_that_returns_none_is_wrong_not_unattempted(capsys):
    def forgot_return(values):
        sum(values)  # computed, never returned

    assert exercises.check("x", exercises.attempt(forgot_return, [3, 4]), 7, hint="h") is False
    out = capsys.readouterr().out
    assert "✘ x: your function returned None: did you forget `return`?" in out
    assert "not attempted" not in out
    assert 'Need a hint? Run exercises.hint("x")' in out


def test_none_is_right_where_none_is_expected(capsys):
    assert exercises.check("x", exercises.attempt(lambda: None), None) is True
    assert "✔ x: correct!" in capsys.readouterr().out


def test_only_the_stub_itself_raising_not_implemented_is_unattempted(capsys):
    class Base:
        def size(self):
            raise NotImplementedError

    def edited():
        return Base().size() + 1  # the student's code ran; a library said "not implemented"

    assert exercises.check("x", exercises.attempt(edited), 3) is False
    out = capsys.readouterr().out
    assert "not attempted" not in out
    assert "your code raised NotImplementedError" in out


def _city_rule_without_final_return(raw, now):
    from labkit.process.validation import Verdict, validate

    verdict = validate(raw, now)
    if verdict.ok and verdict.event["speed"] > 200:
        return Verdict(False, "range:speed", "too fast for the city")


def _speed_into_the_event(event):  # puts km/h back under `speed`, and returns nothing
    if event.get("schema_version", 1) == 3:
        event["speed"] = event.pop("speed_mps") * 3.6


def _tunnel_stream():
    stream = [{"car_id": "CAR_001", "event_ms": t * 1000, "arrival_ms": t * 1000 + 200} for t in range(60) if not 20 <= t < 30]
    stream += [{"car_id": "CAR_001", "event_ms": t * 1000, "arrival_ms": 45_000 + t} for t in range(20, 30)]
    return sorted(stream, key=lambda e: e["arrival_ms"])


def _good_event():
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc).replace(microsecond=0)
    return now, {"car_id": "CAR_001", "timestamp": (now - timedelta(seconds=5)).isoformat(), "speed": 59.8,
                 "rpm": 2947, "engine_temp": 95.0, "fuel_level": 33.0, "latitude": 52.5, "longitude": 13.4,
                 "event_id": "e1", "seq": 1}


def _run_pure_check(exercise, student):
    """Run a check that needs no services with `student` as the student's function."""
    from labkit.teach.checks import nb01, nb02, nb09, nb10, nb11

    now, good = _good_event()
    keys = [f"CAR_{i:03d}" for i in range(1, 11) for _ in range(60)] + ["CAR_007"] * 540
    runs = {
        "01.3": lambda: nb01.negative_speed(student, good),
        "02.1": lambda: nb02.city_rule(student, good, now),
        "09.1": lambda: nb09.range_assignment(student),
        "09.2": lambda: nb09.hot_key(student, keys, 4),
        "09.3": lambda: nb09.stalled(student, []),
        "09.4": lambda: nb09.partitions_for(student),
        "10.2": lambda: nb10.smallest_lateness(student, _tunnel_stream(), 1000, [0, 2, 5, 10, 20, 30], targets=(0.8, 1.0)),
        "11.2": lambda: nb11.speed_kmh(student, good),
    }
    return runs[exercise]()


@pytest.mark.parametrize("exercise, student", [
    ("01.3", lambda event: None),
    ("02.1", _city_rule_without_final_return),
    ("09.1", lambda partitions, workers: None),
    ("09.2", lambda keys, partitions: None),
    ("09.3", lambda lag_samples, seconds: None),
    ("09.4", lambda rate, per_worker_rate, headroom: None),
    ("11.2", _speed_into_the_event),
])
def test_checks_report_none_as_a_forgotten_return(capsys, exercise, student):
    assert _run_pure_check(exercise, student) is False
    out = capsys.readouterr().out
    assert out.startswith(f"✘ {exercise}")
    assert "returned None" in out and "forget `return`" in out
    assert "not attempted" not in out


def test_a_none_that_10_2_allows_is_judged_by_value_not_as_a_forgotten_return(capsys):
    # 10.2 answers None when no candidate reaches the target: a `>` for `>=` that falls through
    # to None is wrong for the case where one does, and "did you forget return" would mislead.
    assert _run_pure_check("10.2", fall_through_lateness) is False
    out = capsys.readouterr().out
    assert out.startswith("✘ 10.2") and "target 1" in out and "yours is None" in out
    assert "forget `return`" not in out


def test_a_stub_is_still_not_attempted_in_every_pure_check(capsys):
    for exercise in ("01.3", "02.1", "09.1", "09.2", "09.3", "09.4", "10.2", "11.2"):
        assert _run_pure_check(exercise, stub_with_any_arguments) is False
        assert capsys.readouterr().out.startswith(f"⏳ {exercise}")


def stub_with_any_arguments(*args):
    raise NotImplementedError


# --- hints are there from the start ----------------------------------------------------


EXERCISES = [
    "00.1", "00.2", "00.3", "01.1", "01.2", "01.3", "02.1", "02.2", "02.3", "03.1", "03.2",
    "03.3", "03.4", "04.1", "04.2", "05.1", "05.2", "06.1", "06.2", "06.3", "06.4", "07.1", "07.2", "08.1",
    "08.2", "08.3", "08.4", "09.1", "09.2", "09.3", "09.4", "10.1", "10.2", "11.1", "11.2",
]


@pytest.mark.parametrize("exercise", EXERCISES)
def test_every_hint_is_there_before_any_check_ran(capsys, exercise):
    exercises.hint(exercise)
    out = capsys.readouterr().out
    assert out.startswith(f"💡 {exercise} "), out


def _all_hints() -> dict[str, str]:
    import importlib

    table = {}
    for notebook in sorted({e[:2] for e in EXERCISES}):
        table.update(importlib.import_module(f"labkit.teach.checks.nb{notebook}").HINTS)
    return table


def test_each_check_module_names_its_own_exercises():
    import importlib

    for notebook in sorted({e[:2] for e in EXERCISES}):
        names = importlib.import_module(f"labkit.teach.checks.nb{notebook}").HINTS
        assert names and all(name.startswith(f"{notebook}.") for name in names)
    assert sorted(name[:4] for name in _all_hints()) == EXERCISES


def test_hints_give_the_idea_and_the_api_not_the_code():
    import re

    for name, text in _all_hints().items():
        assert len(text) <= 260, f"{name}: {len(text)} characters is most of a solution"
        assert not re.search(r"\b[A-Za-z_]\w* = ", text), f"{name}: an assignment is code, not a hint"
        assert not re.search(r"\bfor \w+ in\b", text), f"{name}: a loop is code, not a hint"


def test_a_hint_registered_by_a_notebook_cell_is_kept(capsys):
    exercises.check("00.1 partitions", 3, 4, hint="my own words")
    capsys.readouterr()
    exercises.hint("00.1")
    assert "my own words" in capsys.readouterr().out


# --- a wrong type gets a message naming the type expected, never a traceback ------------


class FakeProducer:
    """Stands in for clients.kafka_producer(settings): the 01.1 check opens and closes one."""

    def __init__(self, *args, **kwargs):
        from kafka import TopicPartition
        from kafka.producer.future import FutureProduceResult, FutureRecordMetadata, RecordMetadata

        self.sent = 0
        self._tp = TopicPartition("t", 1)
        self._future = lambda: FutureRecordMetadata(FutureProduceResult(self._tp), 0, 0, None, 3, 10, 0)
        self._metadata = lambda offset: RecordMetadata("t", 1, self._tp, offset, 0, None, 3, 10, 0)

    def send(self, topic, key=None, value=None):
        self.sent += 1
        return self._future()

    def metadata(self, offset):
        return self._metadata(offset)

    def flush(self):
        pass

    def close(self):
        pass


@pytest.fixture
def no_kafka(monkeypatch):
    """The 01.1 check without Kafka: a fake producer, a 4-partition topic that reads back nothing."""
    from labkit.ops import clients, kafka_io

    producer = FakeProducer()
    monkeypatch.setattr(clients, "kafka_producer", lambda *a, **k: producer)
    monkeypatch.setattr(kafka_io, "end_offsets", lambda settings, topic: {0: 0, 1: 0, 2: 0, 3: 0})
    monkeypatch.setattr(kafka_io, "read_topic", lambda *a, **k: [])
    from labkit.teach.checks import nb01

    monkeypatch.setattr(nb01, "_refuse_over", lambda *a: None)  # the topic's size limit: a broker setting
    return producer


EVENTS = [{"car_id": f"CAR_00{i}", "speed": 50.0 + i} for i in range(3)]


@pytest.mark.parametrize("student, words", [
    (lambda p, t, events: p.metadata(0), "you returned a RecordMetadata"),
    (lambda p, t, events: [p.send(t, value=b"x") for _ in events], "item 0 is a FutureRecordMetadata"),
    (lambda p, t, events: [p.metadata(i) for i, _ in enumerate(events)], "item 0 is a RecordMetadata"),
    (lambda p, t, events: [("1", "0") for _ in events], "item 0 is a tuple of 2 items whose item 0 is a string"),
    (lambda p, t, events: {e["car_id"]: (1, 0) for e in events}, "you returned a dict"),
    (lambda p, t, events: ((1, i) for i, _ in enumerate(events)), "wrap it in list(...)"),
])
def test_01_1_names_the_type_expected(capsys, no_kafka, student, words):
    from labkit.config import Settings
    from labkit.teach.checks import nb01

    assert nb01.send_keyed(student, Settings.from_env(), "t", EVENTS) is False
    out = capsys.readouterr().out
    assert out.startswith("✘ 01.1 send and confirm: ")
    assert words in out
    assert "expected a list with one (partition, offset) pair" in out


def test_01_1_a_partition_the_topic_does_not_have_is_wrong_not_read(capsys, no_kafka):
    from labkit.config import Settings
    from labkit.teach.checks import nb01

    assert nb01.send_keyed(lambda p, t, events: [(99, -1)] * len(events), Settings.from_env(), "t", EVENTS) is False
    assert capsys.readouterr().out.startswith("✘ 01.1 send and confirm: ")


@pytest.mark.parametrize("exercise, student, words", [
    ("01.3", lambda e: str(dict(e, speed=-1)).encode(), "not JSON"),
    ("01.3", lambda e: b"[1, 2]", "a JSON object"),
    ("01.3", lambda e: json_bytes(dict(e, speed="-5")), "wrong value for key 'speed < 0 (example)'"),
    ("01.3", lambda e: dict(e, speed=-1), "you returned a dict; expected bytes"),
    ("02.1", lambda raw, now: True, "you returned True/False; expected a Verdict"),
    ("02.1", lambda raw, now: {"ok": True}, "you returned a dict; expected a Verdict"),
    ("09.1", lambda n, ws: {w: 1 for w in ws}, "whose value for key 'w1' is an int"),
    ("09.1", lambda n, ws: [[0, 1], [2], [3]], "you returned a list of 3 items; expected a dict"),
    ("09.1", lambda n, ws: {w: (p for p in range(n)) for w in ws}, "is a generator"),
    ("09.2", lambda ks, n: "CAR_007", "you returned a string; expected a (key, share) pair"),
    ("09.2", lambda ks, n: ("CAR_007", 0.5, 3), "a tuple of 3 items"),
    ("09.2", lambda ks, n: ("CAR_007", "50%"), "whose item 1 is a string"),
    ("09.3", lambda samples, s: [0], "you returned a list of 1 item; expected a dict {partition: seconds}"),
    ("09.4", lambda r, p, h: [r / p], "you returned a list of 1 item; expected a number"),
    ("10.2", lambda s, d, t, c: (20, 1.0), "you returned a tuple of 2 items; expected a number"),
    ("11.2", lambda e: str(e["speed"]), "(for the version 1, no schema_version event): you returned a string; "
                                        "expected a number of km/h or None"),
    ("11.2", lambda e: {"speed": e.get("speed")}, "you returned a dict; expected a number of km/h"),
])
def test_pure_checks_name_the_type_expected(capsys, exercise, student, words):
    assert _run_pure_check(exercise, student) is False
    out = capsys.readouterr().out
    assert out.startswith(f"✘ {exercise}")
    assert words in out, out


def json_bytes(x):
    import json

    return json.dumps(x).encode()


def test_04_1_a_function_that_is_not_the_app_is_named(capsys):
    from labkit.config import Settings
    from labkit.teach.checks import nb07

    def add_route(app):
        @app.get("/stats/max_speed")
        def max_speed(car_id: str):
            return {}

        return max_speed  # the route, not the app

    assert nb07.max_speed_route(add_route, Settings.from_env(), "CAR_001", {"from": "0", "to": "1"}) is False
    out = capsys.readouterr().out
    assert out.startswith("✘ 07.1 max speed endpoint: you returned a function; expected the FastAPI app")
    assert nb07.max_speed_route(lambda app: None, Settings.from_env(), "CAR_001", {"from": "0", "to": "1"}) is False
    assert "returned None: did you forget `return`?" in capsys.readouterr().out


# --- the helpers the checks share ------------------------------------------------------


def test_expect_type_passes_a_right_type_silently(capsys):
    kind = exercises.list_of(exercises.pair(exercises.INTEGER, exercises.INTEGER), "a list of (partition, offset) pairs")
    assert exercises.expect_type("x", [(0, 1), [2, 3]], kind) is True
    assert exercises.expect_type("x", 5, int) is True
    assert exercises.expect_type("x", b"", bytes) is True
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("answer, kind, words", [
    (True, int, "you returned True/False; expected a whole number"),
    (2.5, int, "you returned a float; expected a whole number"),
    ("7", exercises.NUMBER, "you returned a string; expected a number"),
    ({"a": [1, "2"]}, exercises.dict_of(exercises.TEXT, exercises.list_of(exercises.INTEGER)),
     "you returned a dict whose value for key 'a' is a list of 2 items whose item 1 is a string"),
    ({1: 2}, exercises.dict_of(exercises.TEXT, exercises.NUMBER), "whose key 1 is an int"),
])
def test_expect_type_names_what_came_and_what_was_expected(capsys, answer, kind, words):
    assert exercises.expect_type("x", answer, kind) is False
    assert words in capsys.readouterr().out


def test_expect_type_reports_the_other_outcomes_of_an_attempt(capsys):
    assert exercises.expect_type("x", exercises.attempt(stub), int) is False
    assert exercises.expect_type("x", exercises.attempt(buggy), int) is False
    assert exercises.expect_type("x", exercises.attempt(lambda: None), int, case="for 3 workers") is False
    assert exercises.expect_type("x", exercises.attempt(lambda: None), exercises.ANYTHING) is True
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "⏳ x: not attempted yet."
    assert out[1].startswith("✘ x: your code raised ZeroDivisionError")
    assert "✘ x (for 3 workers): your function returned None: did you forget `return`?" in out


def test_a_student_error_raised_inside_a_check_is_reported_as_theirs(capsys):
    @exercises.graded("x")
    def a_check(student):
        return exercises.check("x", list(student()), [1])  # the student's generator runs here

    def student():
        yield 1 / 0

    assert a_check(student) is False
    out = capsys.readouterr().out
    assert out.startswith("✘ x: your code raised ZeroDivisionError: division by zero")
    assert "yield 1 / 0" in out


def test_a_bug_in_the_check_itself_is_not_blamed_on_the_student():
    import json

    a_check = exercises.graded("x")(json.loads)  # raises in library code only: no frame of the student's

    with pytest.raises(ValueError):
        a_check("{")


# --- an answer that calls the lab's own version of the exercise is wrong -------------------


def _wraps_the_lab(settings):
    from labkit.ops.infra.topics import describe_topics

    return describe_topics(settings)[settings.topics.telemetry]


def _own_code(settings):
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        return len(consumer.partitions_for_topic(settings.topics.telemetry))
    finally:
        consumer.close()


def test_lab_calls_finds_the_lab_s_own_code_by_what_a_name_resolves_to():
    names = frozenset({"describe_topics", "end_offsets", "member", "kafka_consumer"})
    assert exercises.lab_calls(_wraps_the_lab, names) == ["describe_topics"]
    assert exercises.lab_calls(_own_code, names) == []
    assert exercises.lab_calls(len, names) == []  # no source: nothing is held against it


def _kafka_s_own_calls(settings):
    from kafka import KafkaConsumer, TopicPartition
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    described = admin.describe_topics([settings.topics.telemetry])  # kafka-python's, not the lab's
    member = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)  # a variable of that name
    ends = member.end_offsets([TopicPartition(settings.topics.telemetry, 0)])
    return len(described), ends


def _lab_attribute(settings):
    from labkit.ops import clients

    return clients.kafka_consumer(settings)


def test_the_same_names_on_kafka_python_objects_or_own_variables_are_not_the_lab_s():
    names = frozenset({"describe_topics", "end_offsets", "member", "kafka_consumer"})
    assert exercises.lab_calls(_kafka_s_own_calls, names) == []
    assert exercises.lab_calls(_lab_attribute, names) == ["kafka_consumer"]


def test_an_answer_that_calls_the_lab_version_is_wrong_with_what_to_use(capsys):
    lab = {"describe_topics": "a KafkaConsumer of your own"}
    assert exercises.uses_the_lab_version("00.1 partitions", _wraps_the_lab, lab) is True
    out = capsys.readouterr().out
    assert out.startswith("✘ 00.1 partitions: your function calls describe_topics") and "a KafkaConsumer of your own" in out
    assert exercises.uses_the_lab_version("00.1 partitions", _own_code, lab) is False
    assert capsys.readouterr().out == ""


def test_the_09_1_check_rejects_a_wrapper_of_event_time_windows(capsys):
    from labkit.process.windows import TOO_LATE, EventTimeWindows
    from labkit.teach.checks import nb10

    def wrapper(readings, size_ms, delay_ms, lateness_ms):
        windows, too_late = EventTimeWindows(size_ms=size_ms, delay_ms=delay_ms, allowed_lateness_ms=lateness_ms), []
        for r in readings:
            if windows.add(0, r["car_id"], r["event_ms"], r["arrival_ms"]) == TOO_LATE:
                too_late.append(r)
        return {}, too_late

    assert nb10.count_windows(wrapper) is False
    assert "your function calls EventTimeWindows" in capsys.readouterr().out


def test_an_attempt_that_never_returns_is_reported_at_its_deadline():
    import threading

    stop = threading.Event()
    answer = exercises.attempt_within(0.2, lambda: stop.wait(5))
    assert exercises.timed_out(answer)
    stop.set()
    assert exercises.attempt_within(1, lambda: 42) == 42


def test_a_simulated_crash_inside_a_deadline_reaches_the_check():
    class Killed(BaseException):  # what 02.3's and 03.3's checks raise from a write
        pass

    def crashes():
        raise Killed

    with pytest.raises(Killed):
        exercises.attempt_within(5, crashes)
    failure = exercises.attempt_within(5, lambda: 1 / 0)  # an ordinary bug is still the student's, reported
    assert not exercises.timed_out(failure) and "ZeroDivisionError" in repr(failure)


def test_the_01_3_check_rejects_the_lab_s_read_topic(capsys, monkeypatch):
    from labkit.config import Settings
    from labkit.teach.checks import nb01

    monkeypatch.setattr(nb01, "_append_transactions", lambda *a: None)

    def with_read_topic(consumer, topic):
        from collections import Counter

        from labkit.ops import kafka_io

        return dict(Counter(r.partition for r in kafka_io.read_topic(Settings.from_env(), topic, max_messages=10**6)))

    assert nb01.count_per_partition(with_read_topic, Settings.from_env(), "t") is False
    assert "your function calls read_topic" in capsys.readouterr().out


def _grouped_by_the_server(collection):
    return list(collection.aggregate([{"$group": {"_id": "$type"}}]))


def _counted_here(collection):
    return len(list(collection.find({})))


def _through_a_helper(collection):
    return _grouped_by_the_server(collection)


def test_calls_method_reads_the_function_s_own_source():
    assert exercises.calls_method(_grouped_by_the_server, "aggregate") is True
    assert exercises.calls_method(_through_a_helper, "aggregate") is True  # a helper of its own counts
    assert exercises.calls_method(_counted_here, "aggregate") is False
    assert exercises.calls_method(len, "aggregate") is None  # no source: nothing held against it


@pytest.mark.parametrize("guess, headless, shown", [
    (..., None, False), (None, None, False), (12, None, True), (0, None, True),
    (..., "1", True),   # a headless run's copy is read: its unanswered predictions show their answers
])
def test_a_predictions_answer_is_shown_once_guessed_or_in_a_headless_run(monkeypatch, capsys, guess, headless, shown):
    if headless is None:
        monkeypatch.delenv(exercises.HEADLESS, raising=False)
    else:
        monkeypatch.setenv(exercises.HEADLESS, headless)
    assert exercises.answered(guess) is shown
    # Only a headless run's unanswered prediction says why its answer shows.
    assert ("ran without a student" in capsys.readouterr().out) is (guess is ... and headless == "1")


@pytest.mark.parametrize("student, words", [
    (lambda *a: None, "yours is None"),        # "no candidate reaches it", whatever the target
    (lambda *a: 20, "yours is too high"),      # a constant
    (lambda *a: "20", "you returned a string"),  # a number as text
])
def test_10_2_rejects_a_none_a_constant_and_text_each_with_its_reason(capsys, student, words):
    assert _run_pure_check("10.2", student) is False
    out = capsys.readouterr().out
    assert out.startswith("✘ 10.2") and words in out and "forget `return`" not in out


def test_two_predictions_show_their_answer_once_both_are_written_and_say_so_once_headless(monkeypatch, capsys):
    monkeypatch.delenv(exercises.HEADLESS, raising=False)
    assert exercises.answered(3, ...) is False and exercises.answered(3, 144) is True
    monkeypatch.setenv(exercises.HEADLESS, "1")
    assert exercises.answered(..., ...) is True
    assert capsys.readouterr().out.count("ran without a student") == 1
