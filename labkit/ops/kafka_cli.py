"""Kafka's own command-line tools (kafka-topics, kafka-consumer-groups, ...), run from the lab's
pinned Kafka jars: no Kafka download and no Docker needed.

    python -m labkit kafka --list                                        # the tools there are
    python -m labkit kafka topics --describe --topic car.telemetry.v1
    python -m labkit kafka consumer-groups --describe --group telemetry-processor
    bin/kafka-consumer-groups --describe --group telemetry-processor     # the same, as engineers type it

    >>> from labkit.ops import kafka_cli
    >>> print(kafka_cli.run("consumer-groups", "--describe", "--group", "telemetry-processor").stdout)

A tool is a Java main class. Running one is what Kafka's `bin/kafka-*.sh` scripts do:
`java -cp <jars> <class> args...`, plus `--bootstrap-server` from the settings when the
arguments name no cluster. The version is the one pinned in infra/local/pom.xml.

Where the classes are: the broker's jars (infra/local/target/lib) hold only a few tools. In
Kafka 4 most of them are in `org.apache.kafka.tools` (older guides name `kafka.admin.*` and
`kafka.tools.*` classes), in the artifact org.apache.kafka:kafka-tools. That one jar is
fetched with Maven on first use, next to the broker's (infra/local/target/tools). Its other
dependencies are the broker's own jars, already there, except Kafka Connect's (tens of MB),
which only the Connect plugin tool needs, and it is not offered here.

The tools log through log4j. Kafka's scripts show warnings, which for a broker that is down
means the same "Connection to node -1 could not be established" line over and over for a
minute. Here the tools log errors only, to stderr (warnings with `python -m labkit --verbose
kafka ...`), and an unreachable broker is reported before the tool starts, with the fix.

Pure part (no Java needed, tested without it): TOOLS, `resolve`, `tool_args`, `java_argv`,
`format_tools`. I/O part: `ensure_tools`, `run` (a notebook: output captured, with a timeout)
and `interactive` (a terminal: the tool reads and writes the terminal, its exit code returned).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from labkit.config import Settings
from labkit.ops import preflight
from labkit.ops.infra import local
from labkit.ops.infra.local import InfraError

#: The kafka-tools jar (and the tools' log4j configuration) live here, beside the pinned jars.
#: A `mvn clean package` after a pom change empties it; the next tool run fetches the new version.
TOOLS_DIR = local.POM_DIR / "target" / "tools"
LOG4J_CONFIG = TOOLS_DIR / "log4j2-tools.properties"
#: The Maven plugin that copies one jar; the same version infra/local/pom.xml uses.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
#: A tool is a short-lived client: a small heap, the collector that starts fastest, and only
#: the quick compiler (JIT tier 1), which halves a tool's start-up (about 1 s instead of 2).
JVM_OPTIONS = ("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
HELP_OPTIONS = ("-h", "--help", "--version")

# Errors only, on stderr: stdout carries nothing but the tool's own output (a console
# consumer's messages). `-Dlabkit.kafka.log.level=warn` (the --verbose flag) shows warnings.
LOG4J_PROPERTIES = """\
# Written by labkit.ops.kafka_cli for Kafka's command-line tools.
status = error
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = %p %m%n
rootLogger.level = ${sys:labkit.kafka.log.level:-error}
rootLogger.appenderRef.err.ref = err
"""


@dataclass(frozen=True)
class Tool:
    """One of Kafka's tools: its Java main class, and the options that name the cluster."""

    main_class: str
    summary: str
    #: If the arguments contain none of these, `--bootstrap-server <settings'>` is added.
    #: Empty for a tool that reads files, not a cluster.
    address_options: tuple[str, ...] = ("--bootstrap-server",)
    #: The option that names a file of client settings (the sign-in on a class's secured broker).
    config_option: str = "--command-config"


#: Name (as in `kafka-<name>.sh`) -> tool, for the Kafka version pinned in infra/local/pom.xml.
#: tests/unit/test_kafka_cli.py checks that every class is in the jars.
TOOLS: dict[str, Tool] = {
    "topics": Tool("org.apache.kafka.tools.TopicCommand", "create, list, describe, alter and delete topics"),
    "consumer-groups": Tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                            "list and describe groups (members, offsets, lag); reset their offsets"),
    "console-consumer": Tool("org.apache.kafka.tools.consumer.ConsoleConsumer",
                             "print a topic's messages (--max-messages N ends it)", config_option="--consumer.config"),
    "console-producer": Tool("org.apache.kafka.tools.ConsoleProducer", "send each line of stdin as a message",
                             config_option="--producer.config"),
    "get-offsets": Tool("org.apache.kafka.tools.GetOffsetShell", "each partition's earliest or latest offset"),
    "configs": Tool("kafka.admin.ConfigCommand", "show or change a topic's or broker's settings (retention, ...)",
                    ("--bootstrap-server", "--bootstrap-controller")),
    "transactions": Tool("org.apache.kafka.tools.TransactionsCommand", "list and describe transactions"),
    "metadata-quorum": Tool("org.apache.kafka.tools.MetadataQuorumCommand", "the KRaft controllers and their lag",
                            ("--bootstrap-server", "--bootstrap-controller")),
    "dump-log": Tool("kafka.tools.DumpLogSegments", "print a log segment file from a broker's data folder", ()),
}


