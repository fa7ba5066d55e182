"""`python -m labkit ...`: the command line for the lab's services and headless runs."""

from __future__ import annotations

import argparse
import gc
import json
import sys

from labkit.config import Settings
from labkit.observe.prometheus import PROCESSOR_PORT

#: How often `python -m labkit api` measures the processor's lag at the broker.
LAG_SAMPLE_S = 5.0
#: How old the answers of `python -m labkit api` read in the background may be: /pipeline/* and
#: /series/anomalies (labkit.api.create_app).
WINDOWS_FRESH_S = 2.0


def _infra(args, settings: Settings) -> int:
    from labkit.ops import infra

    try:
        if args.action == "up":
            infra.up(settings, brokers=args.brokers, prometheus=args.prometheus)
        elif args.action == "down":
            infra.down(settings)
        elif args.action == "reset":
            infra.reset(settings)
        elif args.action == "status":
            report = infra.status(settings)
            if args.json:
                print(json.dumps(report, indent=2))
            else:
                for name, s in report.items():
                    if "table" in s:  # the cluster's partitions: leader and in-sync replicas
                        for row in s["table"]:
                            print(f"  {row['topic']}[{row['partition']}]  leader {row['leader']}  "
                                  f"replicas {row['replicas']}  in sync {row['isr']}")
                        continue
                    state = "running" if s.get("running") else "stopped"
                    answering = "" if "answering" not in s else ("answering" if s["answering"] else "NOT answering")
                    pid = f"pid {s['pid']}" if s.get("pid") else ""
                    print(f"{s.get('server', name):<16} {s['mode']:<7} {state:<8} {answering:<14} {pid}")
            # Non-zero when something is down, so scripts can use it.
            return 0 if all(s.get("running") and s.get("answering", True) for s in report.values()) else 3
        elif args.action == "run":
            command = args.command[1:] if args.command[:1] == ["--"] else args.command
            if not command:
                print("usage: python -m labkit infra run -- COMMAND ...", file=sys.stderr)
                return 2
            return infra.run_with_services(settings, command)
    except infra.InfraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _doctor(args, settings: Settings) -> int:
    from labkit.ops import doctor

    findings = doctor.diagnose(doctor.gather(settings))
    print(doctor.format_findings(findings))
    failed = doctor.problems(findings)
    if failed:
        print(f"\n{len(failed)} problem(s) to fix before the lab can run: see each `fix:` above.")
    return 1 if failed else 0


def _hub(args, settings: Settings) -> int:
    from labkit.ops import hub

    try:
        for line in hub.setup(settings):
            print(line)
    except (RuntimeError, OSError) as exc:  # no free port; ipykernel failed
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _lab(args, settings: Settings) -> int:
    from labkit.ops import preflight
    from labkit.teach import notebook_runner

    results = notebook_runner.run_all(student=settings.student)
    print()
    print(notebook_runner.format_table(results))
    if results:
        print(f"\nExecuted notebooks: {results[0].output.rsplit('/', 1)[0]}")
    if preflight.check(settings, ("grafana",))["grafana"].ok:
        print(f"Grafana: {settings.grafana_url}")
    else:
        print(f"Grafana is not reachable at {settings.grafana_url}: it runs only in the Docker stack (`make infra-up` with Docker).")
    return 0 if all(r.status == "ok" for r in results) else 1


