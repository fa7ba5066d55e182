"""Local services without Docker: a Kafka broker and a MongoDB-wire server as processes.

Kafka runs from jars pinned in `infra/local/pom.xml`, fetched from Maven Central by
`mvn package` the first time. MongoDB is one of two servers (`LAB_MONGO_SERVER`):

- "secantus": SecantusDB, a MongoDB-compatible server on WiredTiger (MongoDB's own storage
  engine), pinned in pyproject.toml and installed into the lab's venv. Indexes change query
  plans, `explain()` answers. The default wherever its wheel installs (Linux x86-64,
  Python 3.11).
- "java": mongo-java-server on H2 (Maven, like Kafka), for other platforms. It never uses
  an index and has no `explain`.

Everything a run leaves behind lives under `settings.lab_home`:

    .lab/
      kafka/data/        Kafka log dirs (formatted once, kept across restarts)
      kafka/server.properties
      secantus/          SecantusDB data (WiredTiger files and journal)
      mongo/telemetry.mv mongo-java-server data (H2 MVStore file)
      logs/kafka.log, logs/mongo.log
      run/kafka.pid, run/mongo.pid

Every operation is idempotent: `up` when up and `down` when down are no-ops, and a pid
file left by a crashed process is noticed and removed.
"""

from __future__ import annotations

import base64
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil

from labkit.config import REPO_ROOT, SCRAM_MECHANISM, Settings
from labkit.ops.waiting import wait_until

POM_DIR = REPO_ROOT / "infra" / "local"
LIB_DIR = POM_DIR / "target" / "lib"
CLASSES_DIR = POM_DIR / "target" / "classes"
LOG4J_CONFIG = POM_DIR / "log4j2.properties"

#: SecantusDB's launcher, installed next to this Python by `pip install` (see pyproject.toml).
SECANTUS = Path(sys.executable).parent / "secantusd-py"


@dataclass(frozen=True)
class MemoryProfile:
    """Heaps (JVM flags) and caches of the local servers; the README gives each profile's
    measured peak (bench/bench_memory.py)."""

    kafka_heap: tuple[str, ...]
    mongo_java_heap: tuple[str, ...]  # mongo-java-server, where SecantusDB has no wheel
    secantus_cache: str  # WiredTiger's cache
    cluster_heap: tuple[str, ...]  # each of the three brokers notebook 11 starts


#: LAB_MEMORY picks one. "standard": a million lab events fit in SecantusDB's cache.
#: "small": a 4 GB machine or hub container, JupyterLab and a kernel included.
PROFILES = {
    "standard": MemoryProfile(("-Xms256m", "-Xmx768m"), ("-Xms128m", "-Xmx768m"), "512M", ("-Xms128m", "-Xmx512m")),
    "small": MemoryProfile(("-Xms128m", "-Xmx384m"), ("-Xms64m", "-Xmx384m"), "192M", ("-Xms64m", "-Xmx256m")),
}


def memory(settings: Settings) -> MemoryProfile:
    """The memory profile `settings.memory_profile` names (LAB_MEMORY)."""
    return PROFILES[settings.memory_profile]


class InfraError(RuntimeError):
    """A service could not be started or stopped; the message says why and what to do."""


@dataclass(frozen=True)
class Service:
    """One local server process: how to start it and how to recognise it."""

    name: str
    marker: str  # a word of its command line that tells our server from another process
    port: int
    heap: tuple[str, ...] = ()  # JVM options; empty for a server that is not Java

    def pid_file(self, home: Path) -> Path:
        return home / "run" / f"{self.name}.pid"

    def log_file(self, home: Path) -> Path:
        return home / "logs" / f"{self.name}.log"


def services(settings: Settings) -> list[Service]:
    mongo_port = settings.mongodb_host_port[1]
    mongo = (Service("mongo", "secantusd-py", mongo_port) if mongo_server(settings) == "secantus"
             else Service("mongo", "lab.MongoWireServer", mongo_port, memory(settings).mongo_java_heap))
    return [Service("kafka", "kafka.Kafka", settings.kafka_host_port[1], memory(settings).kafka_heap), mongo]


def mongo_server(settings: Settings) -> str:
    """"secantus" or "java": LAB_MONGO_SERVER, or for "auto" SecantusDB when it is installed."""
    if settings.mongo_server != "auto":
        return settings.mongo_server
    return "secantus" if SECANTUS.exists() else "java"


