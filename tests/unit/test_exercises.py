import math

import pytest

from labkit.teach import exercises


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
    exercises.check("x", None, 3, hint="h")
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
