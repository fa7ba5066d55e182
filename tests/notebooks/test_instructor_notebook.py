"""The instructor's notebook draws the class's progress from the verdicts the students' checks
recorded (real Kafka; the notebook run by papermill, as `make lab` runs the students')."""

import csv
import uuid

import nbformat
import pytest

from labkit.teach import classroom, gradebook, notebook_runner
from labkit.teach.gradebook import FAILED, NOT_ATTEMPTED, PASSED

pytestmark = pytest.mark.notebook

NOTEBOOK = notebook_runner.NOTEBOOK_DIR / "instructor" / "class_progress.ipynb"


@pytest.mark.timeout(300)
def test_the_instructors_notebook_shows_each_students_verdicts(services, tmp_path):
    classroom.ensure_progress_topic(services)
    run = uuid.uuid4().hex[:6]
    ann, bob = f"ann{run}", f"bob{run}"
    for student, exercise, status in [(ann, "02.3 commit", FAILED), (ann, "02.3 commit", PASSED),
                                      (bob, "02.3 commit", FAILED), (bob, "02.3 commit", FAILED),
                                      (bob, "02.3 commit", FAILED), (bob, "03.1 subscribe", NOT_ATTEMPTED)]:
        assert gradebook.Recorder(services.replace(student=student)).record(exercise, status)
    gradebook_csv = tmp_path / "grades.csv"
    result = notebook_runner.run_notebook(NOTEBOOK, tmp_path, parameters={
        "students": [ann, bob], "csv_path": str(gradebook_csv)})
    assert result.status == "ok", result.error
    with gradebook_csv.open() as f:
        rows = {(r["student"], r["exercise"]): r for r in csv.DictReader(f)}
    assert {k: (r["status"], r["passed_once"], r["attempts"]) for k, r in rows.items()} == {
        (ann, "02.3"): (PASSED, "True", "2"), (bob, "02.3"): (FAILED, "False", "3"),
        (bob, "03.1"): (NOT_ATTEMPTED, "False", "0")}
    text = "\n".join(o.get("text", "") for c in nbformat.read(tmp_path / NOTEBOOK.name, as_version=4).cells
                     for o in c.get("outputs", []) if o.get("output_type") == "stream")
    assert "6 verdicts, 2 students, 2 exercises" in text
    # Bob failed 02.3 three times: the notebook lists him as stuck, and not Ann.
    assert "1 student-exercise pairs failing after 3+ attempts" in text