# ---------------------------------------------------------------- prerequisites and build


def require_tools(settings: Settings | None = None) -> None:
    """Raise InfraError naming what is missing: Java 17+, Maven, or the chosen MongoDB server."""
    if settings is not None and settings.mongo_server == "secantus" and not SECANTUS.exists():
        raise InfraError(
            "LAB_MONGO_SERVER=secantus, but SecantusDB is not installed in this environment "
            "(its wheel exists for Linux x86-64 and Python 3.11). Run `make env`, or set "
            "LAB_MONGO_SERVER=java to use mongo-java-server."
        )
    if not shutil.which("java"):
        raise InfraError("Java is not installed: install OpenJDK 17 or newer (e.g. `apt-get install openjdk-17-jre`), or use Docker.")
    if not LIB_DIR.exists() and not shutil.which("mvn"):
        raise InfraError("Maven is not installed: install it (e.g. `apt-get install maven`) "
                         "to fetch the Kafka and MongoDB-wire server jars.")
    version = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    major = _java_major(version)
    if major is not None and major < 17:
        raise InfraError(f"Java {major} found, but Kafka 4 needs Java 17 or newer.")


def _java_major(version_text: str) -> int | None:
    """Parse `openjdk version "17.0.15"` (or "1.8.0_392") into 17 (or 8)."""
    try:
        quoted = version_text.split('"')[1]
    except IndexError:
        return None
    parts = quoted.split(".")
    return int(parts[1]) if parts[0] == "1" else int(parts[0].split("-")[0])


def ensure_jars(log=print) -> None:
    """Run `mvn package` in infra/local when the jars are missing or the pom is newer."""
    stamp = LIB_DIR / ".built"
    pom = POM_DIR / "pom.xml"
    sources = [pom, *POM_DIR.glob("src/**/*.java")]
    if stamp.exists() and all(p.stat().st_mtime <= stamp.stat().st_mtime for p in sources):
        return
    log("Fetching pinned Kafka and MongoDB-wire server jars with Maven (first run only)...")
    started = time.monotonic()
    result = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(pom), "clean", "package"], capture_output=True, text=True
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise InfraError(f"`mvn package` in infra/local failed:\n{tail}")
    stamp.touch()
    log(f"  jars ready in {time.monotonic() - started:.1f} s")


def classpath() -> str:
    return os.pathsep.join([str(CLASSES_DIR), str(LIB_DIR / "*")])


# ---------------------------------------------------------------- process bookkeeping


def read_pid(service: Service, home: Path) -> int | None:
    """The pid of our running server, or None. Removes a stale pid file as a side effect."""
    pid_file = service.pid_file(home)
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    if _is_our_process(pid, service):
        return pid
    pid_file.unlink(missing_ok=True)  # stale: the process died or the pid was reused
    return None


def _is_our_process(pid: int, service: Service) -> bool:
    """Does `pid` still run `service`? The system may have given a dead server's pid to
    another program, so its command line must show the marker."""
    if not _alive(pid):
        return False
    try:
        cmdline = psutil.Process(pid).cmdline()
    except psutil.Error:  # it exited meanwhile, or it is another user's: not ours
        return False
    # The marker is a whole argument (a Java main class) or the name of the program or
    # script run; a mere mention, as in `tail -f logs/prometheus.log`, does not count.
    return any(Path(arg).name == service.marker for arg in cmdline)


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log written)"


# ---------------------------------------------------------------- start


def kafka_properties(settings: Settings, data_dir: Path) -> str:
    """server.properties for the lab's one node that is both broker and controller (KRaft)."""
    host, port = settings.kafka_host_port
    admin = (settings.kafka_username, settings.kafka_password) if settings.kafka_username else None
    return node_properties(1, host, port, {1: port + 1}, data_dir, admin=admin)


