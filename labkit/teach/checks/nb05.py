"""Checks for notebook 05's exercise (detection)."""

from __future__ import annotations

from labkit.teach import exercises

THRESHOLD = "05.1 choose a threshold"

HINTS = exercises.register_hints({
    THRESHOLD: "filter, then choose: a threshold whose precision misses the target (or is None: it flagged "
               "nothing) is out. Among the rest, ask what the goal asks for, and what a higher threshold with "
               "the same recall costs or saves. When none is left, say so with None",
})


#: What 05.1 returns: one of the rows' thresholds (None only when no row meets the target).
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


#: 05.1's own sweeps: (what the case is, min_precision, rows, the right answer). Each is made to
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
    """05.1's answer for the notebook's sweep, computed as the exercise asks."""
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
    """05.1: the student's threshold for section 4's sweep and for each of THRESHOLD_CASES (each
    call gets its own copy of the rows). The first case answered wrongly is reported with the
    rule it breaks (below the target, a better recall elsewhere, a higher threshold with the
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
        answers[name], expected[name] = answer, right
    return exercises.check(THRESHOLD, answers, expected)
