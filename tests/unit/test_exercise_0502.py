"""Exercise 05.2 (choose a threshold): the solution passes the check, on notebook 05's sweep and
on sweeps of the check's own; each classic mistake is rejected with a ✘ line (never a
traceback); and the solution keeps the contract on random sweeps."""

import random
from datetime import datetime, timezone

import pytest

from labkit.scenarios.tuning import SensorNoise, add_noise, sweep, true_readings
from labkit.simulate.faults import FaultRates
from labkit.simulate.simulator import SimConfig, Simulator
from labkit.teach import exercises
from labkit.teach.checks import nb05 as check
from labkit.teach.solutions import nb05 as solution
from tests.wrong_answers import assert_rejected

pytestmark = pytest.mark.unit

START = datetime(2026, 2, 25, 8, 0, tzinfo=timezone.utc)


def _rejected(capsys, verdict, *words):
    assert_rejected(capsys, verdict, *words, exercise="05.2", no_traceback=True)


@pytest.fixture(scope="module")
def notebook_sweep():
    """Section 4's sweep with the notebook's default parameters."""
    config = SimConfig(cars=10, seed=11, faults=FaultRates(episode=0.02, invalid=0, duplicate=0, late=0))
    rows = true_readings(Simulator(config).messages(count=3000, start=START))
    return sweep(add_noise(rows, SensorNoise(sigma=4.0, spike_rate=0.01, seed=11)), [t / 2 for t in range(210, 261)])


# --- the mistakes, each a function a student might write ----------------------------------


def _meets(row, target):
    return row["precision"] is not None and row["precision"] >= target


def best_f1(rows, target):  # the best F1, whatever the target
    return max(rows, key=lambda r: r["f1"] or 0)["threshold"]


def lowest_meeting(rows, target):  # the lowest threshold that meets the target, not the best recall
    meeting = [r["threshold"] for r in rows if _meets(r, target)]
    return min(meeting) if meeting else None


def first_meeting(rows, target):  # the first row that meets it, in the order given
    return next((r["threshold"] for r in rows if _meets(r, target)), None)


def highest_meeting(rows, target):  # the safest: the best precision that meets it
    meeting = [r["threshold"] for r in rows if _meets(r, target)]
    return max(meeting) if meeting else None


def best_f1_meeting(rows, target):  # the target honoured, but the best F1 instead of the best recall
    meeting = [r for r in rows if _meets(r, target)]
    return max(meeting, key=lambda r: r["f1"])["threshold"] if meeting else None


def strictly_above(rows, target):  # precision > target: "at least" read as "more than"
    meeting = [r for r in rows if r["precision"] is not None and r["precision"] > target]
    return max(meeting, key=lambda r: (r["recall"], r["threshold"]))["threshold"] if meeting else None


def none_meets(rows, target):  # a row that flagged nothing counted as meeting any target
    meeting = [r for r in rows if r["precision"] is None or r["precision"] >= target]
    return max(meeting, key=lambda r: (r["recall"], r["threshold"]))["threshold"] if meeting else None


def none_compared(rows, target):  # precision None compared with a number: TypeError
    meeting = [r for r in rows if r["precision"] >= target]
    return max(meeting, key=lambda r: (r["recall"], r["threshold"]))["threshold"] if meeting else None


def ties_low(rows, target):  # the best recall, but equal recall going to the lower threshold
    meeting = [r for r in rows if _meets(r, target)]
    return max(meeting, key=lambda r: (r["recall"], -r["threshold"]))["threshold"] if meeting else None


def empty_max(rows, target):  # no row meets the target: max() of nothing raises ValueError
    return max((r for r in rows if _meets(r, target)), key=lambda r: (r["recall"], r["threshold"]))["threshold"]


def the_row(rows, target):  # the row, not its threshold
    meeting = [r for r in rows if _meets(r, target)]
    return max(meeting, key=lambda r: (r["recall"], r["threshold"])) if meeting else None


# --- the check ---------------------------------------------------------------------------------


def test_the_solution_passes_the_check(notebook_sweep):
    assert check.choose_threshold(solution.choose_threshold, notebook_sweep, min_precision=0.9)
    assert check.choose_threshold(solution.choose_threshold, notebook_sweep, min_precision=0.95)


def fewest_false_alarms(rows, target):  # a tie on recall broken by false_pos, a count the notebook's rows have
    meeting = [r for r in rows if _meets(r, target)]
    return max(meeting, key=lambda r: (r["recall"], -r["false_pos"]))["threshold"] if meeting else None


def test_a_tie_broken_by_the_fewest_false_alarms_passes_too(notebook_sweep):
    assert check.choose_threshold(fewest_false_alarms, notebook_sweep, min_precision=0.9)


def test_rows_that_tie_on_recall_and_false_alarms_are_both_right(notebook_sweep):
    """The notebook's rule breaks a tie on recall by the fewest false alarms: where two rows also
    tie on those, either threshold is right (a target of 0.91 makes such a tie on this sweep)."""
    meets = [r for r in notebook_sweep if _meets(r, 0.91)]
    best = max(r["recall"] for r in meets)
    fewest = min(r["false_pos"] for r in meets if r["recall"] == best)
    tied = sorted(r["threshold"] for r in meets if r["recall"] == best and r["false_pos"] == fewest)
    assert len(tied) > 1, "this sweep should hold a tie at 0.91"
    for threshold in tied:
        assert check.choose_threshold(lambda rows, target, t=threshold: t if target == 0.91 else
                                      solution.choose_threshold(rows, target), notebook_sweep, min_precision=0.91)