def node_properties(node_id: int, host: str, port: int, controllers: dict[int, int], data_dir: Path,
                    session_timeout_ms: int | None = None, admin: tuple[str, str] | None = None) -> str:
    """server.properties for node `node_id` of a KRaft cluster whose nodes are each broker and
    controller: `controllers` maps every node id to its controller port (its own included).
    Internal topics are replicated to every node, at most three, and need two in sync when
    there are three (the same rule the lab's topics follow, see topics.replication_for).

    With `admin` (user, password), a class's broker: see `secured_properties`."""
    replicas = min(len(controllers), 3)
    min_isr = 2 if replicas >= 3 else 1
    voters = ",".join(f"{n}@127.0.0.1:{p}" for n, p in sorted(controllers.items()))
    listeners = (secured_properties(host, port, controllers[node_id], *admin) if admin is not None else [
        f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controllers[node_id]}",
        # Clients are told to come back to this address: it must be what they can reach.
        f"advertised.listeners=PLAINTEXT://{host}:{port}",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    ])
    lines = [
        "process.roles=broker,controller",
        f"node.id={node_id}",
        f"controller.quorum.voters={voters}",
        *listeners,
        "controller.listener.names=CONTROLLER",
        f"log.dirs={data_dir}",
        # Topics are created explicitly by labkit; a typo must fail, not create a topic.
        "auto.create.topics.enable=false",
        "num.partitions=1",
        f"offsets.topic.replication.factor={replicas}",
        f"transaction.state.log.replication.factor={replicas}",
        f"transaction.state.log.min.isr={min_isr}",
        f"share.coordinator.state.topic.replication.factor={replicas}",
        f"share.coordinator.state.topic.min.isr={min_isr}",
        # Consumers in the lab join at once: no reason to wait for more to join.
        "group.initial.rebalance.delay.ms=0",
        # A timed-out transaction (its producer killed) is aborted within a second of its
        # timeout, not up to 10 s later (Kafka's default check interval).
        "transaction.abort.timed.out.transaction.cleanup.interval.ms=1000",
        "log.retention.hours=168",
    ]
    if session_timeout_ms is not None:
        # How long the controllers wait for a silent broker before they fence it and move
        # its partitions' leadership (Kafka's default is 9 s; a lab shortens it to watch it).
        lines += [f"broker.session.timeout.ms={session_timeout_ms}",
                  f"broker.heartbeat.interval.ms={max(session_timeout_ms // 6, 100)}"]
    return "\n".join([*lines, ""])


def secured_properties(host: str, port: int, controller_port: int, admin: str, password: str) -> list[str]:
    """The lines that make a broker ask every client who it is and what it may do (a class's stack).

    Clients sign in with SASL/SCRAM-SHA-256 (users the instructor adds: labkit.teach.roster);
    the broker then allows each only what an ACL grants it (StandardAuthorizer: nothing by
    default), except `admin`, a super user. The controller listener has one user, `admin`, with
    SASL/PLAIN (KRaft's controllers cannot check SCRAM: its users live in the metadata they
    serve). No TLS: passwords are never sent (SCRAM), but the data travels in the clear, as on
    the lab's open broker; a class across an untrusted network needs SASL_SSL."""
    def jaas(module: str, users: str = "") -> str:
        return f'org.apache.kafka.common.security.{module} required username="{admin}" password="{password}"{users};'

    plain_users = f' user_{admin}="{password}"'  # PLAIN's users are listed in its login line
    return [
        f"listeners=SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        f"advertised.listeners=SASL_PLAINTEXT://{host}:{port}",
        "listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "inter.broker.listener.name=SASL_PLAINTEXT",
        f"sasl.mechanism.inter.broker.protocol={SCRAM_MECHANISM}",
        "sasl.mechanism.controller.protocol=PLAIN",
        f"listener.name.sasl_plaintext.sasl.enabled.mechanisms={SCRAM_MECHANISM}",
        f"listener.name.sasl_plaintext.{SCRAM_MECHANISM.lower()}.sasl.jaas.config={jaas('scram.ScramLoginModule')}",
        "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
        f"listener.name.controller.plain.sasl.jaas.config={jaas('plain.PlainLoginModule', plain_users)}",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        f"super.users=User:{admin}",
        "allow.everyone.if.no.acl.found=false",
    ]