class UnknownTool(ValueError):
    """`name` is not one of TOOLS; the message lists those there are."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"unknown Kafka tool {name!r}; the tools are: {', '.join(TOOLS)} "
                         f"(`python -m labkit kafka --list` says what each does)")


# ---------------------------------------------------------------- pure: from a name to a command line


def resolve(name: str) -> tuple[str, Tool]:
    """The tool called `name`. Kafka's own names work too ("kafka-topics", "kafka-topics.sh"),
    since that is how guides write them. Raises UnknownTool."""
    short = name.removesuffix(".sh").removeprefix("kafka-")
    if short not in TOOLS:
        raise UnknownTool(name)
    return short, TOOLS[short]


def has_option(args: Sequence[str], options: Sequence[str]) -> bool:
    """Do `args` contain one of `options`, as `--opt value` or `--opt=value`?"""
    return any(arg == option or arg.startswith(option + "=") for arg in args for option in options)


def tool_args(name: str, args: Sequence[str], bootstrap_servers: str, sign_in: str | None = None) -> list[str]:
    """The main class and its arguments: `args`, after `--bootstrap-server <bootstrap_servers>`
    unless `args` name a cluster themselves, and after the tool's client-settings option naming
    the file `sign_in` when given (and `args` name none). First, because some tools
    (transactions, metadata-quorum) read them only before their sub-command."""
    _, tool = resolve(name)
    added = [] if not tool.address_options or has_option(args, tool.address_options) else ["--bootstrap-server", bootstrap_servers]
    if sign_in and tool.address_options and not has_option(args, (tool.config_option,)):
        added += [tool.config_option, sign_in]
    return [tool.main_class, *added, *args]


def client_properties(settings: Settings) -> str:
    """The Java clients' settings for the settings' Kafka user (pure): what a tool needs to sign
    in to a class's secured broker (labkit.ops.infra.local.secured_properties)."""
    from labkit.config import SCRAM_MECHANISM

    return "\n".join([
        "security.protocol=SASL_PLAINTEXT",
        f"sasl.mechanism={SCRAM_MECHANISM}",
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{settings.kafka_username}" password="{settings.kafka_password}";',
        "",
    ])


def _sign_in_file(settings: Settings) -> str | None:
    """A file with the sign-in for the tools (readable by its owner only), or None without a user."""
    if not settings.kafka_username:
        return None
    path = settings.lab_home / "run" / f"kafka-client-{settings.kafka_username}.properties"
    local.write_private(path, client_properties(settings))
    return str(path)


def java_argv(name: str, args: Sequence[str], settings: Settings, verbose: bool = False) -> list[str]:
    """The whole command line that runs tool `name` with `args` against the settings' Kafka."""
    level = ["-Dlabkit.kafka.log.level=warn"] if verbose else []
    if resolve(name)[0] == "console-consumer" and settings.student and not has_option(args, ("--group",)):
        # Its own group is "console-consumer-<n>", outside the student's corner: a class's broker
        # refuses it (and the tool prints nothing), and on an open one it stays behind after a reset.
        args = [*args, "--group", f"{settings.student}.console-consumer-{uuid.uuid4().hex[:8]}"]
    return ["java", *JVM_OPTIONS, f"-Dlog4j2.configurationFile={LOG4J_CONFIG}", *level,
            "-cp", classpath(), *tool_args(name, args, settings.kafka_bootstrap_servers, _sign_in_file(_for(args, settings)))]


def classpath() -> str:
    """The broker's pinned jars and the tools jar."""
    return os.pathsep.join([local.classpath(), str(TOOLS_DIR / "*")])


def bootstrap_of(args: Sequence[str]) -> str | None:
    """The value of `--bootstrap-server` in `args`, or None."""
    for i, arg in enumerate(args):
        if arg == "--bootstrap-server" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--bootstrap-server="):
            return arg.split("=", 1)[1]
    return None


def format_tools(version: str | None) -> str:
    """The tools as a table: name, what it does, Java class (`python -m labkit kafka --list`).
    `version`: the Kafka version of the jars, None when they are not fetched yet."""
    width = max(map(len, TOOLS))
    rows = [f"  {name:<{width}}  {tool.summary}\n  {'':<{width}}  {tool.main_class}" for name, tool in TOOLS.items()]
    jars = f"Kafka {version}" if version else "not fetched yet: the first tool run fetches them"
    return "\n".join([f"Kafka's command-line tools, from the lab's pinned jars ({jars}):", *rows, "",
                      "Run one with `python -m labkit kafka TOOL ARGS...`; `TOOL --help` lists its options."])


# ---------------------------------------------------------------- I/O: jars, broker check, running


def kafka_version() -> str | None:
    """The Kafka version of the installed jars (kafka-clients-<version>.jar), None when not built."""
    jars = sorted(local.LIB_DIR.glob("kafka-clients-*.jar"))
    return jars[0].name.removeprefix("kafka-clients-").removesuffix(".jar") if jars else None


