"""A class on one stack: the instructor's side of the students' corners and their progress.

Each student works in a corner of the shared Kafka and MongoDB (labkit.ops.sandbox: every
name starts with the student's tag), and each check's verdict is recorded in the topic
`lab.progress.v1` (labkit.teach.gradebook). From here the instructor

    python -m labkit class up                  # the progress topic, on a running stack
    python -m labkit class progress [--csv F]  # students by exercises, from the verdicts
    python -m labkit class reset ann           # empty one student's corner
    python -m labkit class dist ../for-students  # the lab without its solutions, for students
    python -m labkit class down --csv final.csv --yes  # the gradebook kept, then every corner,
                                               # student user and the progress topics deleted

`summarize`, `grid`, `corner_tags`, `for_students` and `without_solution_pointers` are pure; the rest talk
to the stack or write files.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from labkit.config import STUDENT_TAG, Settings
from labkit.contract.progress import (
    NOT_ATTEMPTED,
    PASSED,
    PROGRESS_TOPIC,
    Standing,
    exercise_key,
    progress_topics,
    student_topic,
    summarize,  # noqa: F401  (the instructor's tools use it from here)
    topic_student,
)
from labkit.ops.verdicts import read_verdicts  # noqa: F401  (the instructor's tools use it from here)

#: Verdicts are kept for a year: a course is longer than the telemetry topics' week.
PROGRESS_RETENTION_MS = str(365 * 24 * 3600 * 1000)


MARKS = {PASSED: "✔", "failed": "✘", NOT_ATTEMPTED: "·"}


def grid(rows: list[Standing]) -> str:
    """Students down, exercises across: ✔ passed, ✘ tried and not passing, · reached but not
    tried, blank not reached; then each student's count of exercises passing now."""
    if not rows:
        return f"No verdicts yet in {PROGRESS_TOPIC}."
    exercises = sorted({r.exercise for r in rows}, key=exercise_key)
    students = sorted({r.student for r in rows})
    cell = {(r.student, r.exercise): MARKS.get(r.status, "?") for r in rows}
    width = max(len(s) for s in students + ["student"])
    lines = [f"{'student':<{width}}  " + " ".join(f"{e:>5}" for e in exercises) + "  passing"]
    for s in students:
        marks = [cell.get((s, e), "") for e in exercises]
        lines.append(f"{s:<{width}}  " + " ".join(f"{m:>5}" for m in marks) + f"  {marks.count('✔'):>4}/{len(exercises)}")
    return "\n".join(lines)


def write_csv(rows: list[Standing], path: Path) -> None:
    """The gradebook: one line per student and exercise, with every field of Standing."""
    fields = list(Standing.__dataclass_fields__)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)


# --------------------------------------------------------------------------- the stack


def ensure_progress_topic(settings: Settings, students: Iterable[str] = ()) -> None:
    """Create `lab.progress.v1`, and each of `students`' own `lab.progress.v1.<tag>` (a secured
    broker's: labkit.teach.roster), if missing: one partition each, kept a year."""
    from labkit.ops.infra.topics import ensure_topics

    wanted = [PROGRESS_TOPIC, *(student_topic(tag) for tag in students)]
    ensure_topics(settings, dict.fromkeys(wanted, 1), configs={"retention.ms": PROGRESS_RETENTION_MS})


def reset_student(settings: Settings, student: str) -> None:
    """Empty a student's whole corner: every topic and consumer group starting with
    `<student>.`, every database starting with `<student>_`. Their verdicts stay."""
    from labkit.ops import sandbox

    if not STUDENT_TAG.fullmatch(student):
        raise ValueError(f"{student!r} is not a student tag (labkit.config.student_tag makes one)")
    sandbox.empty(settings, f"{student}.", f"{student}_")


#: The start of a name in a student's corner: their tag, then a notebook's sandbox ("ann.lab02.",
#: "ann_lab02_"). Anything else ("orders.labels.v1") is not a corner.
_CORNER = re.compile(r"([a-z0-9][a-z0-9-]{0,23})[._]lab[0-9]{2}[._]")


