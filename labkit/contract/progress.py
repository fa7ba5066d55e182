"""The class-progress record: one check's verdict, as the checks send it and the instructor's
tools read it (pure: no Kafka here).

In a student's corner of a class's stack, each verdict a check prints is sent to the topic
`lab.progress.v1`, keyed by the student, as JSON (labkit.teach.gradebook):

    {"student": "ann", "exercise": "02.3", "status": "passed", "at": "2026-12-04T10:15:02+00:00"}

`status` is "passed", "failed" or "not attempted" (the student ran the check with the stub
untouched: they reached the exercise). Never the student's code or answer.

On a class's secured broker each student writes to a topic of their own instead,
`lab.progress.v1.ann` (`student_topic`), which only they may write (labkit.teach.roster): a
verdict read from it is ann's, and one in it that names another student is not counted. It
ties a verdict to who signed in, not to honest work: a check runs in the student's own kernel.
`summarize` turns a topic's verdicts into where each student stands on each exercise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from labkit.config import STUDENT_TAG

PROGRESS_TOPIC = "lab.progress.v1"
PASSED, FAILED, NOT_ATTEMPTED = "passed", "failed", "not attempted"

# An exercise's name starts with its notebook and number: "02.3 commit after the write".
_EXERCISE = re.compile(r"(\d{2})\.(\d+)\b")


def exercise_number(name: str) -> str | None:
    """"02.3" for "02.3 commit after the write" (and for "02.3 (case 2)"); None for a name
    without a number, such as a prediction's."""
    found = _EXERCISE.match(str(name).strip())
    return f"{found[1]}.{found[2]}" if found else None


@dataclass(frozen=True)
class Verdict:
    """One check's verdict, as recorded: a student, an exercise, passed/failed/not attempted, when."""

    student: str
    exercise: str  # "02.3"
    status: str  # PASSED, FAILED or NOT_ATTEMPTED
    at: str  # ISO 8601, UTC

    @property
    def notebook(self) -> str:
        return self.exercise.split(".")[0]

    @classmethod
    def now(cls, student: str, name: str, status: str) -> Verdict:
        """The verdict on exercise `name` (its number is taken from the start of the name)."""
        number = exercise_number(name)
        if number is None:
            raise ValueError(f"{name!r} does not start with an exercise number such as 02.3")
        return cls(student, number, status, datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, value: bytes | None) -> Verdict:
        """Raises ValueError for a record that is not a verdict."""
        try:
            fields = json.loads(value)
            verdict = cls(str(fields["student"]), str(fields["exercise"]), str(fields["status"]), str(fields["at"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a verdict: {(value or b'')[:80]!r}") from exc
        # Checked here, so that one odd record cannot break every reader (summarize sorts by number).
        if not _EXERCISE.fullmatch(verdict.exercise) or verdict.status not in (PASSED, FAILED, NOT_ATTEMPTED):
            raise ValueError(f"not a verdict: {(value or b'')[:80]!r}")
        return verdict


def student_topic(tag: str) -> str:
    """Student `tag`'s own progress topic on a class's secured broker: `lab.progress.v1.ann`."""
    return f"{PROGRESS_TOPIC}.{tag}"


def topic_student(topic: str) -> str | None:
    """The student whose own progress topic `topic` is ("ann" for `lab.progress.v1.ann`), else None."""
    prefix = f"{PROGRESS_TOPIC}."
    return topic[len(prefix):] or None if topic.startswith(prefix) else None


def progress_topics(topics: Iterable[str]) -> list[str]:
    """Among `topics`, the class's progress topics: `lab.progress.v1` and the students' own."""
    return sorted(t for t in topics if t == PROGRESS_TOPIC or STUDENT_TAG.fullmatch(topic_student(t) or ""))


def parse(values: Iterable[bytes | None], student: str | None = None) -> tuple[list[Verdict], int]:
    """The verdicts among a topic's record values, in order, and how many records were not
    verdicts. With `student` (the topic is theirs), a verdict naming anyone else is not counted."""
    verdicts, unreadable = [], 0
    for value in values:
        try:
            verdict = Verdict.from_bytes(value)
        except ValueError:
            unreadable += 1
            continue
        if student is not None and verdict.student != student:
            unreadable += 1
        else:
            verdicts.append(verdict)
    return verdicts, unreadable


@dataclass(frozen=True)
class Standing:
    """Where one student stands on one exercise, from all their verdicts on it."""

    student: str
    exercise: str
    status: str  # the latest verdict: passed, failed or not attempted
    passed_once: bool  # passed at least once (a later run may have broken it again)
    attempts: int  # verdicts other than "not attempted"
    first_at: str
    last_at: str


def summarize(verdicts: Iterable[Verdict]) -> list[Standing]:
    """One Standing per (student, exercise) that has a verdict, sorted by student then exercise;
    verdicts are taken in the order given (a topic's order; labkit.ops.verdicts gives them oldest first)."""
    seen: dict[tuple[str, str], list[Verdict]] = {}
    for v in verdicts:
        seen.setdefault((v.student, v.exercise), []).append(v)
    rows = []
    for (student, exercise), vs in sorted(seen.items(), key=lambda kv: (kv[0][0], exercise_key(kv[0][1]))):
        rows.append(Standing(student, exercise, vs[-1].status, any(v.status == PASSED for v in vs),
                             sum(v.status != NOT_ATTEMPTED for v in vs), vs[0].at, vs[-1].at))
    return rows


def exercise_key(exercise: str) -> tuple[int, int]:
    """Sort key: 02.3 before 10.1 (by number, not as text)."""
    notebook, _, number = exercise.partition(".")
    return int(notebook), int(number)
