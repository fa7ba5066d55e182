"""A class on one stack, the pure parts: student tags, each student's names, verdicts and the
progress table built from them (no services)."""

import csv

import pytest

from labkit.config import Settings, student_tag
from labkit.ops import sandbox
from labkit.ops.infra.topics import scratch_topic
from labkit.teach import classroom, exercises, gradebook
from labkit.teach.gradebook import FAILED, NOT_ATTEMPTED, PASSED, Verdict

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("login, tag", [
    ("ann", "ann"), ("Ann.Lee@uni.edu", "ann-lee-uni-edu"), ("__bob__", "bob"),
    ("labrador", "s-labrador"), ("Car", "s-car"), ("cart", "cart"), ("x" * 40, "x" * 24), ("é", ""),
])
def test_a_login_becomes_a_tag(login, tag):
    assert student_tag(login) == tag


def test_the_student_comes_from_lab_student_else_from_jupyterhub():
    assert Settings.from_env({}, dotenv=None).student == ""
    assert Settings.from_env({"JUPYTERHUB_USER": "Ann.Lee"}).student == "ann-lee"
    assert Settings.from_env({"JUPYTERHUB_USER": "Ann.Lee", "LAB_STUDENT": "ann"}).student == "ann"


def test_a_connection_files_student_wins_over_the_hubs_login(tmp_path):
    (tmp_path / ".env").write_text("LAB_STUDENT=ann-lee\n")
    assert Settings.from_env({"JUPYTERHUB_USER": "alee"}, dotenv=tmp_path / ".env").student == "ann-lee"
    assert Settings.from_env({"JUPYTERHUB_USER": "alee"}, dotenv=tmp_path / "none").student == "alee"


@pytest.mark.parametrize("bad", ["Ann", "ann.lee", "ann_lee", "lab02", "-ann", "a" * 25, "car"])
def test_a_student_tag_that_could_reach_into_other_names_is_refused(bad):
    with pytest.raises(ValueError, match="LAB_STUDENT"):
        Settings.from_env({"LAB_STUDENT": bad})


def test_each_student_has_names_of_their_own():
    alone, ann, annb = (Settings(student=s) for s in ("", "ann", "ann-b"))
    assert sandbox.names(alone, "02").topics.telemetry == "lab02.car.telemetry.v1"
    assert sandbox.names(ann, "02").topics.telemetry == "ann.lab02.car.telemetry.v1"
    assert sandbox.names(ann, "02").mongodb_db == "ann_lab02_telemetry"
    assert scratch_topic(alone) == "lab.scratch.v1" and scratch_topic(ann) == "ann.lab.scratch.v1"
    # No corner's prefix is the start of another's names: opening one never empties another.
    everyone = {s: (sandbox.kafka_prefix(s, "09"), sandbox.database_prefix(s, "09")) for s in (alone, ann, annb)}
    names = {s: (sandbox.names(s, "09").topics.telemetry, sandbox.names(s, "09").mongodb_db) for s in everyone}
    for owner, (kafka, db) in everyone.items():
        for other, (topic, database) in names.items():
            assert topic.startswith(kafka) == (other is owner)
            assert database.startswith(db) == (other is owner)


def test_a_sandboxs_settings_pass_to_a_child_process_of_the_student():
    """Notebook 09's workers are processes handed the sandbox's settings (`as_env`): its topics
    start with the tag and are the corner's own, not shared names taken into it."""
    for name in ("09", "chaos"):
        box = sandbox.names(Settings(student="ann"), name)
        assert Settings.from_env(box.as_env(), dotenv=None) == box
    with pytest.raises(ValueError, match="part of the student's corner"):
        Settings.from_env({"LAB_STUDENT": "ann", "TOPIC_TELEMETRY": "ann.telemetry"}, dotenv=None)


def test_an_empty_prefix_is_refused_before_anything_is_deleted():
    with pytest.raises(ValueError, match="whole stack"):
        sandbox.empty(Settings(), "", "lab02_")


def test_a_verdict_names_its_exercise_and_travels_as_json():
    v = Verdict.now("ann", "02.3 commit after the write (case 2)", PASSED)
    assert (v.exercise, v.notebook) == ("02.3", "02")
    assert Verdict.from_bytes(v.to_bytes()) == v
    assert gradebook.exercise_number("reason for speed=true") is None
    with pytest.raises(ValueError):
        Verdict.from_bytes(b'{"student": "ann"}')


@pytest.mark.parametrize("record", [
    None, b"", b'{"student": "ann", "exercise": "zz", "status": "passed", "at": "t"}',
    b'{"student": "ann", "exercise": "02.3", "status": "done", "at": "t"}',
])
def test_a_record_that_is_not_a_verdict_is_counted_not_read(record):
    from labkit.contract import progress

    good = Verdict("ann", "02.3", PASSED, "t").to_bytes()
    assert progress.parse([record, good]) == ([Verdict("ann", "02.3", PASSED, "t")], 1)