def _simulate(args, settings: Settings) -> int:
    import signal
    import threading

    from labkit.ops import preflight
    from labkit.simulate.faults import FaultRates
    from labkit.simulate.producer import produce, truth_rows
    from labkit.simulate.simulator import SimConfig, Simulator, backfill_start

    rates = FaultRates(episode=args.episode_rate, invalid=args.invalid_rate,
                       duplicate=args.duplicate_rate, late=args.late_rate)
    if not 0.0 <= args.v2_share <= 1.0:
        print("error: --v2-share must be between 0 and 1", file=sys.stderr)
        return 2
    config = SimConfig(cars=args.cars, rate_hz=args.rate, seed=args.seed, faults=rates, v2_share=args.v2_share)
    start = backfill_start(config, args.count, args.duration) if args.fast else None
    sim_duration = args.duration if args.fast else None
    if args.fast:  # the simulator runs ahead in a process of its own (about twice the rate of one process)
        from labkit.simulate.ahead import simulate_ahead

        messages = simulate_ahead(config, count=args.count, duration_s=sim_duration, start=start)
    else:
        messages = Simulator(config).messages(count=args.count, duration_s=sim_duration, start=start)
    kept: list = []
    if args.truth:
        messages = _keep(messages, kept)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # stop cleanly: flush, report, exit
        signal.signal(sig, lambda *_: stop.set())
    mode = "as fast as possible" if args.fast else f"in real time ({args.rate} Hz per car)"
    print(f"Simulating {args.cars} cars {mode} into {settings.topics.telemetry}; Ctrl+C stops.", flush=True)
    try:
        report = produce(settings, messages, realtime=not args.fast, stop=stop,
                         duration_s=None if args.fast else args.duration,
                         progress=args.progress, total=args.count)
    except preflight.ServiceUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        messages.close()  # a run stopped early ends the simulator's process now
    print(report)
    if args.truth:
        with open(args.truth, "w") as out:
            for row in truth_rows(kept, report):
                out.write(json.dumps(row) + "\n")
        print(f"ground truth: {args.truth}")
    return 0 if report.failed == 0 else 1


def _process(args, settings: Settings) -> int:
    import logging
    import signal

    from labkit.ops import preflight
    from labkit.process.dlq import DLQGuardTripped
    from labkit.process.processor import Processor, ProcessorConfig

    if args.workers > 1:
        return _process_workers(args, settings)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    config = ProcessorConfig(group_id=args.group, batch_size=args.batch_size, worker=args.worker,
                             session_timeout_ms=args.session_timeout_ms,
                             transaction_timeout_ms=args.transaction_timeout_ms,
                             max_invalid_ratio=None if args.no_guard else args.max_invalid_ratio)
    processor = Processor(settings, config)
    if args.metrics_port and processor.prometheus.serve(args.metrics_port) is not None:
        print(f"Prometheus metrics at http://localhost:{args.metrics_port}/metrics", flush=True)
    for sig in (signal.SIGINT, signal.SIGTERM):  # finish the batch, commit, close
        signal.signal(sig, lambda *_: processor.stop())
    print(f"Processing {settings.topics.telemetry} as group {args.group!r}; Ctrl+C stops.", flush=True)
    try:
        stats = processor.run(max_messages=args.max_messages, idle_timeout_s=args.idle_timeout)
    except (preflight.ServiceUnavailable, DLQGuardTripped) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(stats)
    return 0


def _process_workers(args, settings: Settings) -> int:
    """--workers N: N processor processes (w1..wN) in one group, until Ctrl+C or all end."""
    import math
    import signal

    from labkit.ops import preflight
    from labkit.ops.waiting import wait_until
    from labkit.scenarios.workers import Workers

    try:
        preflight.ensure(settings, "kafka", "mongodb")
    except preflight.ServiceUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    extra = ("--no-guard",) if args.no_guard else ("--max-invalid-ratio", str(args.max_invalid_ratio))
    if args.idle_timeout:
        extra += ("--idle-timeout", str(args.idle_timeout))
    stop = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append(True))
    with Workers(settings, args.group, batch_size=args.batch_size, session_timeout_ms=args.session_timeout_ms,
                 transaction_timeout_ms=args.transaction_timeout_ms,
                 extra_args=extra) as workers:
        for i in range(1, args.workers + 1):
            workers.start(f"w{i}")
        print(f"{args.workers} workers in group {args.group!r} on {settings.topics.telemetry}; Ctrl+C stops them.", flush=True)
        wait_until(lambda: stop or not workers.running(), math.inf, poll_s=0.5, what="Ctrl+C, or every worker to end")
    print("workers stopped")
    return 0


def _chaos(args, settings: Settings) -> int:
    import logging

    from labkit.scenarios import chaos

    logging.basicConfig(level=logging.ERROR)
    plan = chaos.ChaosPlan(events=args.events, cars=args.cars, processor_kills=args.processor_kills,
                           broker_kills=args.broker_kills, mongo_kills=args.mongo_kills, outage_s=args.outage)
    print(f"Chaos run: {plan}")
    report = chaos.run(settings, plan)
    print(report.table())
    return 0 if report.ok else 1