def ensure_tools(log=print) -> None:
    """Java 17+, the pinned jars and the kafka-tools jar of the same version: fetch with Maven
    what is missing (first use only). Raises InfraError saying what to install."""
    local.require_tools()  # Java 17+; Maven too when the jars were never fetched
    local.ensure_jars(log)  # what `python -m labkit infra up` does first, Docker or not
    version = kafka_version()
    jar = TOOLS_DIR / f"kafka-tools-{version}.jar"
    if not jar.exists():
        _fetch_tools_jar(version, log)
    if not LOG4J_CONFIG.exists() or LOG4J_CONFIG.read_text() != LOG4J_PROPERTIES:
        LOG4J_CONFIG.write_text(LOG4J_PROPERTIES)


def _fetch_tools_jar(version: str | None, log) -> None:
    if version is None or not shutil.which("mvn"):
        raise InfraError("Kafka's command-line tools come in one more jar, fetched with Maven on first use: "
                         "install Maven (e.g. `apt-get install maven`), then run the command again.")
    log(f"Fetching Kafka {version}'s command-line tools (org.apache.kafka:kafka-tools) with Maven (first use only)...")
    started = time.monotonic()
    TOOLS_DIR.mkdir(parents=True, exist_ok=True)
    # `copy` takes this one jar, not its dependencies: those are the broker's, in target/lib.
    result = subprocess.run(
        ["mvn", "-q", "-B", f"{DEPENDENCY_PLUGIN}:copy", f"-Dartifact=org.apache.kafka:kafka-tools:{version}",
         f"-DoutputDirectory={TOOLS_DIR}"],
        cwd=TOOLS_DIR, capture_output=True, text=True,  # no pom.xml there: Maven runs without a project
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise InfraError(f"Maven could not fetch org.apache.kafka:kafka-tools:{version} "
                         f"(it needs Maven Central, or a mirror in ~/.m2/settings.xml, once):\n{tail}")
    log(f"  ready in {time.monotonic() - started:.1f} s")


def check_broker(argv: Sequence[str], settings: Settings) -> None:
    """Raise preflight.ServiceUnavailable (with the fix) when the cluster the command names
    does not answer. Without it, a tool waits a minute and then prints a TimeoutException.
    Help and version requests, and tools that read files, need no broker."""
    bootstrap = bootstrap_of(argv)
    if bootstrap is None or has_option(argv, HELP_OPTIONS):
        return
    preflight.ensure(_for(argv, settings).replace(kafka_bootstrap_servers=bootstrap), "kafka")


def _for(args: Sequence[str], settings: Settings) -> Settings:
    """The settings for the cluster `args` name: the settings' own user signs in to the settings'
    own cluster only (another, such as notebook 11's own brokers, is asked without one)."""
    if settings.is_own_cluster(bootstrap_of(args)):
        return settings
    return settings.replace(kafka_username="", kafka_password="")


def run(tool: str, *args: str, settings: Settings | None = None, timeout: float = 60.0, input: str | None = None,
        verbose: bool = False) -> subprocess.CompletedProcess[str]:
    """Run `tool` with `args`, its output captured: for a notebook cell.

    Returns the CompletedProcess: `.stdout` (print it), `.stderr`, `.returncode` (not checked:
    a tool's errors, and most tools' `--help` text, are in `.stderr`; `--help` exits with 1, as
    in Kafka's scripts).
    `input`: text for the tool's stdin (console-producer: one message per line).
    Raises UnknownTool, InfraError (Java or jars missing), preflight.ServiceUnavailable (the
    broker is down), or TimeoutError after `timeout` seconds, with the output so far (the tool
    is stopped then: give console-consumer `--max-messages` or `--timeout-ms`).
    """
    settings = settings or Settings.from_env()
    argv = java_argv(tool, args, settings, verbose)
    ensure_tools()
    check_broker(argv, settings)
    try:
        return subprocess.run(argv, input=input, capture_output=True, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        # The output captured so far comes as bytes, whatever `text=` says.
        so_far = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        raise TimeoutError(f"kafka-{resolve(tool)[0]} did not finish within {timeout:.0f} s and was stopped; "
                           f"output so far:\n{so_far}") from None


def interactive(tool: str, args: Sequence[str], settings: Settings, verbose: bool = False) -> int:
    """Run `tool` in this terminal (its stdin, stdout and stderr are the terminal's) and return
    its exit code. Ctrl+C goes to the tool, which stops itself as Kafka's scripts do (the
    console consumer prints how many messages it read). Call from the main thread.
    Raises UnknownTool, InfraError or preflight.ServiceUnavailable before starting it."""
    argv = java_argv(tool, args, settings, verbose)
    ensure_tools(log=lambda line: print(line, file=sys.stderr))  # stdout is the tool's alone
    check_broker(argv, settings)
    # The terminal sends Ctrl+C to both processes: this one must not die before the tool has
    # finished (a no-op handler, not SIG_IGN, which the tool would inherit and keep).
    previous = signal.signal(signal.SIGINT, lambda *_: None)
    try:
        return subprocess.call(argv)
    finally:
        signal.signal(signal.SIGINT, previous)

