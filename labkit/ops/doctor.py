"""Is this machine ready for the lab? Every check, with the exact fix for this system.

    python -m labkit doctor          # or `make doctor`; `make lab` runs it first

`gather(settings)` reads the facts of this machine (the only part that does I/O);
`diagnose(system)` turns them into findings (pure, so each kind of machine is a unit test:
a Mac whose `java` is Apple's stub, native Windows, Python 3.10, a busy port, 3 GB free).
A finding is "ok", "warn" (the lab runs, with something less) or "fail" (it will not run:
fix this first).
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field

from labkit.config import Settings

GB = 1024**3
#: Memory for a whole `make lab` with JupyterLab open: Kafka, the MongoDB server, the notebook
#: kernels and notebook 11's three brokers for a minute. Measured peaks (bench/results/memory.md,
#: cgroup max_usage): 2.3 GB with LAB_MEMORY=small, 2.4 GB with the standard profile, whose
#: heaps may grow further under a longer load (make live).
MEMORY_NEEDED = 2.5 * GB
MEMORY_COMFORTABLE = 4 * GB
DISK_NEEDED = 2 * GB  # the Kafka and MongoDB jars, Maven's cache, the services' data
JAVA_NEEDED = 17  # Kafka 4 brokers run on Java 17 or newer


@dataclass(frozen=True)
class System:
    """The facts `diagnose` judges. `os` is "linux", "darwin" or "windows"."""

    os: str
    machine: str
    python: tuple[int, int]
    wsl: bool = False
    java: str | None = None  # what `java -version` printed, None when there is no `java`
    java_runs: bool = False  # it exited 0 (Apple's stub prints a message and exits 1)
    maven: bool = False
    memory_free: int | None = None  # bytes available
    disk_free: int | None = None  # bytes free where the lab keeps its data
    ports: dict[str, int] = field(default_factory=dict)  # what -> port the lab will use
    busy_ports: frozenset[int] = frozenset()  # in use by a program that is not the lab's own service
    docker: bool = False  # a Docker engine answers
    mongo_server: str = "secantus"  # what LAB_MONGO_SERVER=auto picks here: "secantus" or "java"
    memory_profile: str = "standard"  # LAB_MEMORY


@dataclass(frozen=True)
class Finding:
    check: str
    level: str  # "ok", "warn" or "fail"
    detail: str
    fix: str = ""


def _install(system: System, apt: str, brew: str) -> str:
    if system.os == "darwin":
        return f"brew install {brew}"
    return f"sudo apt-get install {apt}  (Debian, Ubuntu{', WSL' if system.wsl else ''}; or your distribution's package)"


def java_major(version_text: str | None) -> int | None:
    """The major version in `java -version`'s output: 'openjdk version "17.0.9"' -> 17,
    '"1.8.0_392"' -> 8. None when there is none."""
    found = re.search(r'version "(\d+)(?:\.(\d+))?', version_text or "")
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def diagnose(system: System) -> list[Finding]:
    """Every finding for `system`, in the order a student should fix them (pure)."""
    found = []
    if system.os == "windows" and not system.wsl:
        found.append(Finding("system", "fail", "native Windows: the local services need a POSIX system",
                             "install WSL2 (`wsl --install` in an administrator PowerShell), open Ubuntu, "
                             "and clone and run the lab there"))
    else:
        where = "WSL2" if system.wsl else {"darwin": "macOS", "linux": "Linux"}.get(system.os, system.os)
        found.append(Finding("system", "ok", f"{where} on {system.machine}"))

    version = ".".join(map(str, system.python))
    if system.python < (3, 11):
        found.append(Finding("python", "fail", f"Python {version}; the lab needs 3.11 or newer",
                             _install(system, "python3.11 python3.11-venv", "python@3.12")
                             + ", then `make lab PYTHON=python3.11` (or the version you installed)"))
    else:
        found.append(Finding("python", "ok", f"Python {version}"))

    major = java_major(system.java) if system.java_runs else None
    if system.java is None or not system.java_runs:
        stub = system.os == "darwin" and system.java is not None
        found.append(Finding("java", "fail",
                             "`java` is Apple's placeholder, not a JDK" if stub else "no Java found",
                             _install(system, "openjdk-17-jdk-headless", "openjdk@17")
                             + ("; then, as brew prints, link it: sudo ln -sfn $(brew --prefix)/opt/openjdk@17/"
                                "libexec/openjdk.jdk /Library/Java/JavaVirtualMachines/openjdk-17.jdk"
                                if system.os == "darwin" else "")))
    elif major is None or major < JAVA_NEEDED:
        found.append(Finding("java", "fail", f"Java {major or '?'}; Kafka needs {JAVA_NEEDED} or newer",
                             _install(system, "openjdk-17-jdk-headless", "openjdk@17")))
    else:
        found.append(Finding("java", "ok", f"Java {major}"))

    found.append(Finding("maven", "ok", "Maven found (it fetches the pinned Kafka and server jars)") if system.maven
                 else Finding("maven", "fail", "no `mvn`: the lab fetches Kafka's jars with Maven",
                              _install(system, "maven", "maven")))

    if system.memory_free is not None:
        free = system.memory_free / GB
        if system.memory_free < MEMORY_NEEDED:
            found.append(Finding("memory", "fail", f"{free:.1f} GB free; the lab with JupyterLab open needs about "
                                 f"{MEMORY_NEEDED / GB:g} GB (notebook 11 starts three brokers for a minute)",
                                 "close other programs (browsers, IDEs) or give the machine, VM or container more "
                                 "memory" + ("" if system.memory_profile == "small" else "; and set LAB_MEMORY=small")))
        elif system.memory_free < MEMORY_COMFORTABLE and system.memory_profile != "small":
            found.append(Finding("memory", "warn", f"{free:.1f} GB free: enough for the lab, with little to spare",
                                 "set LAB_MEMORY=small (in .env or the environment): smaller heaps and cache, so "
                                 "the servers cannot grow past what the lab needs"))
        else:
            found.append(Finding("memory", "ok", f"{free:.1f} GB free"))

    if system.disk_free is not None:
        free = system.disk_free / GB
        found.append(Finding("disk", "ok", f"{free:.1f} GB free") if system.disk_free >= DISK_NEEDED
                     else Finding("disk", "fail", f"{free:.1f} GB free; the jars and data need about "
                                  f"{DISK_NEEDED // GB} GB", "free some disk space"))

    for what, port in sorted(system.ports.items(), key=lambda item: item[1]):
        if port in system.busy_ports:
            # The API's port may be held by `make api` in another terminal: the notebooks start
            # their own API on other ports, so only `make api` and `make live` would clash.
            level = "warn" if what == "the API" else "fail"
            finder = f"lsof -nP -iTCP:{port} -sTCP:LISTEN" if system.os == "darwin" else f"ss -ltnp sport = :{port}"
            found.append(Finding(f"port {port}", level, f"{what}'s port {port} is used by another program",
                                 f"find it with `{finder}` and stop it, or give the lab other ports (README, Configuration)"))
    if not system.busy_ports & set(system.ports.values()):
        found.append(Finding("ports", "ok", "free (or used by the lab's own services): "
                             + ", ".join(str(p) for p in sorted(system.ports.values()))))

    found.append(Finding("docker", "ok", "a Docker engine answers: `make infra-up` uses the Docker stack (with Grafana)"
                         if system.docker else "no Docker engine: the services run as local processes "
                         "(everything but Grafana)"))

    if system.mongo_server == "secantus":
        found.append(Finding("mongodb", "ok", "SecantusDB: indexes and explain work as notebook 06 teaches"))
    else:
        found.append(Finding("mongodb", "warn", "mongo-java-server: SecantusDB has no package for "
                             f"{system.os} {system.machine} with Python {version}, so notebook 06 cannot show "
                             "an index at work or explain()", "use Python 3.11-3.13 on Linux, an Apple Silicon "
                             "Mac or WSL2, or the Docker stack (real MongoDB)"))
    return found


def problems(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.level == "fail"]


def format_findings(findings: list[Finding]) -> str:
    """One line per finding, and its fix indented below it."""
    mark = {"ok": "✔", "warn": "!", "fail": "✘"}
    lines = []
    for f in findings:
        lines.append(f"{mark[f.level]} {f.check:<10} {f.detail}")
        if f.fix and f.level != "ok":
            lines.append(f"  {'':<10} fix: {f.fix}")
    return "\n".join(lines)


# ---------------------------------------------------------------------- reading this machine


def _java() -> tuple[str | None, bool]:
    if shutil.which("java") is None:
        return None, False
    try:
        run = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error), False
    return (run.stderr or run.stdout), run.returncode == 0


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _memory_free() -> int | None:
    try:
        import psutil

        return psutil.virtual_memory().available
    except Exception:  # noqa: BLE001  (an unknown figure is left out, not a crash)
        return None


def gather(settings: Settings) -> System:
    """This machine's facts. A port counts as busy when something listens on it and it is not
    one of the lab's own running services."""
    from labkit.ops import infra
    from labkit.ops.infra import docker, local

    kafka_port = settings.kafka_host_port[1]
    ports = {"Kafka": kafka_port, "Kafka's controller": kafka_port + 1,
             "MongoDB": settings.mongodb_host_port[1], "the API": settings.api_host_port[1]}
    engine = docker.engine_available()
    ours: set[int] = set()
    if engine and infra.mode(settings) == "docker":  # the stack's containers publish these ports
        ours |= {kafka_port, kafka_port + 1, ports["MongoDB"]}
    if infra.lab_cluster(settings).running():
        ours |= {kafka_port, kafka_port + 1}
    for service in local.services(settings):
        if local.read_pid(service, settings.lab_home):
            ours |= {kafka_port, kafka_port + 1} if service.name == "kafka" else {ports["MongoDB"]}
    busy = frozenset(p for p in ports.values() if p not in ours and _listening(p))
    release = platform.release().lower()
    java, java_runs = _java()
    settings.lab_home.mkdir(parents=True, exist_ok=True)
    return System(
        os={"Darwin": "darwin", "Windows": "windows"}.get(platform.system(), platform.system().lower()),
        machine=platform.machine(), python=sys.version_info[:2],
        wsl="microsoft" in release or "WSL_DISTRO_NAME" in os.environ,
        java=java, java_runs=java_runs, maven=shutil.which("mvn") is not None,
        memory_free=_memory_free(), disk_free=shutil.disk_usage(settings.lab_home).free,
        ports=ports, busy_ports=busy, docker=engine,
        mongo_server=local.mongo_server(settings), memory_profile=settings.memory_profile)