def test_a_students_own_progress_topic_counts_only_their_verdicts():
    from labkit.contract import progress

    assert progress.student_topic("ann-lee") == "lab.progress.v1.ann-lee"
    assert [progress.topic_student(t) for t in ("lab.progress.v1.ann-lee", "lab.progress.v1", "lab.progress.v1.",
                                                 "ann.lab02.x")] == ["ann-lee", None, None, None]
    own, forged = Verdict("ann", "02.3", PASSED, "t"), Verdict("bob", "02.3", PASSED, "t")
    assert progress.parse([own.to_bytes(), forged.to_bytes()], student="ann") == ([own], 1)
    assert progress.parse([own.to_bytes(), forged.to_bytes()]) == ([own, forged], 0)
    names = ["lab.progress.v1", "lab.progress.v1.ann", "lab.progress.v1.Not_A_Tag", "lab.progress.v2", "ann.lab02.x"]
    assert progress.progress_topics(names) == ["lab.progress.v1", "lab.progress.v1.ann"]


def test_a_check_records_its_verdict_and_nothing_without_a_student(monkeypatch):
    recorded = []
    monkeypatch.setattr(gradebook, "record", lambda name, status: recorded.append((name, status)))
    exercises.check("00.1 partitions", 4, 4)
    exercises.check("00.1 partitions", 3, 4)
    exercises.check("00.1 partitions", exercises.NOT_ATTEMPTED, 4)
    exercises.wrong("02.3 commit after the write", "the store came after the commit")
    assert recorded == [("00.1 partitions", PASSED), ("00.1 partitions", FAILED),
                        ("00.1 partitions", NOT_ATTEMPTED), ("02.3 commit after the write", FAILED)]
    assert gradebook.Recorder(Settings()).record("00.1 partitions", PASSED) is False  # no student: no call


def _v(student, exercise, status, at):
    return Verdict(student, exercise, status, f"2026-12-04T10:{at:02d}:00+00:00")


def test_progress_is_the_latest_verdict_with_its_history():
    verdicts = [_v("bob", "02.3", NOT_ATTEMPTED, 0), _v("ann", "10.1", FAILED, 1), _v("ann", "02.3", FAILED, 2),
                _v("ann", "02.3", PASSED, 3), _v("bob", "02.3", FAILED, 4), _v("ann", "10.1", PASSED, 5),
                _v("ann", "10.1", FAILED, 6)]
    rows = {(r.student, r.exercise): r for r in classroom.summarize(verdicts)}
    assert list(rows) == [("ann", "02.3"), ("ann", "10.1"), ("bob", "02.3")]  # 02 before 10, by number
    assert (rows["ann", "02.3"].status, rows["ann", "02.3"].passed_once, rows["ann", "02.3"].attempts) == (PASSED, True, 2)
    assert (rows["ann", "10.1"].status, rows["ann", "10.1"].passed_once) == (FAILED, True)  # broken again later
    assert (rows["bob", "02.3"].attempts, rows["bob", "02.3"].first_at[11:16]) == (1, "10:00")
    table = classroom.grid(list(rows.values())).splitlines()
    assert table[0].split() == ["student", "02.3", "10.1", "passing"]
    assert table[1].split() == ["ann", "✔", "✘", "1/2"] and table[2].split() == ["bob", "✘", "0/2"]


def test_the_gradebook_csv_has_a_line_per_student_and_exercise(tmp_path):
    rows = classroom.summarize([_v("ann", "00.1", PASSED, 0), _v("bob", "00.1", FAILED, 1)])
    classroom.write_csv(rows, tmp_path / "grades.csv")
    with open(tmp_path / "grades.csv", encoding="utf-8") as f:
        lines = list(csv.DictReader(f))
    assert [(r["student"], r["exercise"], r["status"], r["attempts"]) for r in lines] == [
        ("ann", "00.1", "passed", "1"), ("bob", "00.1", "failed", "1")]


def test_the_students_copy_leaves_out_the_solutions_and_their_pointers():
    files = ["labkit/teach/solutions/nb03.py", "labkit/teach/checks/nb03.py", "tests/unit/test_x.py", "README.md"]
    assert classroom.for_students(files) == ["README.md", "labkit/teach/checks/nb03.py"]
    notebook = {"cells": [
        {"cell_type": "markdown", "source": ["**Exercise 03.3.** Write it.\n",
                                             "Solutions: `from labkit.teach.solutions import nb03`, then `nb03??` (try first!).\n",
                                             "Then run the check.\n"]},
        {"cell_type": "code", "source": ["x = 1\n"]}]}
    stripped = classroom.without_solution_pointers(notebook)
    assert stripped["cells"][0]["source"] == ["**Exercise 03.3.** Write it.\n", "Then run the check.\n"]
    assert stripped["cells"][1] == notebook["cells"][1]


def test_corner_tags_are_the_students_and_never_the_labs_own_names():
    names = ["ann.lab02.car.telemetry.v1", "ann-lee_lab06_telemetry", "bob.lab11.brokers", "car.telemetry.v1",
             "lab.progress.v1", "lab02.car.telemetry.v1", "lab02_telemetry", "labkit_test_1a2b", "labkit.test.x.y",
             "s-car.lab00.scratch", "orders.labels.v1", "orders.lab.v1", "ann.labx.y"]
    assert classroom.corner_tags(names) == {"ann", "ann-lee", "bob", "s-car"}
