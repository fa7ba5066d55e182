"""Checks for notebook 05's exercise (detection)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from labkit import contract
from labkit.process.detectors import AnomalyDetector
from labkit.scenarios.evaluation import readings_by_car
from labkit.teach import exercises

STUCK = "05.1 a stuck sensor, by hand"
THRESHOLD = "05.2 choose a threshold"

HINTS = exercises.register_hints({
    STUCK: "keep, per field, the last value and how many readings in a row had it (a new value restarts at 1); "
           "update all three at every reading. Flag a reading once if any run is long enough. Only speed held "
           "at 0 is excused: an rpm or engine_temp frozen meanwhile counts",
    THRESHOLD: "filter, then choose: a threshold whose precision misses the target (or is None: it flagged "
               "nothing) is out. Among the rest, ask what the goal asks for, and what a higher threshold with "
               "the same recall costs or saves. When none is left, say so with None",
})


#: What 05.2 returns: one of the rows' thresholds (None only when no row meets the target).
A_THRESHOLD = exercises.of_type(float, what="a number (the threshold of the row you choose)")


def _row(threshold: float, precision: float | None, recall: float, injected: int = 100) -> dict:
    """A sweep row as `labkit.scenarios.tuning.sweep` makes them, with counts that agree with
    `precision` and `recall` (to rounding) for `injected` real overheats, so that an answer
    that breaks a tie by the fewest false alarms (`false_pos`) works as it does on the
    notebook's rows."""
    true_pos = round(injected * recall)
    flagged = round(true_pos / precision) if precision else 0
    f1 = round(2 * precision * recall / (precision + recall), 3) if precision and recall else 0.0
    return {"threshold": threshold, "injected": injected, "flagged": flagged, "true_pos": true_pos,
            "false_pos": flagged - true_pos, "missed": injected - true_pos,
            "precision": precision, "recall": recall, "f1": f1}


#: 05.2's own sweeps: (what the case is, min_precision, rows, the right answer). Each is made to
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
    """05.2's answer for the notebook's sweep, computed as the exercise asks."""
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
    if any(r["recall"] == row["recall"] and _fewer_false_alarms(r, row) for r in meets):
        return (f"another row meets the target with the same recall as the row at {row['threshold']:g} and "
                "fewer false alarms: it catches the same overheats for less noise")
    return None


def _fewer_false_alarms(row: dict, than: dict) -> bool:
    """Whether `row` raises fewer false alarms than `than`: by their `false_pos` counts when both
    rows have them (rows that tie on it are equally good), else by the threshold (on one sweep,
    a higher threshold never flags more)."""
    if "false_pos" in row and "false_pos" in than:
        return row["false_pos"] < than["false_pos"]
    return row["threshold"] > than["threshold"]


