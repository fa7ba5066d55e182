"""`python -m labkit ...`: the command line for the lab's services and headless runs."""

from __future__ import annotations

import argparse
import json
import sys

from labkit.config import Settings


def _infra(args, settings: Settings) -> int:
    from labkit import infra

    try:
        if args.action == "up":
            infra.up(settings)
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
                    state = "running" if s.get("running") else "stopped"
                    answering = "" if "answering" not in s else ("answering" if s["answering"] else "NOT answering")
                    pid = f"pid {s['pid']}" if s.get("pid") else ""
                    print(f"{name:<8} {s['mode']:<7} {state:<8} {answering:<14} {pid}")
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


def _lab(args, settings: Settings) -> int:
    from labkit import notebook_runner, preflight

    results = notebook_runner.run_all()
    print()
    print(notebook_runner.format_table(results))
    if results:
        print(f"\nExecuted notebooks: {results[0].output.rsplit('/', 1)[0]}")
    if preflight.check(settings, ("grafana",))["grafana"].ok:
        print(f"Grafana: {settings.grafana_url}")
    else:
        print("Grafana is not running here (it runs in the Docker stack); notebook 05 draws every panel instead.")
    return 0 if all(r.status == "ok" for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("infra", help="start, check and stop Kafka and MongoDB")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("up", help="start what is not running, wait until ready, create topics")
    actions.add_parser("down", help="stop the services (data is kept)")
    actions.add_parser("reset", help="stop the services and delete their data")
    status = actions.add_parser("status", help="whether each service runs and answers (exit 3 if not)")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    run = actions.add_parser("run", help="up, run a command, then stop only what was started")
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ...")
    p.set_defaults(handler=_infra)

    p = sub.add_parser("lab", help="run every notebook headless with papermill and print a table")
    p.set_defaults(handler=_lab)

    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"error in settings: {exc}", file=sys.stderr)
        return 2
    return args.handler(args, settings)