def corner_tags(names: Iterable[str]) -> set[str]:
    """The student tags that start any of `names` (topics or databases of students' corners).
    The lab's own names (`car.telemetry.v1`, `lab02.…`, `labkit_test_…`) give none."""
    tags = set()
    for name in names:
        match = _CORNER.match(name)
        if match and STUDENT_TAG.fullmatch(match.group(1)):
            tags.add(match.group(1))
    return tags


@dataclass(frozen=True)
class Plan:
    """What `end_class` deletes: each student's corner, their users, the progress topics."""

    students: tuple[str, ...]
    users: tuple[str, ...]
    verdicts: int
    progress_topics: tuple[str, ...]


def plan_end(settings: Settings) -> Plan:
    """Look, delete nothing: the students the class's Kafka knows (a topic of their corner, a
    user that is a student tag, a verdict). Kafka finds them, not a listing of MongoDB's
    databases; `end_class` then drops each one's `<tag>_` databases, on a MongoDB shared with
    other stacks too."""
    from labkit.ops import clients
    from labkit.teach import roster

    admin = clients.kafka_admin(settings)
    try:
        topics = admin.list_topics()
    finally:
        admin.close()
    progress = progress_topics(topics)
    verdicts = read_verdicts(settings)[0] if progress else []
    users = roster.class_users(settings)
    students = ({v.student for v in verdicts if STUDENT_TAG.fullmatch(v.student)} | corner_tags(topics) | set(users)
                | {topic_student(t) for t in progress if t != PROGRESS_TOPIC})
    return Plan(tuple(sorted(students)), tuple(users), len(verdicts), tuple(progress))


def end_class(settings: Settings, plan: Plan, gradebook: Path) -> None:
    """End the class on this stack: the students' users (Kafka's with their ACLs, MongoDB's) go
    first (nobody writes meanwhile), then the gradebook is written (`write_csv`), then every
    student's corner is emptied and the progress topics deleted. The services keep running
    (`make infra-down`)."""
    from labkit.ops import clients
    from labkit.teach import roster

    roster.remove_students(settings, list(plan.users))
    write_csv(summarize(read_verdicts(settings)[0]) if plan.progress_topics else [], gradebook)
    for student in plan.students:
        reset_student(settings, student)
    if plan.progress_topics:
        admin = clients.kafka_admin(settings)
        try:
            admin.delete_topics(list(plan.progress_topics))
        finally:
            admin.close()


# --------------------------------------------------------------------------- the students' copy

#: What a class's copy of the lab leaves out: the solutions, the tests that run them, and the
#: instructor's notebook.
NOT_FOR_STUDENTS = ("labkit/teach/solutions/", "tests/", ".ci/", "notebooks/instructor/")
#: A notebook line that points at the solutions ("Solutions: `from labkit.teach.solutions import
#: nb03`, then `nb03??`").
_SOLUTIONS_LINE = re.compile(r"^Solutions: `[^`]*labkit\.teach\.solutions\b.*\n?", re.MULTILINE)


def for_students(paths: Iterable[str]) -> list[str]:
    """The repository's files (paths relative to its root) that a student's copy holds."""
    return sorted(p for p in paths if not p.startswith(NOT_FOR_STUDENTS))


def without_solution_pointers(notebook: dict) -> dict:
    """`notebook` (its JSON) with every markdown line that points at the solutions removed."""
    cells = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            text = _SOLUTIONS_LINE.sub("", "".join(cell["source"]))
            cell = {**cell, "source": text.splitlines(keepends=True)}
        cells.append(cell)
    return {**notebook, "cells": cells}


def build_student_copy(out: Path) -> int:
    """Write the files of HEAD that students get (`for_students`) to `out`, notebooks without
    their pointers to the solutions; return how many. Needs git (the instructor's clone)."""
    import json
    import subprocess

    from labkit.config import REPO_ROOT

    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty: give a new folder")
    listed = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    files = for_students(listed.splitlines())
    for rel in files:
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        source = REPO_ROOT / rel
        if rel.endswith(".ipynb"):
            notebook = without_solution_pointers(json.loads(source.read_text(encoding="utf-8")))
            target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        else:
            target.write_bytes(source.read_bytes())
            target.chmod(source.stat().st_mode)
    return len(files)
