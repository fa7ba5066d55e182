"""A class on one stack: 1, 2, 3 ... students running every notebook at the same time.

    python bench/bench_class.py [--students 1 2 3] [--record]

For each count N, starts N `python -m labkit lab` at once, each as another student
(LAB_STUDENT=c<N>s<i>, so each in a corner of its own: labkit.ops.sandbox), waits for all,
and reports the wall time of the slowest, every notebook's status, and whether each
student's recorded numbers are exactly the committed ones (tests/notebooks/
expected_records.json): the numbers a student gets alone. Then one student's load on the
stack from the first run: topics, messages, databases and documents in their corner, and the
requests their notebooks' API servers answered (LAB_API_ACCESS_LOG): in all, and at the busiest
second, for one student and for the class at once. The progress topic is created first
(`class up`), so each check's verdict is recorded: the table of verdicts says whether every
student has one on each exercise the first student has, with the same verdict (the stubs are
left as they are, so "not attempted").
`--record` appends the tables to bench/results/class.md. Needs the services up
(`make infra-up`); each student's executed notebooks go to runs/<time>-<student>.
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
from collections import Counter
from pathlib import Path

import nbformat
from report import table

from labkit.config import REPO_ROOT, Settings
from labkit.ops import clients
from labkit.teach import classroom, records
from labkit.teach.notebook_runner import RUNS_DIR

RESULTS = Path(__file__).parent / "results" / "class.md"
EXPECTED = REPO_ROOT / "tests" / "notebooks" / "expected_records.json"


def run_students(students: list[str], logs: Path) -> tuple[float, dict[str, Path | None]]:
    """Every student's `labkit lab` at once, each API access log in `logs/<student>.log`;
    (seconds until the last ended, their run folders)."""
    started = time.monotonic()
    procs = {s: subprocess.Popen([sys.executable, "-m", "labkit", "lab"], cwd=REPO_ROOT,
                                 env={**os.environ, "LAB_STUDENT": s, "LAB_API_ACCESS_LOG": str(logs / f"{s}.log")},
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for s in students}
    folders = {}
    for s, proc in procs.items():
        out, _ = proc.communicate()
        line = [x for x in out.splitlines() if x.startswith("Executed notebooks: ")]
        folders[s] = Path(line[-1].split(": ", 1)[1]) if line else None
        if proc.returncode != 0:
            print(f"{s}: labkit lab exited {proc.returncode}\n{out[-2000:]}", file=sys.stderr)
    return time.monotonic() - started, folders


def compare(folder: Path | None) -> tuple[int, int, list[str]]:
    """(notebooks ok, notebooks whose records equal the committed ones, the others' names)."""
    if folder is None:
        return 0, 0, ["no run"]
    expected = json.loads(EXPECTED.read_text())
    summary = json.loads((folder / "summary.json").read_text())
    ok = sum(r["status"] == "ok" for r in summary)
    differ = [name for name, want in expected.items()
              if not (folder / name).exists() or records.read(nbformat.read(folder / name, as_version=4)) != want]
    return ok, len(expected) - len(differ), differ


def requests_per_second(logs: list[Path]) -> Counter:
    """Second (the access log's time, to the second) -> requests answered, over all `logs`."""
    seconds = Counter()
    for log in logs:
        if log.exists():
            seconds.update(line[:19] for line in log.read_text().splitlines() if line[:4].isdigit())
    return seconds


def load_of(settings: Settings, student: str) -> dict[str, int]:
    """What one student's corner holds: topics, messages (end offsets), databases, documents."""
    admin = clients.kafka_admin(settings)
    consumer = clients.kafka_consumer(settings)
    mongo = clients.mongo_client(settings)
    try:
        from kafka import TopicPartition

        topics = [t for t in admin.list_topics() if t.startswith(f"{student}.")]
        tps = [TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or ())]
        messages = sum(consumer.end_offsets(tps).values()) if tps else 0
        dbs = [d for d in mongo.list_database_names() if d.startswith(f"{student}_")]
        documents = sum(mongo[d][c].estimated_document_count() for d in dbs for c in mongo[d].list_collection_names())
        return {"topics": len(topics), "partitions": len(tps), "messages": messages, "databases": len(dbs),
                "documents": documents}
    finally:
        admin.close()
        consumer.close()
        mongo.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    settings = Settings.from_env()
    tag = uuid.uuid4().hex[:4]
    rows, first, api_rows, verdict_rows = [], None, [], []
    logs = Path(tempfile.mkdtemp(prefix="labkit-class-api-"))
    admin = clients.kafka_admin(settings)
    try:
        had_progress = classroom.PROGRESS_TOPIC in admin.list_topics()
    finally:
        admin.close()
    classroom.ensure_progress_topic(settings)
    try:
        for n in args.students:
            students = [f"c{tag}n{n}s{i}" for i in range(1, n + 1)]
            print(f"{n} student(s) running every notebook at once ...", flush=True)
            seconds, folders = run_students(students, logs)
            results = [compare(folders[s]) for s in students]
            first = first or students[0]
            differ = sorted({name for _, _, names in results for name in names})
            rows.append((n, f"{seconds / 60:.1f}", f"{sum(r[0] for r in results)} of {12 * n}",
                         f"{sum(r[1] for r in results)} of {12 * n}", ", ".join(differ) or "none"))
            one, together = requests_per_second([logs / f"{students[0]}.log"]), requests_per_second(
                [logs / f"{s}.log" for s in students])
            api_rows.append((n, f"{sum(one.values()):,}", max(one.values(), default=0), f"{sum(together.values()):,}",
                             max(together.values(), default=0)))
            standings = classroom.summarize(classroom.read_verdicts(settings)[0])
            mine = {s: {(r.exercise, r.status) for r in standings if r.student == s} for s in [first, *students]}
            statuses = Counter(status for _, status in mine[first])
            verdict_rows.append((n, len(mine[first]), ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())),
                                 f"{sum(mine[s] == mine[first] for s in students)} of {n}"))
        command = "python bench/bench_class.py --students " + " ".join(map(str, args.students))
        record = RESULTS if args.record else None
        table("students running every notebook at once on one stack (local Kafka and MongoDB-wire server)", command,
              ("students", "minutes until the last finished", "notebooks ok", "notebooks with exactly the numbers of a run alone",
               "notebooks that differed"), rows, record)
        table("requests answered by the API servers the notebooks start", command,
              ("students", "one student: requests", "one student: busiest second", "all students: requests",
               "all students: busiest second"), api_rows, record)
        table("the verdicts the class's progress topic holds after the runs", command,
              ("students", "exercises with a verdict (first student)", "their verdicts",
               "students with exactly the first student's verdicts"), verdict_rows, record)
    finally:
        shutil.rmtree(logs, ignore_errors=True)
        if not had_progress:  # made for this run: its verdicts are no class's
            admin = clients.kafka_admin(settings)
            try:
                admin.delete_topics([classroom.PROGRESS_TOPIC])
            finally:
                admin.close()
    load = load_of(settings, first)
    table(f"one student's corner after every notebook ({first})", command, tuple(load),
          [tuple(f"{v:,}" for v in load.values())], record)
    print(f"executed notebooks under {RUNS_DIR}/<time>-<student>; `python -m labkit class progress` shows their checks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