def test_the_checks_own_answers_are_the_solutions():
    for name, target, rows, right in check.THRESHOLD_CASES:
        assert solution.choose_threshold(rows, target) == right, name
    answers = [right for *_, right in check.THRESHOLD_CASES]
    assert None in answers  # one sweep where no threshold meets the target
    first_case = check.THRESHOLD_CASES[0][2]
    assert answers[0] not in (first_case[0]["threshold"], first_case[-1]["threshold"])  # neither end


def test_the_notebook_sweep_tells_the_tie_rule_apart(notebook_sweep):
    """On section 4's own sweep, several thresholds catch every overheat: the answer is the
    highest of them, not the lowest that meets the target."""
    assert solution.choose_threshold(notebook_sweep, 0.8) != lowest_meeting(notebook_sweep, 0.8)


@pytest.mark.parametrize("mistake, words", [
    (best_f1, ("two rows share the best recall", "the row at 110 has precision 0.88, below the target 0.9")),
    (lowest_meeting, ("two rows share the best recall", "the same recall as the row at 115 and fewer false alarms")),
    (first_meeting, ("the same recall", "and fewer false alarms")),
    (highest_meeting, ("section 4's sweep", "has a higher recall")),
    (best_f1_meeting, ("in no order", "has a higher recall than the row at 118")),
    (strictly_above, ("has a higher recall",)),
    (none_meets, ("no row reaches the target", "the row at 135 flagged nothing (precision None)")),
    (ties_low, ("the same recall as the row at 115 and fewer false alarms",)),
    (none_compared, ("your code raised TypeError",)),
    (empty_max, ("no row reaches the target", "your code raised ValueError")),
    (the_row, ("you returned a dict", "expected a number")),
    (lambda rows, target: None, ("returned None", "forget `return`")),
    (lambda rows, target: 120.0, ("has a higher recall than the row at 120",)),  # the rule's limit, always
    (lambda rows, target: 117.2, ("117.2 is not the threshold of any row",)),
    (lambda rows, target: str(rows[0]["threshold"]), ("you returned a string", "expected a number")),
])
def test_each_classic_mistake_is_rejected(capsys, notebook_sweep, mistake, words):
    _rejected(capsys, check.choose_threshold(mistake, notebook_sweep, min_precision=0.9), *words)


def test_the_stub_is_not_attempted(capsys, notebook_sweep):
    def choose_threshold(rows, min_precision):
        raise NotImplementedError

    assert check.choose_threshold(choose_threshold, notebook_sweep, min_precision=0.9) is False
    assert capsys.readouterr().out.startswith("⏳ 05.2")


def test_the_students_function_may_change_its_rows(notebook_sweep):
    """Each call gets its own copy: sorting or annotating the rows is no mistake."""
    def sorting(rows, min_precision):
        rows.sort(key=lambda r: r["threshold"], reverse=True)
        for r in rows:
            r["seen"] = True
        return solution.choose_threshold(rows, min_precision)

    before = [dict(r) for r in notebook_sweep]
    assert check.choose_threshold(sorting, notebook_sweep, min_precision=0.9)
    assert notebook_sweep == before


def test_the_hint_is_there(capsys):
    exercises.hint("05.2")
    out = capsys.readouterr().out
    assert out.startswith("💡 05.2 ") and "None" in out


# --- the contract, on random sweeps ------------------------------------------------------------


def _random_sweep(rng):
    """Thresholds in a random order; recall falls as the threshold rises, precision wanders up
    with dips, and the highest thresholds may flag nothing (precision None, recall 0)."""
    thresholds = sorted(rng.sample(range(100, 140), rng.randint(1, 12)))
    rows, recall, precision = [], 1.0, rng.uniform(0.5, 0.9)
    for t in thresholds:
        recall = round(max(0.0, recall - rng.choice([0.0, 0.0, 0.05, 0.1, 0.2])), 3)
        precision = min(1.0, max(0.0, precision + rng.uniform(-0.05, 0.1)))
        rows.append({"threshold": float(t), "precision": round(precision, 2) if recall else None, "recall": recall})
    rng.shuffle(rows)
    return rows


@pytest.mark.parametrize("seed", range(200))
def test_the_solution_keeps_the_contract(seed):
    rng = random.Random(seed)
    rows, target = _random_sweep(rng), rng.choice([0.6, 0.8, 0.9, 0.95])
    meeting = [r for r in rows if r["precision"] is not None and r["precision"] >= target]
    chosen = solution.choose_threshold(rows, target)
    if not meeting:
        assert chosen is None
        return
    [row] = [r for r in meeting if r["threshold"] == chosen]
    assert all(r["recall"] < row["recall"] or (r["recall"] == row["recall"] and r["threshold"] <= chosen)
               for r in meeting)
