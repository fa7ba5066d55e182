"""Kafka's command-line tools from the pinned jars (labkit.ops.kafka_cli): the command line
built for each tool, every tool's class present in the jars, and real runs that need no broker
(`--help`, `--version`). Talking to a broker is the integration tier's."""

import os
import shutil
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from labkit import cli
from labkit.config import Settings
from labkit.ops import kafka_cli, preflight
from labkit.ops.infra import local

pytestmark = pytest.mark.unit

NO_DOTENV = Path("/nonexistent/.env")  # unit tests never read a developer's .env
# Port 1 is closed: should anything here try to reach Kafka, it fails at once.
SETTINGS = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, dotenv=NO_DOTENV)


def _jars_ready() -> str | None:
    """Why the jars cannot be used here, or None when Java, the pinned jars and the tools jar are there."""
    version = kafka_cli.kafka_version()
    if version is None:
        return "the pinned Kafka jars are not built (`python -m labkit infra up` builds them)"
    if not (kafka_cli.TOOLS_DIR / f"kafka-tools-{version}.jar").exists():
        return "the kafka-tools jar is not fetched yet (any `python -m labkit kafka TOOL` fetches it)"
    if not shutil.which("java"):
        return "Java is not installed"
    return None


needs_jars = pytest.mark.skipif(_jars_ready() is not None, reason=str(_jars_ready()))


# ---------------------------------------------------------------- the command line


def test_the_settings_bootstrap_server_is_added_first_when_none_is_given():
    assert kafka_cli.tool_args("consumer-groups", ["--describe", "--group", "g"], "localhost:9092") == [
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        "--bootstrap-server", "localhost:9092", "--describe", "--group", "g"]


@pytest.mark.parametrize("given", [["--bootstrap-server", "other:9092"], ["--bootstrap-server=other:9092"]])
def test_a_bootstrap_server_given_by_the_user_is_kept_and_none_added(given):
    argv = kafka_cli.tool_args("topics", ["--list", *given], "localhost:9092")
    assert argv == ["org.apache.kafka.tools.TopicCommand", "--list", *given]


def test_a_controller_address_counts_as_naming_the_cluster():
    argv = kafka_cli.tool_args("metadata-quorum", ["--bootstrap-controller", "localhost:9093", "describe"], "localhost:9092")
    assert "--bootstrap-server" not in argv


def test_a_tool_that_reads_files_gets_no_bootstrap_server():
    argv = kafka_cli.tool_args("dump-log", ["--files", "00000000000000000000.log"], "localhost:9092")
    assert argv == ["kafka.tools.DumpLogSegments", "--files", "00000000000000000000.log"]


def test_the_whole_command_runs_java_with_both_jar_folders_and_the_quiet_log_config():
    argv = kafka_cli.java_argv("topics", ["--describe"], SETTINGS)
    assert argv[0] == "java"
    classpath = argv[argv.index("-cp") + 1]
    assert str(local.LIB_DIR / "*") in classpath and str(kafka_cli.TOOLS_DIR / "*") in classpath
    assert f"-Dlog4j2.configurationFile={kafka_cli.LOG4J_CONFIG}" in argv
    assert argv[-4:] == ["org.apache.kafka.tools.TopicCommand", "--bootstrap-server", "127.0.0.1:1", "--describe"]
    assert "-Dlabkit.kafka.log.level=warn" in kafka_cli.java_argv("topics", [], SETTINGS, verbose=True)


def test_an_unknown_tool_is_refused_with_the_list_of_tools():
    with pytest.raises(kafka_cli.UnknownTool) as error:
        kafka_cli.tool_args("topic", [], "localhost:9092")
    assert error.value.name == "topic"
    assert all(name in str(error.value) for name in kafka_cli.TOOLS)


@pytest.mark.parametrize("name", ["topics", "kafka-topics", "kafka-topics.sh"])
def test_kafkas_own_script_names_work_too(name):
    assert kafka_cli.resolve(name)[0] == "topics"


def test_the_bootstrap_server_is_read_in_both_spellings():
    assert kafka_cli.bootstrap_of(["--topic", "t", "--bootstrap-server", "a:1"]) == "a:1"
    assert kafka_cli.bootstrap_of(["--bootstrap-server=b:2"]) == "b:2"
    assert kafka_cli.bootstrap_of(["--bootstrap-controller", "c:3"]) is None


