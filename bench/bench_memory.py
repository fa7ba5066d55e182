"""Memory of a whole `make lab`, services included, inside a memory cgroup with a limit.

    python bench/bench_memory.py [--profile small] [--limit 4G] [--no-jupyterlab] [--record]

Stops the local services, then runs `make lab` (LAB_MEMORY=<profile>) as the only member of a
new cgroup-v1 memory group limited to `--limit`, with a JupyterLab server beside it, as a
student has open (skip it with --no-jupyterlab). The services `make lab` starts are its
children, so they are in the group too. Every second it adds up the resident memory of the
group's processes by kind (Kafka broker, the three brokers of notebook 11, MongoDB server,
notebook kernels, JupyterLab, the rest); at the end it reads the group's own peak
(`memory.max_usage_in_bytes`, which counts page cache too) and how often the limit was hit.
The services are stopped again at the end. Needs root and cgroup v1's memory controller
(`/sys/fs/cgroup/memory`); `--record` appends the table to bench/results/memory.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psutil
from report import table

ROOT = Path(__file__).resolve().parent.parent
CGROUP_ROOT = Path("/sys/fs/cgroup/memory")
RESULTS = Path(__file__).parent / "results" / "memory.md"
PYTHON = ROOT / ".venv" / "bin" / "python"

#: Kinds of process, by a word of their command line (the first that matches wins).
KINDS = [("Kafka brokers of notebook 11", "cluster"), ("Kafka broker", "kafka.Kafka"),
         ("MongoDB server", "secantusd"), ("MongoDB server", "MongoWireServer"),
         ("notebook kernels", "ipykernel"), ("JupyterLab", "jupyter-lab"), ("JupyterLab", "jupyterlab")]


def kind_of(cmdline: list[str]) -> str:
    text = " ".join(cmdline)
    return next((kind for kind, word in KINDS if word in text), "the rest (make, runner, API, tools)")


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units else int(text)


def mib(n: float) -> str:
    return f"{n / (1 << 20):,.0f} MiB"


def group_pids(group: Path) -> list[int]:
    return [int(line) for line in (group / "cgroup.procs").read_text().split()]


def sample(group: Path) -> Counter:
    """Resident memory of the group's processes, summed by kind."""
    rss = Counter()
    for pid in group_pids(group):
        try:
            p = psutil.Process(pid)
            rss[kind_of(p.cmdline())] += p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="small", choices=["standard", "small"])
    parser.add_argument("--limit", default="4G", help="the group's memory limit (e.g. 4G, 3500M)")
    parser.add_argument("--no-jupyterlab", action="store_true", help="run make lab without a JupyterLab beside it")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if not CGROUP_ROOT.is_dir() or os.geteuid() != 0:
        print(f"needs root and cgroup v1's memory controller at {CGROUP_ROOT}", file=sys.stderr)
        return 2

    subprocess.run([str(PYTHON), "-m", "labkit", "infra", "down"], cwd=ROOT, check=False)
    group = CGROUP_ROOT / f"telemetry-lab-bench-{os.getpid()}"
    group.mkdir()
    limit = parse_size(args.limit)
    (group / "memory.limit_in_bytes").write_text(str(limit))
    if (group / "memory.memsw.limit_in_bytes").exists():  # no swapping around the limit
        (group / "memory.memsw.limit_in_bytes").write_text(str(limit))

    def join_group() -> None:  # runs in the child before exec: it and all it starts are in the group
        (group / "cgroup.procs").write_text(str(os.getpid()))

    env = dict(os.environ, LAB_MEMORY=args.profile)
    began = time.monotonic()
    jupyter = None
    if not args.no_jupyterlab:
        jupyter = subprocess.Popen([str(ROOT / ".venv" / "bin" / "jupyter-lab"), "--no-browser", "--port", "8899",
                                    "--ServerApp.token=", "--allow-root"], cwd=ROOT, env=env, preexec_fn=join_group,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lab = subprocess.Popen(["make", "lab"], cwd=ROOT, env=env, preexec_fn=join_group,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []

    def echo() -> None:  # make lab's lines, shown as they come and kept for the count of notebooks
        for line in lab.stdout:
            output.append(line)
            sys.stdout.write(line)

    reader = threading.Thread(target=echo, daemon=True)
    reader.start()
    peaks, peak_total = Counter(), 0
    while lab.poll() is None:
        now = sample(group)
        peaks = Counter({k: max(peaks[k], now[k]) for k in set(peaks) | set(now)})
        peak_total = max(peak_total, sum(now.values()))
        time.sleep(1)
    reader.join(timeout=10)
    seconds = time.monotonic() - began
    group_peak = int((group / "memory.max_usage_in_bytes").read_text())
    failcnt = int((group / "memory.failcnt").read_text())
    oom = (group / "memory.oom_control").read_text()
    oom_kills = next((int(line.split()[1]) for line in oom.splitlines() if line.startswith("oom_kill ")), None)
    if jupyter is not None:
        jupyter.terminate()
        jupyter.wait(timeout=30)
    subprocess.run([str(PYTHON), "-m", "labkit", "infra", "down"], cwd=ROOT, check=False)
    for _ in range(60):  # rmdir needs an empty group
        if not group_pids(group):
            break
        time.sleep(1)
    group.rmdir()

    text = "".join(output)
    notebooks_ok = text.count("  ok in ")
    rows = [("make lab exit status", lab.returncode), ("notebooks ok", notebooks_ok),
            ("wall time", f"{seconds:,.0f} s"), ("group limit", mib(limit)),
            ("group peak (max_usage_in_bytes, page cache included)", mib(group_peak)),
            ("times the limit was hit (failcnt)", failcnt),
            ("processes killed for memory (oom_kill)", "not reported" if oom_kills is None else oom_kills),
            ("peak resident memory, all processes at one moment", mib(peak_total))]
    rows += [(f"peak resident memory: {kind}", mib(n)) for kind, n in sorted(peaks.items(), key=lambda kv: -kv[1])]
    command = f"python bench/bench_memory.py --profile {args.profile} --limit {args.limit}" + (
        " --no-jupyterlab" if args.no_jupyterlab else "")
    table(f"make lab, LAB_MEMORY={args.profile}, in a {args.limit} memory group"
          + ("" if args.no_jupyterlab else ", JupyterLab open"),
          command, ("measure", "value"), rows, RESULTS if args.record else None)
    return 0 if lab.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