def _validate_file(args, settings: Settings) -> int:
    from datetime import datetime, timezone

    from labkit.process.validation import validate

    now = datetime.now(timezone.utc)
    with open(args.file, "rb") as handle:
        for line in handle:
            raw = line.rstrip(b"\r\n")
            if args.jsonl:
                try:
                    raw = json.loads(raw)["raw"]
                except (ValueError, KeyError, TypeError):
                    print(json.dumps({"ok": False, "reason": "input", "detail": "line is not JSON with a 'raw' field"}))
                    continue
                raw = raw.encode() if isinstance(raw, str) else json.dumps(raw).encode()
            print(json.dumps(validate(raw, now).as_dict(), ensure_ascii=False))
    return 0


def _dlq(args, settings: Settings) -> int:
    from datetime import datetime

    from labkit.ops import preflight
    from labkit.process.replay import replay

    try:
        preflight.ensure(settings, "kafka", "mongodb")
        since = datetime.fromisoformat(args.since) if args.since else None
        until = datetime.fromisoformat(args.until) if args.until else None
    except preflight.ServiceUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: --since/--until must be ISO-8601 with a timezone ({exc})", file=sys.stderr)
        return 2
    if (since and since.tzinfo is None) or (until and until.tzinfo is None):
        print("error: --since/--until need a timezone, e.g. 2026-11-27T10:00:00+00:00", file=sys.stderr)
        return 2
    print(replay(settings, reasons=args.reason or None, since=since, until=until, dry_run=args.dry_run))
    return 0


def _api(args, settings: Settings) -> int:
    import uvicorn

    from labkit.api import create_app
    from labkit.api.runner import KEEP_ALIVE_S

    host, port = args.host, args.port or settings.api_host_port[1]
    print(f"Telemetry API on http://{host}:{port} (docs: /docs); Ctrl+C stops.", flush=True)
    # The Pipeline Health board's lag, sampled at the broker; the boards' MongoDB answers read
    # in the background (metrics windows, anomaly counts, DLQ reasons), so a viewer does not
    # wait behind a busy MongoDB.
    app = create_app(settings, sample_lag_every_s=LAG_SAMPLE_S, windows_fresh_s=WINDOWS_FRESH_S)
    # This process only serves the API, so what exists now (the modules, the app and its
    # routes) lives as long as it. A full garbage collection walks every object: 40-70 ms
    # here every few seconds under load, and every request in flight waits (it was the
    # dashboards' p99, bench/results/storage.md). Frozen, they are left out of it. (Not done
    # for an API started inside a notebook kernel, whose objects are the student's.)
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_keep_alive=KEEP_ALIVE_S)
    return 0


def _schema(args, settings: Settings) -> int:
    from labkit.contract import schema

    for path in schema.write():
        print(f"wrote {path.name}")
    return 0


def _dashboards(args, settings: Settings) -> int:
    from labkit.observe import dashboards

    for path in dashboards.write():
        print(f"wrote {path.relative_to(dashboards.REPO_ROOT)}")
    return 0


