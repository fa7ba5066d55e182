"""`make test`: every tier, the reliability tier on a second stack of its own at the same time.

The reliability tests kill and restart Kafka and MongoDB and wait out sessions, restarts and
outages: about six minutes, mostly spent waiting. So they run in a second pytest, against a
second Kafka and MongoDB on ports of their own (data in `.lab/reliability`), while the other
tiers run in the foreground against the usual ones. The second pytest also takes a few tests
that start brokers of their own or only need some stack (SECOND_STACK), to even the two out. Each pytest is wrapped in
`python -m labkit infra run`, which starts the services it needs and stops what it started.
The second one's output goes to `runs/tests/reliability.log` and is printed when it ends; the
exit code is the first failure of the two.

    python -m tests.run_tiers [PYTEST ARGS ...]

With Docker services (LAB_INFRA=docker) there is one stack: every tier runs in one pytest.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from labkit.config import REPO_ROOT, Settings
from labkit.ops import infra, kafka_cli
from labkit.ops.hub import first_free

LOG = REPO_ROOT / "runs" / "tests" / "reliability.log"
#: What the second pytest runs (`--part=second`); the first runs everything else (`--part=first`).
SECOND_STACK = ("tests/reliability/", "tests/integration/test_class_access.py", "tests/notebooks/test_solutions_nb06.py")
#: Where the second stack's ports are looked for (Kafka and its controller, then MongoDB).
KAFKA_FROM, MONGO_FROM = 19592, 27117


def second_stack(settings: Settings) -> dict[str, str]:
    """The environment of the second pytest: the same settings on other ports and data."""
    kafka = first_free(KAFKA_FROM, width=2)  # the broker and its controller
    mongo = first_free(MONGO_FROM)
    return {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": f"localhost:{kafka}", "MONGODB_URI": f"mongodb://localhost:{mongo}",
            "LAB_HOME": str(settings.lab_home / "reliability")}


def in_second_part(path) -> bool:
    """Whether the test file at `path` runs in the second pytest."""
    relative = Path(path).resolve().relative_to(REPO_ROOT).as_posix()
    return relative.startswith(SECOND_STACK)


def pytest_under_services(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "labkit", "infra", "run", "--", sys.executable, "-m", "pytest", *args]


def main(args: list[str]) -> int:
    settings = Settings.from_env()
    if infra.mode(settings) != "local":
        return subprocess.call(pytest_under_services(args))
    # Both stacks start from the same jars: fetch them once, before either starts (the unit
    # tier's tests of Kafka's command-line tools need the tools jar too).
    kafka_cli.ensure_tools()
    LOG.parent.mkdir(parents=True, exist_ok=True)
    env = second_stack(settings)
    print(f"The reliability tier (and {len(SECOND_STACK) - 1} more files) runs meanwhile in a second pytest, on a stack "
          f"of its own (Kafka {env['KAFKA_BOOTSTRAP_SERVERS']}, MongoDB {env['MONGODB_URI']}); "
          f"its output: {LOG.relative_to(REPO_ROOT)}", flush=True)
    began = time.monotonic()
    with LOG.open("w") as log:
        # A session of its own: Ctrl+C reaches it once, sent by the handler below.
        second = subprocess.Popen(pytest_under_services([*args, "--part=second"]), env=env, cwd=REPO_ROOT,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    first = None
    try:
        # The first pytest shares this terminal: Ctrl+C reaches it (and its `infra run`) directly.
        first = subprocess.Popen(pytest_under_services([*args, "--part=first"]), cwd=REPO_ROOT)
        first_code = first.wait()
        if second.poll() is None:
            print(f"\nWaiting for the second pytest ({time.monotonic() - began:.0f} s so far) ...", flush=True)
        second_code = second.wait()
    except KeyboardInterrupt:
        # SIGINT, not a kill: each `infra run` then stops the services it started. Wait for that.
        os.killpg(second.pid, signal.SIGINT)
        for process in (first, second):
            if process is not None:
                _wait_out(process)
        raise
    print(f"\n---------------- the second pytest, on a stack of its own ({LOG.relative_to(REPO_ROOT)}) ----------------")
    print(LOG.read_text(errors="replace"), flush=True)
    # pytest's 5 is "no tests collected": arguments that select one part's tests only.
    if first_code == second_code == NO_TESTS:
        return NO_TESTS
    codes = [0 if code == NO_TESTS else code for code in (first_code, second_code)]
    return next((code for code in codes if code), 0)


#: pytest's exit code when the arguments select no test.
NO_TESTS = 5


def _wait_out(process: subprocess.Popen) -> int:
    """Wait for `process` to end, however many Ctrl+C come meanwhile (an `infra run` that is
    stopping its services must not be left half way)."""
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