def format_storage(props: Path, cluster_id: str, admin: tuple[str, str] | None = None) -> None:
    """Format a node's log folder for `cluster_id` (once: Kafka refuses an unformatted folder).
    With `admin` (user, password), its SCRAM user is written into the first metadata: on a
    broker that asks who is calling, nobody else could create it."""
    scram = ["--add-scram", f"{SCRAM_MECHANISM}=[name={admin[0]},password={admin[1]}]"] if admin else []
    result = subprocess.run(
        ["java", "-cp", classpath(), f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
         "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props), *scram],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise InfraError(f"Formatting Kafka storage failed:\n{result.stdout}{result.stderr}")


def kafka_argv(props: Path) -> list[str]:
    """The broker's main class and arguments (after the JVM options)."""
    return [f"-Dlog4j2.configurationFile={LOG4J_CONFIG}", "kafka.Kafka", str(props)]


def new_cluster_id(random_bytes=lambda: uuid.uuid4().bytes) -> str:
    """A KRaft cluster id: 16 random bytes in URL-safe base64, as `random-uuid` prints, but
    never starting with "-" (the storage tool would read such an id as an option)."""
    while True:
        cid = base64.urlsafe_b64encode(random_bytes()).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by its owner only from the first byte: a class's broker
    properties and sign-in files hold a password, and a hub's students may share this machine."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file made earlier with wider permissions is narrowed too
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _prepare_kafka(settings: Settings, home: Path) -> list[str]:
    data_dir = home / "kafka" / "data"
    props = home / "kafka" / "server.properties"
    write_private(props, kafka_properties(settings, data_dir))
    admin = (settings.kafka_username, settings.kafka_password) if settings.kafka_username else None
    if not (data_dir / "meta.properties").exists():  # format storage once, keep it after
        format_storage(props, new_cluster_id(), admin)
    return kafka_argv(props)


def _prepare_mongo(settings: Settings, home: Path) -> list[str]:
    """The MongoDB server's command line (Java options excluded)."""
    port = str(settings.mongodb_host_port[1])
    if mongo_server(settings) == "secantus":
        data_dir = home / "secantus"
        data_dir.mkdir(parents=True, exist_ok=True)
        # --sync-on-commit: a write acknowledged with j=True is on disk, as on mongod. The
        # processor writes in batches, so this costs little (measured in the README).
        # --standalone: a plain server, not a one-member replica set. The lab uses no change
        # streams or MongoDB transactions, and pymongo then skips the retryable-write
        # bookkeeping on every write (the processor retries a failed batch itself): inserts
        # measured 10-20 % faster (bench/results/processor.md, 2026-12-06).
        # A short oplog: it serves change streams, which the lab does not use, and by default
        # keeps 100,000 entries, which made a million-event load 1.8 times larger on disk.
        return [str(SECANTUS), "--host", "127.0.0.1", "--port", port, "--storage-path", str(data_dir),
                "--cache-size", memory(settings).secantus_cache, "--sync-on-commit", "--standalone",
                "--oplog-max-entries", "1000", "--oplog-retention-seconds", "600", "--log-level", "WARNING",
                *(["--auth"] if settings.mongodb_user else [])]
    if settings.mongodb_user:
        raise InfraError("MONGODB_URI names a user, and mongo-java-server has no users: a class's MongoDB "
                         "runs on SecantusDB (LAB_MONGO_SERVER=secantus).")
    data_file = home / "mongo" / "telemetry.mv"
    data_file.parent.mkdir(parents=True, exist_ok=True)
    return ["lab.MongoWireServer", "127.0.0.1", port, str(data_file)]


def command(service: Service, settings: Settings, home: Path) -> list[str]:
    """The full command line that starts `service` (prepares its data folder first)."""
    args = _prepare_kafka(settings, home) if service.name == "kafka" else _prepare_mongo(settings, home)
    return java(service, args) if service.heap else args  # no heap: not a Java server


def java(service: Service, args: list[str]) -> list[str]:
    """The command line that runs a Java main with `service`'s memory bounds."""
    return ["java", *service.heap, "-XX:+UseSerialGC", "-cp", classpath(), *args]


def start(service: Service, settings: Settings, home: Path) -> bool:
    """Start `service` unless it already runs. Returns True when it was started now."""
    if read_pid(service, home):
        return False
    if port_open(service.port):
        raise InfraError(
            f"Port {service.port} is already in use by another program, so {service.name} cannot start. "
            f"Stop that program (`ss -ltnp | grep {service.port}` shows it) or choose another port "
            f"with {'KAFKA_BOOTSTRAP_SERVERS' if service.name == 'kafka' else 'MONGODB_URI'}."
        )
    if service.name == "mongo" and settings.mongodb_user:
        from labkit.ops.infra import mongo_users

        mongo_users.ensure_admin_user(service, settings, home)  # before the first start with --auth
    spawn(service, command(service, settings, home), home)
    return True


def spawn(service: Service, argv: list[str], home: Path) -> int:
    """Start `argv` as `service`'s process, detached, logging to its log file; write its pid file."""
    log_file = service.log_file(home)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    service.pid_file(home).parent.mkdir(parents=True, exist_ok=True)
    # posix_spawn, not subprocess.Popen: the server must outlive this Python process, in
    # its own session (Ctrl+C in a terminal or notebook does not reach it), with its
    # output appended to its log file.
    pid = os.posix_spawnp(
        argv[0],
        argv,
        os.environ,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log_file), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )
    service.pid_file(home).write_text(str(pid))
    return pid


def wait_ready(service: Service, home: Path, ready, timeout: float = 90.0) -> None:
    """Poll `ready()` until it is true; raise InfraError with the log tail if the process dies
    or `timeout` seconds pass."""
    def alive_and_ready() -> bool:
        if not spawned_alive(service, home):  # no use waiting any longer
            raise InfraError(
                f"{service.name} exited during start-up. Last lines of {service.log_file(home)}:\n"
                + tail(service.log_file(home))
            )
        return ready()

    try:
        wait_until(alive_and_ready, timeout, poll_s=0.25, what=f"{service.name} to be ready")
    except TimeoutError:
        raise InfraError(
            f"{service.name} did not become ready within {timeout:.0f} s. Last lines of "
            f"{service.log_file(home)}:\n" + tail(service.log_file(home))
        ) from None


def spawned_alive(service: Service, home: Path) -> bool:
    """Is the process of `service`'s pid file alive? Right after a spawn the child's command
    line may not show the server's main class yet, so read_pid's identity check is too strict."""
    try:
        return _alive(int(service.pid_file(home).read_text()))
    except (FileNotFoundError, ValueError):
        return False


# ---------------------------------------------------------------- stop


def stop(service: Service, home: Path, timeout: float = 30.0) -> bool:
    """SIGTERM, wait, then SIGKILL. Returns True when a process was stopped now."""
    return bool(stop_together([service], home, timeout))


def stop_together(services: list[Service], home: Path, timeout: float = 30.0) -> list[Service]:
    """SIGTERM every running one of `services` at once, wait up to `timeout` for all, then
    SIGKILL what is left. At once, because the nodes of a cluster stopped one by one each
    wait for the others to take over their partitions. Returns the services stopped now."""
    running = [(s, pid) for s in services if (pid := read_pid(s, home)) is not None]
    for _, pid in running:
        _signal_group(pid, signal.SIGTERM)
    try:
        wait_until(lambda: not any(_alive(pid) for _, pid in running), timeout, poll_s=0.2, what="the services to stop")
    except TimeoutError:
        pass  # what still runs is killed now
    for service, pid in running:
        if _alive(pid):
            _signal_group(pid, signal.SIGKILL)
            _wait_gone(pid, poll_s=0.1)
        service.pid_file(home).unlink(missing_ok=True)
    return [s for s, _ in running]


#: After a SIGKILL, how long `kill` waits for the service's port to be free.
PORT_FREED_WITHIN_S = 10.0


def kill(service: Service, home: Path) -> None:
    """SIGKILL without cleanup, as a crash would (used by reliability tests). Returns once the
    process is gone and its port no longer answers (at most PORT_FREED_WITHIN_S after it is
    gone): a restart right after must not find the port still taken by the dying server (a
    fresh-clone run once failed "port 27117 is already in use" just after a kill)."""
    pid = read_pid(service, home)
    if pid is not None:
        _signal_group(pid, signal.SIGKILL)
        _wait_gone(pid, poll_s=0.05)
        try:
            wait_until(lambda: not port_open(service.port), PORT_FREED_WITHIN_S, poll_s=0.05,
                       what=f"port {service.port} to be free")
        except TimeoutError:
            pass  # another program holds it: start() says so, with the fix


def _wait_gone(pid: int, poll_s: float) -> None:
    """Return once a killed process is gone. No time limit: SIGKILL cannot be ignored, and the
    caller must not go on (restart a server on its port, say) while it still runs."""
    wait_until(lambda: not _alive(pid), math.inf, poll_s=poll_s, what=f"process {pid} to end")


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def _alive(pid: int) -> bool:
    """Does `pid` still run? A zombie does not: it has exited and waits to be reaped."""
    if pid <= 0:  # a damaged pid file: to waitpid, 0 and -1 mean "any child"
        return False
    try:
        # Reap it if it is our child, so it does not linger as a zombie.
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:  # not our child: its own parent reaps it
        pass
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:  # no such process (or not ours to look at)
        return False