def _live(args, settings: Settings) -> int:
    from labkit.ops import infra
    from labkit.scenarios import live

    try:
        return live.run(settings, cars=args.cars, rate=args.rate)
    except infra.InfraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _kafka(args, settings: Settings) -> int:
    from labkit.ops import kafka_cli, preflight

    if args.list or not args.tool:
        print(kafka_cli.format_tools(kafka_cli.kafka_version()))
        return 0 if args.list else 2
    try:
        return kafka_cli.interactive(args.tool, args.args, settings, verbose=args.verbose)
    except kafka_cli.UnknownTool as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (kafka_cli.InfraError, preflight.ServiceUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _mongosh(args, settings: Settings) -> int:
    from labkit.ops import mongo_shell, preflight

    try:
        return mongo_shell.interactive(settings, args.eval, fallback=args.fallback)
    except mongo_shell.UnsupportedExpression as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (mongo_shell.ShellError, preflight.ServiceUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _class(args, settings: Settings) -> int:
    from pathlib import Path

    from labkit.ops import preflight
    from labkit.teach import classroom

    try:
        if args.action != "dist":  # the only action that needs no running stack
            preflight.ensure(settings, "kafka", *(["mongodb"] if args.action in ("reset", "down") else []))
        if args.action == "up":
            classroom.ensure_progress_topic(settings)
            print(f"{classroom.PROGRESS_TOPIC} is ready on {settings.kafka_bootstrap_servers}: each student's "
                  "checks record their verdicts there (students set LAB_STUDENT, or JupyterHub sets JUPYTERHUB_USER).")
        elif args.action == "progress":
            verdicts, unreadable = classroom.read_verdicts(settings)
            rows = classroom.summarize(verdicts)
            print(classroom.grid(rows))
            if unreadable:
                print(f"({unreadable} records in the progress topics were left out: not verdicts, or a verdict "
                      "naming another student than the topic's)")
            if args.csv:
                classroom.write_csv(rows, Path(args.csv))
                print(f"{len(rows)} rows (a student and an exercise each) written to {args.csv}")
        elif args.action == "dist":
            count = classroom.build_student_copy(Path(args.out))
            print(f"{count} files written to {args.out}: the lab without labkit/teach/solutions/ and its tests. "
                  "Hand out that folder (or push it to the class's repository).")
        elif args.action == "roster":
            from labkit.teach import roster

            students = roster.read_roster(Path(args.file).read_text())
            written = roster.add_students(settings, students, Path(args.out))
            print(f"{len(written)} students can sign in to Kafka at {settings.kafka_bootstrap_servers}, each "
                  f"allowed only the names starting with their tag. Their connection files are in {args.out}/ "
                  "(<tag>.env, with a password each): hand each student theirs.")
            print(f"MongoDB at {settings.mongodb_uri_shown}: " + (
                "a user each, allowed only the databases of their own corner and reading the lab's."
                if settings.mongodb_user else "asks nobody (MONGODB_URI names no user), so students' databases "
                "are apart by name only. README: Running it for a class."))
        elif args.action == "reset":
            classroom.reset_student(settings, args.student)
            print(f"{args.student}'s corner is empty (their recorded verdicts are kept).")
        elif args.action == "down":
            plan = classroom.plan_end(settings)
            print(f"{len(plan.students)} students on {settings.kafka_bootstrap_servers}: {', '.join(plan.students) or 'none'}")
            print(f"  their corners (topics, groups, databases), {len(plan.users)} users (Kafka's with their ACLs, "
                  "MongoDB's), and "
                  + (f"{len(plan.progress_topics)} progress topics ({plan.verdicts} verdicts)" if plan.progress_topics
                     else "no progress topic"))
            if not args.yes:
                print(f"Nothing deleted. Run again with --yes to write the gradebook to {args.csv} and delete the above.")
                return 0
            classroom.end_class(settings, plan, Path(args.csv))
            print(f"Gradebook written to {args.csv}; the class is gone from this stack (the services still run: "
                  "`make infra-down` stops them).")
    except preflight.ServiceUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # the broker refused (roster)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _keep(messages, kept: list):
    try:
        for message in messages:
            kept.append(message)
            yield message
    finally:
        messages.close()  # closing this closes the simulator too (its process, when it runs ahead)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit", description=__doc__)
    parser.add_argument("--verbose", action="store_true",
                        help="show the Kafka client's own warnings too (hidden by default: they are about its internals)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("infra", help="start, check and stop Kafka and MongoDB")
    actions = p.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start what is not running, wait until ready, create topics")
    up.add_argument("--brokers", type=int, choices=(1, 3), default=None,
                    help="1 Kafka broker (the default) or a cluster of 3 with replicated topics")
    up.add_argument("--prometheus", action="store_true",
                    help="also start Prometheus, scraping the API and the processor (http://localhost:9090)")
    actions.add_parser("down", help="stop the services (data is kept)")
    actions.add_parser("reset", help="stop the services and delete their data")
    status = actions.add_parser("status", help="whether each service runs and answers (exit 3 if not)")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    run = actions.add_parser("run", help="up, run a command, then stop only what was started")
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ...")
    p.set_defaults(handler=_infra)

    p = sub.add_parser("doctor", help="check this machine for the lab (Python, Java, Maven, memory, disk, ports) and say how to fix it")
    p.set_defaults(handler=_doctor)

    p = sub.add_parser("hub", help="inside a JupyterHub user's server: register the lab's kernel for this user "
                                   "and choose free ports for the services (see the README's JupyterHub section)")
    p.add_argument("action", choices=["setup"])
    p.set_defaults(handler=_hub)

    p = sub.add_parser("lab", help="run every notebook headless with papermill and print a table")
    p.set_defaults(handler=_lab)

    p = sub.add_parser("simulate", help="run the fleet simulator into Kafka")
    p.add_argument("--cars", type=int, default=2, help="number of cars (default 2)")
    p.add_argument("--rate", type=float, default=1.0, help="events per car per second (default 1)")
    p.add_argument("--duration", type=float, help="seconds to run (simulated seconds with --fast)")
    p.add_argument("--count", type=int, help="stop after this many messages")
    p.add_argument("--seed", type=int, default=7, help="random seed: same seed, same fleet")
    p.add_argument("--fast", action="store_true", help="as fast as possible, timestamps ending now")
    p.add_argument("--episode-rate", type=float, default=0.002, help="anomaly episodes per event")
    p.add_argument("--invalid-rate", type=float, default=0.01, help="invalid messages per event")
    p.add_argument("--v2-share", type=float, default=0.0,
                   help="share of cars sending event version 2 (odometer, battery voltage); default 0")
    p.add_argument("--duplicate-rate", type=float, default=0.005, help="duplicates per event")
    p.add_argument("--late-rate", type=float, default=0.005, help="late (out-of-order) events per event")
    p.add_argument("--truth", help="write the ground truth (JSON lines) to this file")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    p.set_defaults(handler=_simulate)

    p = sub.add_parser("process", help="run the stream processor (validate, store, DLQ, anomalies, metrics)")
    p.add_argument("--group", default="telemetry-processor", help="consumer group id")
    p.add_argument("--batch-size", type=int, default=2000, help="most messages per batch (default 2000, as ProcessorConfig)")
    p.add_argument("--max-messages", type=int, help="stop after this many messages")
    p.add_argument("--idle-timeout", type=float, help="stop after this many seconds without messages")
    p.add_argument("--max-invalid-ratio", type=float, default=0.5, help="DLQ guard limit (default 0.5)")
    p.add_argument("--no-guard", action="store_true", help="switch the DLQ guard off")
    p.add_argument("--workers", type=int, default=1, help="run this many processor processes in the group (w1, w2, ...)")
    p.add_argument("--worker", help="this processor's name among the group's workers (its own transactional id)")
    p.add_argument("--session-timeout-ms", type=int, default=6000,
                   help="a killed worker's partitions move after this long (default 6000, the broker's minimum)")
    p.add_argument("--transaction-timeout-ms", type=int, default=60_000,
                   help="the broker aborts a killed worker's open transaction after this long; until then its "
                        "partitions' committed offsets cannot be read (default 60000)")
    p.add_argument("--metrics-port", type=int, default=PROCESSOR_PORT,
                   help=f"serve Prometheus metrics on this port (default {PROCESSOR_PORT}; 0: off)")
    p.set_defaults(handler=_process)

    p = sub.add_parser("chaos", help="kill the processor, broker and database mid-stream, then count everything")
    p.add_argument("--events", type=int, default=60_000)
    p.add_argument("--cars", type=int, default=20)
    p.add_argument("--processor-kills", type=int, default=6)
    p.add_argument("--broker-kills", type=int, default=1)
    p.add_argument("--mongo-kills", type=int, default=1)
    p.add_argument("--outage", type=float, default=5.0, help="seconds a killed service stays down")
    p.set_defaults(handler=_chaos)

    p = sub.add_parser("validate", help="validate raw messages from a file, one JSON verdict per line")
    p.add_argument("file", help="one raw message per line")
    p.add_argument("--jsonl", action="store_true", help="lines are JSON objects with the message in 'raw'")
    p.set_defaults(handler=_validate_file)

    p = sub.add_parser("dlq", help="dead-letter queue tools")
    dlq_actions = p.add_subparsers(dest="action", required=True)
    r = dlq_actions.add_parser("replay", help="re-validate DLQ records and store those that now pass")
    r.add_argument("--reason", action="append", help="only this reason or class (repeatable), e.g. range:speed")
    r.add_argument("--since", help="only records that failed at or after this time (ISO-8601)")
    r.add_argument("--until", help="only records that failed before this time (ISO-8601)")
    r.add_argument("--dry-run", action="store_true", help="report what would happen, write nothing")
    p.set_defaults(handler=_dlq)

    p = sub.add_parser("api", help="serve the Telemetry API (FastAPI) for Grafana and notebooks")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (Linux + Docker Grafana: the docker0 address, see the README)")
    p.add_argument("--port", type=int, help="default: the port of API_URL (8000)")
    p.set_defaults(handler=_api)

    p = sub.add_parser("dashboards", help="regenerate dashboards/*.json from labkit.observe.dashboards")
    p.add_argument("action", choices=["write"])
    p.set_defaults(handler=_dashboards)

    p = sub.add_parser("schema", help="regenerate labkit/contract/schemas/telemetry.v*.json from labkit.contract")
    p.add_argument("action", choices=["write"])
    p.set_defaults(handler=_schema)

    p = sub.add_parser("live", help="simulator + processor + API together until Ctrl+C")
    p.add_argument("--cars", type=int, default=10)
    p.add_argument("--rate", type=float, default=1.0)
    p.set_defaults(handler=_live)

    p = sub.add_parser("kafka", help="Kafka's own command-line tools (kafka-topics, kafka-consumer-groups, ...) from the pinned jars",
                       description="Run one of Kafka's tools from the lab's pinned jars, against the settings' Kafka "
                                   "(--bootstrap-server is added unless given), e.g. "
                                   "`python -m labkit kafka consumer-groups --describe --group telemetry-processor`.")
    p.add_argument("--list", action="store_true", help="list the tools and their Java classes")
    p.add_argument("tool", nargs="?", help="topics, consumer-groups, console-consumer, console-producer, ... (see --list)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the tool's own arguments (TOOL --help lists them)")
    p.set_defaults(handler=_kafka)

    p = sub.add_parser("mongosh", help="the MongoDB shell on the lab's database (a small Python fallback without Node.js)")
    p.add_argument("--eval", help="run this JavaScript and exit, e.g. 'db.car_telemetry.countDocuments({})'")
    p.add_argument("--fallback", action="store_true",
                   help="use the Python fallback even where mongosh is available (it knows only a few forms)")
    p.set_defaults(handler=_mongosh)

    p = sub.add_parser("class", help="a class on one stack: the progress topic, who passed what, a student's reset, the end")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("up", help="create the topic the students' checks record their verdicts in (stack running)")
    prog = actions.add_parser("progress", help="students by exercises: passed, tried, reached")
    prog.add_argument("--csv", help="also write the gradebook (a line per student and exercise) to this file")
    dist = actions.add_parser("dist", help="write the students' copy of the lab (no solutions, no tests) to a new folder")
    dist.add_argument("out", help="a new or empty folder")
    rost = actions.add_parser("roster", help="a Kafka user with ACLs, a MongoDB user and a connection file per student "
                                             "(a secured stack)")
    rost.add_argument("verb", choices=["add"], help="add: create each student's user (a new password if it exists)")
    rost.add_argument("file", help="the roster: one student per line (a login or an e-mail), # for comments")
    rost.add_argument("--out", default="connections", help="where the connection files go (default: connections/)")
    reset = actions.add_parser("reset", help="empty one student's corner (topics, groups, databases)")
    reset.add_argument("student", help="the student's tag, as in their topic names")
    down = actions.add_parser("down", help="end the class: the gradebook to a file, then every corner, student user "
                                           "and the progress topic deleted")
    down.add_argument("--csv", required=True, help="where the gradebook goes first (as `progress --csv`)")
    down.add_argument("--yes", action="store_true", help="delete (without it: say what would go, delete nothing)")
    p.set_defaults(handler=_class)

    args = parser.parse_args(argv)
    if not args.verbose:
        import logging

        # kafka-python warns about its own choices ("group_id is None: disabling auto-commit")
        # and internals at WARNING; a student cannot act on them. Errors still show.
        logging.getLogger("kafka").setLevel(logging.ERROR)
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"error in settings: {exc}", file=sys.stderr)
        return 2
    return args.handler(args, settings)