def test_an_unreachable_broker_is_reported_before_the_tool_starts():
    argv = kafka_cli.java_argv("topics", ["--list"], SETTINGS)
    with pytest.raises(preflight.ServiceUnavailable, match="127.0.0.1:1"):
        kafka_cli.check_broker(argv, SETTINGS)
    kafka_cli.check_broker(kafka_cli.java_argv("topics", ["--help"], SETTINGS), SETTINGS)  # help needs no broker


# ---------------------------------------------------------------- the CLI


def test_kafka_list_names_every_tool_and_its_class(capsys):
    assert cli.main(["kafka", "--list"]) == 0
    out = capsys.readouterr().out
    for name, tool in kafka_cli.TOOLS.items():
        assert name in out and tool.main_class in out


def test_kafka_without_a_tool_lists_them_and_fails(capsys):
    assert cli.main(["kafka"]) == 2
    assert "consumer-groups" in capsys.readouterr().out


def test_kafka_with_an_unknown_tool_says_which_exist(capsys):
    assert cli.main(["kafka", "topic", "--list"]) == 2
    err = capsys.readouterr().err
    assert "unknown Kafka tool 'topic'" in err and "consumer-groups" in err


# ---------------------------------------------------------------- the real jars


def _classes_on_the_classpath() -> set[str]:
    """Every class name in the jars and folders of kafka_cli.classpath()."""
    names = set()
    for entry in kafka_cli.classpath().split(os.pathsep):
        path = Path(entry)
        if path.name == "*":
            for jar in path.parent.glob("*.jar"):
                with zipfile.ZipFile(jar) as archive:
                    names |= {n for n in archive.namelist() if n.endswith(".class")}
        elif path.is_dir():
            names |= {str(p.relative_to(path)) for p in path.rglob("*.class")}
    return {n.removesuffix(".class").replace("/", ".") for n in names}


@needs_jars
def test_every_tools_class_is_in_the_installed_jars():
    classes = _classes_on_the_classpath()
    missing = {name: tool.main_class for name, tool in kafka_cli.TOOLS.items() if tool.main_class not in classes}
    assert missing == {}


@needs_jars
def test_every_tool_runs_and_prints_its_usage():
    def usage(name: str) -> str:
        done = kafka_cli.run(name, "--help", settings=SETTINGS, timeout=60)
        return done.stdout + done.stderr

    with ThreadPoolExecutor(max_workers=3) as pool:  # a JVM start each (about 1 s): side by side
        outputs = dict(zip(kafka_cli.TOOLS, pool.map(usage, kafka_cli.TOOLS)))
    for name, output in outputs.items():
        assert "Exception" not in output, f"{name}: {output[:500]}"
        assert "usage" in output.lower() or "Option" in output, f"{name}: {output[:500]}"


@needs_jars
def test_the_cli_runs_a_tool_and_returns_its_exit_code(capfd, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    assert cli.main(["kafka", "topics", "--version"]) == 0
    assert capfd.readouterr().out.strip() == kafka_cli.kafka_version()


def test_on_a_class_broker_a_tool_signs_in_to_the_settings_cluster_only():
    ann = Settings(kafka_bootstrap_servers="class:9092", kafka_username="ann", kafka_password="pw")
    assert kafka_cli.tool_args("kafka-transactions", ["list"], "class:9092", "/run/ann.properties")[1:] == [
        "--bootstrap-server", "class:9092", "--command-config", "/run/ann.properties", "list"]
    assert "--consumer.config" in kafka_cli.tool_args("console-consumer", ["--topic", "t"], "class:9092", "/f")
    assert "--command-config" not in kafka_cli.tool_args("topics", ["--list"], "class:9092", None)
    assert 'username="ann" password="pw"' in kafka_cli.client_properties(ann)
    # Another cluster named on the command line (notebook 11's own brokers) is asked without the user.
    assert kafka_cli._for(["--bootstrap-server", "localhost:19192"], ann).kafka_username == ""
    assert kafka_cli._for(["--list"], ann).kafka_username == "ann"


def test_a_students_console_consumer_reads_in_a_group_of_their_corner():
    ann = Settings(student="ann")
    argv = kafka_cli.java_argv("console-consumer", ["--topic", "t"], ann)
    assert argv[argv.index("--group") + 1].startswith("ann.console-consumer-")
    assert "--group" not in kafka_cli.java_argv("console-consumer", ["--topic", "t"], Settings())
    given = kafka_cli.java_argv("console-consumer", ["--topic", "t", "--group", "ann.mine"], ann)
    assert given.count("--group") == 1
