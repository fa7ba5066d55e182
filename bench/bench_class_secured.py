"""One student's whole lab on a class's secured Kafka and MongoDB: the same numbers as on the open ones?

    python bench/bench_class_secured.py [--record]

Starts a secured one-node Kafka of its own (ports 19492-19493: labkit.ops.infra.local.
secured_properties) and a SecantusDB with --auth (port 19494: labkit.ops.infra.local.
make_admin_user), data in a temporary folder; creates the lab's topics and the progress topic
as the instructor would, adds one student from a roster (`class roster add`: a Kafka user with
ACLs and a MongoDB user allowed only their corner's databases), and runs every notebook as that
student with their connection file's settings (`python -m labkit lab`). Then compares each
notebook's recorded numbers with the committed ones (tests/notebooks/expected_records.json)
and stops both servers. Needs no running services. `--record` appends the table to
bench/results/class.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nbformat
from dotenv import dotenv_values
from report import table

from labkit.config import REPO_ROOT, Settings
from labkit.ops.infra import local
from labkit.ops.infra.cluster import Cluster
from labkit.ops.infra.readiness import mongodb_ready
from labkit.ops.infra.topics import ensure_topics
from labkit.teach import classroom, records, roster

PORT = 19492
MONGO_PORT = 19494
RESULTS = Path(__file__).parent / "results" / "class.md"
EXPECTED = REPO_ROOT / "tests" / "notebooks" / "expected_records.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="append the table to bench/results/class.md")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="labkit-secured-"))
    teacher_password = uuid.uuid4().hex
    cluster = Cluster(home, base_port=PORT, size=1, admin=("teacher", teacher_password))
    teacher = Settings.from_env().replace(kafka_bootstrap_servers=f"localhost:{PORT}", kafka_username="teacher",
                                          kafka_password=teacher_password, mongo_server="secantus",
                                          mongodb_uri=f"mongodb://teacher:{teacher_password}@localhost:{MONGO_PORT}")
    mongo = local.services(teacher)[1]
    cluster.up()
    try:
        local.start(mongo, teacher, home)  # makes the teacher's user, then asks everyone who they are
        local.wait_ready(mongo, home, lambda: mongodb_ready(teacher))
        ensure_topics(teacher, {topic: teacher.telemetry_partitions for topic in teacher.topics.all()})
        classroom.ensure_progress_topic(teacher)
        student = roster.read_roster(f"s{uuid.uuid4().hex[:5]}\n")[0]
        roster.add_students(teacher, [student], home / "connections")
        env = {**os.environ, **dotenv_values(home / "connections" / f"{student.tag}.env")}
        started = time.monotonic()
        run = subprocess.run([sys.executable, "-m", "labkit", "lab"], cwd=REPO_ROOT, env=env,
                             capture_output=True, text=True)
        minutes = (time.monotonic() - started) / 60
    finally:
        local.stop(mongo, home)
        cluster.down()
        shutil.rmtree(home, ignore_errors=True)
    print(run.stdout[-2500:])
    folder = [line for line in run.stdout.splitlines() if line.startswith("Executed notebooks: ")]
    if not folder:
        print(run.stderr[-2000:], file=sys.stderr)
        return 1
    expected = json.loads(EXPECTED.read_text())
    summary = json.loads((Path(folder[-1].split(": ", 1)[1]) / "summary.json").read_text())
    rows = []
    for result in summary:
        executed = Path(result["output"])
        same = result["status"] == "ok" and records.read(nbformat.read(executed, as_version=4)) == expected.get(executed.name)
        rows.append([executed.name, result["status"], "yes" if same else "no"])
    equal, notebooks = sum(r[2] == "yes" for r in rows), len(rows)
    rows.append(["all", f"{minutes:.1f} min", f"{equal} of {notebooks}"])
    table("one student's whole lab on a secured class stack (Kafka SASL/SCRAM with ACLs, MongoDB users)",
          "python bench/bench_class_secured.py",
          ("notebook", "status", "exactly the numbers of the open stack"), rows, RESULTS if args.record else None)
    return 0 if equal == notebooks else 1


if __name__ == "__main__":
    sys.exit(main())
