"""A class on one stack: students' corners never touch each other, and their checks' verdicts
reach the instructor's table (real Kafka and MongoDB)."""

import uuid

import pytest
from fastapi.testclient import TestClient

from labkit.api import create_app
from labkit.ops import clients, sandbox
from labkit.teach import classroom, exercises, gradebook
from labkit.teach.gradebook import FAILED, PASSED

pytestmark = pytest.mark.integration


def _leftovers(settings, kafka_prefix, db_prefix):
    admin = clients.kafka_admin(settings)
    mongo = clients.mongo_client(settings)
    try:
        return ([t for t in admin.list_topics() if t.startswith(kafka_prefix)],
                [d for d in mongo.list_database_names() if d.startswith(db_prefix)])
    finally:
        admin.close()
        mongo.close()


@pytest.mark.timeout(240)
def test_opening_a_students_sandbox_empties_only_their_corner(services):
    run = uuid.uuid4().hex[:6]
    name = f"t{run}"  # a sandbox of this test's own: the notebooks' lab02... may be running meanwhile
    ann, bob, alone = (services.replace(student=s) for s in (f"ann{run}", f"bob{run}", ""))
    boxes = {}
    try:
        for who in (ann, bob, alone):
            box = sandbox.open(who, name)
            box.topic("extra")
            client = clients.mongo_client(box.settings)
            client[box.settings.mongodb_db]["kept"].insert_one({"owner": who.student or "nobody"})
            client.close()
            boxes[who.student] = box
        # Each opened after the one before, which kept its topics and documents:
        for box in boxes.values():
            topics, dbs = _leftovers(services, box.prefix, box.database_prefix)
            assert f"{box.prefix}extra" in topics and box.settings.topics.telemetry in topics
            assert dbs == [box.settings.mongodb_db]
        # The instructor resets ann: bob's corner and the unnamed one stay.
        classroom.reset_student(services, ann.student)
        assert _leftovers(services, f"{ann.student}.", f"{ann.student}_") == ([], [])
        for who in (bob, alone):
            box = boxes[who.student]
            assert f"{box.prefix}extra" in _leftovers(services, box.prefix, box.database_prefix)[0]
    finally:
        classroom.reset_student(services, bob.student)
        classroom.reset_student(services, ann.student)
        sandbox.empty(services, sandbox.kafka_prefix(alone, name), sandbox.database_prefix(alone, name))


@pytest.mark.timeout(120)
def test_a_students_verdicts_reach_the_progress_table(services, capsys):
    student = f"st{uuid.uuid4().hex[:6]}"
    classroom.ensure_progress_topic(services)
    gradebook.use(services.replace(student=student))
    try:
        exercises.check("00.1 partitions", 4, 4)
        exercises.check("00.1 partitions", 3, 4)
        exercises.check("02.3 commit after the write", exercises.NOT_ATTEMPTED, 1)
    finally:
        gradebook.use(None)
    assert "not being recorded" not in capsys.readouterr().out
    verdicts, _ = classroom.read_verdicts(services)
    mine = [v for v in verdicts if v.student == student]
    assert [(v.exercise, v.status) for v in mine] == [("00.1", PASSED), ("00.1", FAILED), ("02.3", "not attempted")]
    rows = {r.exercise: r for r in classroom.summarize(mine)}
    assert (rows["00.1"].status, rows["00.1"].passed_once, rows["00.1"].attempts) == (FAILED, True, 2)
    assert rows["02.3"].attempts == 0
    table = classroom.grid(list(rows.values()))
    assert table.splitlines()[1].split() == [student, "✘", "·", "0/2"]
    # The API serves the same to the instructor's board.
    with TestClient(create_app(services)) as api:
        served = api.get("/class/progress", params={"student": student}).json()
        assert [(r["exercise"], r["status"], r["attempts"]) for r in served] == [("00.1", FAILED, 2), ("02.3", "not attempted", 0)]
        row = next(r for r in api.get("/class/students").json() if r["student"] == student)
        assert (row["passing"], row["tried"], row["reached"], row["notebook"]) == (0, 1, 2, "02")
    with TestClient(create_app(services.replace(kafka_bootstrap_servers="localhost:1"))) as api:
        down = api.get("/class/students")
        assert down.status_code == 503 and "make infra-up" in down.text


# One bounded wait (gradebook.SEND_TIMEOUT_S, 5 s); kafka-python's own bootstrap wait (30 s) fails it.
@pytest.mark.timeout(20)
def test_a_stack_that_does_not_answer_costs_one_line_and_never_raises(settings, capsys):
    recorder = gradebook.Recorder(settings.replace(student="ann", kafka_bootstrap_servers="localhost:1"))
    assert recorder.record("00.1 partitions", PASSED) is False
    assert recorder.record("00.1 partitions", PASSED) is False  # off after the first failure: no second wait
    assert capsys.readouterr().out.count("not being recorded") == 1


@pytest.mark.timeout(60)
def test_a_students_own_stack_without_the_progress_topic_records_nothing_and_says_nothing(services, capsys, monkeypatch):
    monkeypatch.setattr(gradebook, "PROGRESS_TOPIC", f"lab.progress.absent-{uuid.uuid4().hex[:6]}")
    recorder = gradebook.Recorder(services.replace(student="ann"))
    assert recorder.record("00.1 partitions", PASSED) is False and recorder.enabled is False
    assert capsys.readouterr().out == ""