@exercises.graded(THRESHOLD)
def choose_threshold(func, sweep_rows: list[dict], min_precision: float = 0.95) -> bool:
    """05.2: the student's threshold for section 4's sweep and for each of THRESHOLD_CASES (each
    call gets its own copy of the rows). The first case answered wrongly is reported with the
    rule it breaks (below the target, a better recall elsewhere, fewer false alarms with the
    same recall, a row that flagged nothing, not a row's threshold). The cases reject the
    classic mistakes: the best F1 instead of the target, the lowest threshold that meets the
    target instead of the best recall, rows with no precision, `>` for "at least", the order
    the rows come in, and an answer where no row meets the target."""
    cases = [(f"section 4's sweep (target {min_precision:g})", min_precision, sweep_rows,
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
        # Rows that tie on recall and false alarms are equally right: the rules above decide.
        answers[name], expected[name] = answer, answer if answer is not None else right
    return exercises.check(THRESHOLD, answers, expected)


# --------------------------------------------------------------------------- 05.1


#: What 05.1 returns: the flagged readings' event ids, in the order of the readings.
EVENT_IDS = exercises.list_of(exercises.of_type(str, what="an event id"), what="a list of event ids")


def _readings(values: list[tuple[float, int, float]], prefix: str) -> list[dict]:
    """One car's readings from (speed, rpm, engine_temp) triples, ids `prefix-0`, `prefix-1`, ..."""
    return [{"event_id": f"{prefix}-{i}", "speed": sp, "rpm": rpm, "engine_temp": temp}
            for i, (sp, rpm, temp) in enumerate(values)]


def _edge_cases() -> list[tuple[str, list[dict], int]]:
    """(what the case is, one car's readings, repeats). Each catches a mistake."""
    moving = [(50.0 + i, 2000 + i, 90.0 + i / 10) for i in range(12)]  # nothing repeats
    def frozen_rpm(n):  # rpm frozen for n readings from the 3rd on
        return [(sp, 1700 if 2 <= i < 2 + n else rpm, t) for i, (sp, rpm, t) in enumerate(moving)]
    return [
        ("rpm frozen for repeats - 1 readings", _readings(frozen_rpm(3), "short"), 4),       # `>` vs `>=`, off by one
        ("rpm frozen for exactly repeats readings", _readings(frozen_rpm(4), "exact"), 4),  # flags the 4th only
        ("rpm frozen for longer", _readings(frozen_rpm(7), "long"), 4),                     # every reading from the 4th
        ("a car standing still (speed 0)", _readings([(0.0, 2000 + i, 90.0 + i / 10) for i in range(10)], "parked"), 4),
        ("rpm frozen while the car stands still",
         _readings([(0.0, 800, 90.0 + i / 10) for i in range(6)], "idle"), 4),             # speed 0 excuses speed only
        ("two sensors frozen together", _readings([(60.0, 1800, 95.5)] * 5, "both"), 3),    # one flag per reading
        ("rpm frozen on after a frozen speed was flagged",                                  # stop counting at the first
         _readings([(60.0 if i < 5 else 60.0 + i, 1700 if 2 <= i < 7 else 1500 + i, 90.0 + i / 10)  # stuck field
                    for i in range(9)], "after"), 4),
        ("a value that comes back after another",
         _readings([(50.0, 1500, 90.0), (50.0, 1500, 90.1), (51.0, 1501, 90.2), (50.0, 1500, 90.3), (50.0, 1500, 90.4),
                    (50.0, 1500, 90.5)], "back"), 3),                                      # the count starts again
    ]


def _lab_flags(readings: list[dict], repeats: int) -> list[str]:
    """The lab's detector on one car's readings in order (one a second, everything else still):
    the event ids it flags as sensor_stuck."""
    detector = AnomalyDetector(stuck_repeats=repeats)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    flagged = []
    for i, r in enumerate(readings):
        event = {**r, "car_id": "CAR_CHECK", "timestamp": start + timedelta(seconds=i), "fuel_level": 50.0,
                 "latitude": 52.5, "longitude": 13.4}
        if any(a.type == "sensor_stuck" for a in detector.detect(event)):
            flagged.append(r["event_id"])
    return flagged


@exercises.graded(STUCK)
def stuck_events(func, batch) -> bool:
    """05.1: the student's `func(readings, repeats)` flags what the lab's detector flags as
    sensor_stuck, on each car of the notebook's batch (repeats = contract.STUCK_REPEATS) and on
    edge cases of the check's own with other repeats (a run one short, exactly long enough,
    longer; a car standing still; rpm frozen at speed 0; two sensors frozen together; a value
    that comes back). Each call gets its own copy of the readings."""
    cases = _edge_cases() + [(f"{car} of the notebook's batch", rows, contract.STUCK_REPEATS)
                             for car, rows in sorted(readings_by_car(batch).items())]
    answers, expected = {}, {}
    for name, rows, repeats in cases:
        answer = exercises.attempt(func, [dict(r) for r in rows], repeats)
        if not exercises.expect_type(STUCK, answer, EVENT_IDS, case=f"for {name}"):
            return False
        answers[name], expected[name] = list(answer), _lab_flags(rows, repeats)
        if answers[name] != expected[name]:
            missing = [e for e in expected[name] if e not in answers[name]]
            extra = [e for e in answers[name] if e not in expected[name]]
            said = []
            if missing:
                said.append(f"you leave out {len(missing)} reading(s) the lab flags, the first {missing[0]}")
            if extra:
                said.append(f"you flag {len(extra)} reading(s) the lab does not, the first {extra[0]}")
            if not said:
                said.append("the right readings, in another order or more than once")
            return exercises.wrong(STUCK, f"for {name} (repeats={repeats}): " + "; ".join(said))
    return exercises.check(STUCK, answers, expected)
