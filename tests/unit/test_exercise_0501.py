"""Exercise 05.1 (a stuck sensor, by hand): the solution passes the check, on a batch like the
notebook's and on the check's own edge cases; the classic mistakes are each rejected with a ✘
line naming the case (never a traceback)."""

from datetime import datetime, timezone

import pytest

from labkit.scenarios.evaluation import readings_by_car
from labkit.simulate.faults import FaultRates
from labkit.simulate.simulator import SimConfig, Simulator
from labkit.teach.checks import nb05 as check
from labkit.teach.solutions import nb05 as solution
from tests.wrong_answers import assert_rejected

pytestmark = pytest.mark.unit

FIELDS = ("speed", "rpm", "engine_temp")


@pytest.fixture(scope="module")
def batch():
    """A batch with many anomaly episodes, stuck sensors among them."""
    config = SimConfig(cars=4, seed=5, faults=FaultRates(episode=0.03, invalid=0.02, duplicate=0.02, late=0.02))
    return list(Simulator(config).messages(count=800, start=datetime(2026, 2, 25, 8, tzinfo=timezone.utc)))


def _runs(readings, repeats, *, stop_at_first=False, at_least=True, zero_speed_everywhere=False, zero_speed=True):
    """A stuck-sensor detector with the mistakes a student makes, switched on by the flags."""
    last, run, flagged = {}, {}, []
    for r in readings:
        hit = False
        for name in FIELDS:
            run[name] = run.get(name, 0) + 1 if last.get(name) == r[name] else 1
            last[name] = r[name]
            long_enough = run[name] >= repeats if at_least else run[name] > repeats
            excused = zero_speed and ((name == "speed" and r[name] == 0) or (zero_speed_everywhere and r["speed"] == 0))
            if long_enough and not excused:
                hit = True
                if stop_at_first:
                    break  # the other fields' runs are not counted on this reading
        if hit:
            flagged.append(r["event_id"])
    return flagged


def test_the_solution_passes(batch, capsys):
    assert check.stuck_events(solution.stuck_events, batch)
    assert any(check._lab_flags(rows, 8) for rows in readings_by_car(batch).values())  # the batch has some


def test_the_edge_cases_tell_every_mistake_apart():
    for name, rows, repeats in check._edge_cases():
        assert solution.stuck_events(rows, repeats) == check._lab_flags(rows, repeats), name


@pytest.mark.parametrize("student, words", [
    (lambda rows, repeats: _runs(rows, repeats, at_least=False), "rpm frozen for exactly repeats readings"),
    (lambda rows, repeats: _runs(rows, repeats, stop_at_first=True), "rpm frozen on after a frozen speed"),
    (lambda rows, repeats: _runs(rows, repeats, zero_speed=False), "a car standing still"),
    (lambda rows, repeats: _runs(rows, repeats, zero_speed_everywhere=True), "rpm frozen while the car stands still"),
    (lambda rows, repeats: _runs(rows, 8), "(repeats=4)"),  # the notebook's 8, not the argument
    (lambda rows, repeats: [e for e in _runs(rows, repeats) for _ in (1, 2)], "more than once"),
    (lambda rows, repeats: set(_runs(rows, repeats)), "you returned a set"),
    (lambda rows, repeats: None, "returned None"),
    (lambda rows, repeats: [], "you leave out"),  # a constant: no sensor is ever stuck
    (lambda rows, repeats: {r["event_id"]: True for r in rows}, "you returned a dict"),
], ids=["> for >=", "stops at the first stuck field", "speed 0 counted", "speed 0 excuses every field",
        "a fixed 8", "twice", "a set", "None", "always empty", "a dict"])
def test_mistakes_are_rejected(batch, capsys, student, words):
    assert_rejected(capsys, check.stuck_events(student, batch), words, exercise="05.1", no_traceback=True)


def test_the_untouched_stub_is_not_attempted(batch, capsys):
    def stuck_events(readings, repeats):
        raise NotImplementedError

    assert check.stuck_events(stuck_events, batch) is False
    assert capsys.readouterr().out.startswith("⏳ 05.1")
