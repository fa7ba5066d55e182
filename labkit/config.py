"""Lab settings: one immutable object, built once at an entry point and passed down.

Every value comes from an environment variable, else from an optional git-ignored `.env`
file at the repository root, else from a localhost default. Nothing here connects to
anything: building settings is pure, so it is safe at import time and in unit tests.

    >>> from labkit.config import Settings
    >>> s = Settings.from_env({})          # defaults only
    >>> s.kafka_bootstrap_servers
    'localhost:9092'
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from pydantic import ValidationError, create_model
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The repository root (labkit is a package at the root), whatever the working directory.
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Topics:
    """The lab's four Kafka topics. `telemetry` carries the cars' events, keyed by car id;
    the processor writes the messages it rejects (why, and from where) to `dlq`, the anomalies
    it detects to `anomaly` and its pipeline metrics windows to `metrics`."""

    telemetry: str = "car.telemetry.v1"
    dlq: str = "car.telemetry.dlq.v1"
    anomaly: str = "car.telemetry.anomaly.v1"
    metrics: str = "car.telemetry.metrics.v1"

    def all(self) -> tuple[str, ...]:
        return (self.telemetry, self.dlq, self.anomaly, self.metrics)


@dataclass(frozen=True)
class Collections:
    """MongoDB collection names inside the `telemetry` database."""

    telemetry: str = "car_telemetry"
    anomalies: str = "anomalies"
    metrics: str = "pipeline_metrics"
    latest: str = "car_latest"
    rollups: str = "car_rollups"  # per-car 10 s and one-minute summaries (labkit.store.rollups)
    dead_letters: str = "dead_letters"  # every DLQ record, for the API (labkit.process.dlq)
    dead_letter_counts: str = "dead_letter_counts"  # per reason and hour, rebuilt from dead_letters
    anomaly_counts: str = "anomaly_counts"  # per 10 s bucket, every type's count, rebuilt from anomalies
    windows: str = "event_windows"  # event-time windows as published, with their history (labkit.process.windows)
    too_late: str = "too_late_events"  # valid events that arrived after their window was final
    assignments: str = "consumer_assignments"  # which processor had which partitions when (labkit.scenarios.workers)
    owed: str = "derived_owed"  # per group and partition: from when rollups and latest states are owed (labkit.process.derived)


@dataclass(frozen=True)
class Settings:
    """Where every service lives and what things are called.

    Build it with :meth:`from_env`; change one value with :meth:`replace`.
    """

    kafka_bootstrap_servers: str = "localhost:9092"
    mongodb_uri: str = "mongodb://localhost:27017"
    mongodb_db: str = "telemetry"
    api_url: str = "http://localhost:8000"
    grafana_url: str = "http://localhost:3000"
    topics: Topics = Topics()
    collections: Collections = Collections()
    telemetry_partitions: int = 4
    #: "auto" uses Docker when an engine answers, else local processes.
    infra_mode: str = "auto"
    #: The local MongoDB-wire server: "secantus" (WiredTiger: indexes, explain), "java"
    #: (mongo-java-server on H2: no index use), or "auto" (secantus where it is installed).
    mongo_server: str = "auto"
    #: Heaps and caches of the local servers (labkit.ops.infra.local.PROFILES): "standard", or
    #: "small" for a machine or hub container with 4 GB of memory.
    memory_profile: str = "standard"
    #: Folder for local service data, logs and pid files (git-ignored).
    lab_home: Path = REPO_ROOT / ".lab"
    #: Whose corner of a shared stack this is ("" on a student's own machine). Every sandbox
    #: name carries it (labkit.ops.sandbox), so students of one class never meet. From
    #: LAB_STUDENT, else from the JUPYTERHUB_USER a JupyterHub sets (see `student_tag`).
    student: str = ""
    #: A SCRAM user on a Kafka that asks for one (a class's stack: labkit.teach.roster); empty
    #: on the lab's own open broker. With a user set, every labkit client signs in as it.
    kafka_username: str = ""
    kafka_password: str = dataclasses.field(default="", repr=False)
    #: A file the API servers labkit starts (labkit.api.runner) append a line per request to;
    #: empty: no access log. For sizing a class (bench/bench_class.py counts a student's requests).
    api_access_log: str = ""

    # Environment variable -> (field path, converter). One table, so the README can list it.
    ENV_VARS = {
        "KAFKA_BOOTSTRAP_SERVERS": ("kafka_bootstrap_servers", str),
        "MONGODB_URI": ("mongodb_uri", str),
        "MONGODB_DB": ("mongodb_db", str),
        "API_URL": ("api_url", str),
        "GRAFANA_URL": ("grafana_url", str),
        "TELEMETRY_PARTITIONS": ("telemetry_partitions", int),
        "LAB_INFRA": ("infra_mode", str),
        "LAB_MONGO_SERVER": ("mongo_server", str),
        "LAB_MEMORY": ("memory_profile", str),
        "LAB_HOME": ("lab_home", Path),
        "LAB_STUDENT": ("student", str),
        "KAFKA_USERNAME": ("kafka_username", str),
        "KAFKA_PASSWORD": ("kafka_password", str),
        "LAB_API_ACCESS_LOG": ("api_access_log", str),
        "TOPIC_TELEMETRY": ("topics.telemetry", str),
        "TOPIC_DLQ": ("topics.dlq", str),
        "TOPIC_ANOMALY": ("topics.anomaly", str),
        "TOPIC_METRICS": ("topics.metrics", str),
        "COLLECTION_TELEMETRY": ("collections.telemetry", str),
        "COLLECTION_ANOMALIES": ("collections.anomalies", str),
        "COLLECTION_METRICS": ("collections.metrics", str),
        "COLLECTION_LATEST": ("collections.latest", str),
        "COLLECTION_ROLLUPS": ("collections.rollups", str),
        "COLLECTION_DEAD_LETTERS": ("collections.dead_letters", str),
        "COLLECTION_DEAD_LETTER_COUNTS": ("collections.dead_letter_counts", str),
        "COLLECTION_ANOMALY_COUNTS": ("collections.anomaly_counts", str),
        "COLLECTION_WINDOWS": ("collections.windows", str),
        "COLLECTION_TOO_LATE": ("collections.too_late", str),
        "COLLECTION_ASSIGNMENTS": ("collections.assignments", str),
        "COLLECTION_OWED": ("collections.owed", str),
    }

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, dotenv: Path | None = None
    ) -> Settings:
        """Settings from `environ` (default: os.environ) over `dotenv` over defaults.

        `dotenv` defaults to `<repo>/.env`; a missing file is fine. python-dotenv reads it:
        `export KEY=value`, `#` comments, quotes (`A="a #b"` is `a #b`), and `${VAR}` expands
        from os.environ. Only the variables of ENV_VARS count; an empty value counts as unset.
        Raises ValueError naming the variable when a value cannot be converted or is out of range.
        """
        environ = os.environ if environ is None else environ
        # Passed as arguments, these win over the .env file (see _EnvBase).
        given = {var: value for var, value in environ.items() if var in cls.ENV_VARS and value != ""}
        try:
            env = _EnvSettings(_env_file=REPO_ROOT / ".env" if dotenv is None else dotenv, **given)
            # The hub's login is the last resort: a LAB_STUDENT in the .env (a class's connection
            # file, whose tag the broker's ACLs know) wins over it.
            if env.LAB_STUDENT is None and environ.get("JUPYTERHUB_USER"):
                env.LAB_STUDENT = student_tag(environ["JUPYTERHUB_USER"])
        except ValidationError as error:
            # pydantic's message is long: say which variable, its value and the type it needs.
            bad = error.errors()[0]
            var = bad["loc"][0]
            raise ValueError(f"{var}={bad['input']!r} is not a valid {cls.ENV_VARS[var][1].__name__}") from None

        top: dict[str, object] = {}
        nested: dict[str, dict[str, object]] = {"topics": {}, "collections": {}}
        for var, value in env.model_dump(exclude_none=True).items():  # the variables that were set
            group, _, name = cls.ENV_VARS[var][0].rpartition(".")
            (nested[group] if group else top)[name] = value

        settings = cls(
            **top,
            topics=Topics(**nested["topics"]),
            collections=Collections(**nested["collections"]),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Raise ValueError if a value cannot work (caught early, with the variable name)."""
        if self.infra_mode not in ("auto", "local", "docker"):
            raise ValueError(f"LAB_INFRA must be auto, local or docker, not {self.infra_mode!r}")
        if self.mongo_server not in ("auto", "secantus", "java"):
            raise ValueError(f"LAB_MONGO_SERVER must be auto, secantus or java, not {self.mongo_server!r}")
        if self.memory_profile not in ("standard", "small"):
            raise ValueError(f"LAB_MEMORY must be standard or small, not {self.memory_profile!r}")
        if self.student and not STUDENT_TAG.fullmatch(self.student):
            raise ValueError(f"LAB_STUDENT must be 1-24 lower-case letters, digits or '-', starting with a "
                             f"letter or digit and not with 'lab', not {self.student!r} "
                             f"(student_tag({self.student!r}) gives {student_tag(self.student)!r})")
        # A sandbox's own topics (`ann.lab09.car.telemetry.v1`, which a worker process is handed) are
        # the corner's; a shared topic that starts with the tag would be taken into it.
        sandboxed = re.compile(re.escape(self.student) + r"\.lab[0-9a-z]+\.")
        shared = [t for t in self.topics.all()
                  if self.student and t.startswith(self.student + ".") and not sandboxed.match(t)]
        if shared:
            raise ValueError(f"LAB_STUDENT={self.student!r} would make {shared[0]} part of the student's corner: "
                             f"choose another tag (for example 's-{self.student}')")
        if bool(self.kafka_username) != bool(self.kafka_password):
            raise ValueError("KAFKA_USERNAME and KAFKA_PASSWORD go together: set both (a class's broker) or neither")
        if self.telemetry_partitions < 1:
            raise ValueError("TELEMETRY_PARTITIONS must be at least 1")
        if not self.mongodb_uri.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError(f"MONGODB_URI must start with mongodb:// or mongodb+srv://, not {self.mongodb_uri!r}")
        for name in ("api_url", "grafana_url"):
            if not getattr(self, name).startswith(("http://", "https://")):
                raise ValueError(f"{name.upper()} must be an http(s) URL")

    def __repr__(self) -> str:
        """Every field but the passwords (MONGODB_URI's is shown as ***): printed settings are safe to share."""
        shown = {f.name: self.mongodb_uri_shown if f.name == "mongodb_uri" else getattr(self, f.name)
                 for f in dataclasses.fields(self) if f.repr}
        return f"Settings({', '.join(f'{name}={value!r}' for name, value in shown.items())})"

    def replace(self, **changes) -> Settings:
        """A copy with some fields changed (settings are immutable)."""
        return dataclasses.replace(self, **changes)

    def as_env(self) -> dict[str, str]:
        """The environment variables that rebuild these settings in a child process."""
        env = {}
        for var, (path, _) in self.ENV_VARS.items():
            value = self
            for part in path.split("."):
                value = getattr(value, part)
            env[var] = str(value)
        return env

    # Derived values: computed, never stored twice.
    @property
    def kafka_addresses(self) -> list[tuple[str, int]]:
        """Every bootstrap server as (host, port), in the order listed (port 9092 when absent).

        A client needs only one of them to answer to find the whole cluster, so "is Kafka up?"
        asks each in turn (labkit.ops.preflight, labkit.ops.infra.readiness)."""
        listed = [entry.strip() for entry in self.kafka_bootstrap_servers.split(",") if entry.strip()]
        addresses = []
        for entry in listed or ["localhost"]:  # nothing listed: Kafka's usual address
            host, _, port = entry.rpartition(":") if ":" in entry else (entry, "", "")
            addresses.append((host or "localhost", int(port or 9092)))
        return addresses

    @property
    def kafka_auth(self) -> dict[str, str]:
        """kafka-python's keyword arguments that sign a client in (SASL/SCRAM-SHA-256 over
        plain TCP, as a class's broker asks: labkit.ops.infra.local); {} without a user.

            KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, **settings.kafka_auth)"""
        if not self.kafka_username:
            return {}
        return dict(security_protocol="SASL_PLAINTEXT", sasl_mechanism=SCRAM_MECHANISM,
                    sasl_plain_username=self.kafka_username, sasl_plain_password=self.kafka_password)

    def is_own_cluster(self, bootstrap: str | None) -> bool:
        """Does `bootstrap` (None: the settings' own) name only servers of the settings' Kafka?
        The settings' user signs in there and nowhere else (notebook 11's own brokers are open)."""
        if not bootstrap:
            return True
        theirs = self.replace(kafka_bootstrap_servers=bootstrap).kafka_addresses
        return set(theirs) <= set(self.kafka_addresses)

    @property
    def kafka_host_port(self) -> tuple[str, int]:
        """The first bootstrap server as (host, port): where the lab's own broker listens."""
        return self.kafka_addresses[0]

    @property
    def mongodb_host_port(self) -> tuple[str, int]:
        """Host and port of a plain `mongodb://host:port` URI (27017 when absent)."""
        parts = urlsplit(self.mongodb_uri)
        host = (parts.hostname or "localhost").split(",")[0]
        try:
            port = parts.port or 27017
        except ValueError:  # several hosts in one URI: use the default port
            port = 27017
        return host, port

    @property
    def mongodb_user(self) -> tuple[str, str] | None:
        """The (user, password) in MONGODB_URI (`mongodb://ann:secret@host/?authSource=admin`),
        None when it names no user: a class's MongoDB asks who is calling (labkit.teach.roster)."""
        parts = urlsplit(self.mongodb_uri)
        if not parts.username:
            return None
        return unquote(parts.username), unquote(parts.password or "")

    @property
    def mongodb_auth_db(self) -> str:
        """The database MONGODB_URI signs in against: its authSource, else the database in its
        path, else `admin` (the driver's rule)."""
        parts = urlsplit(self.mongodb_uri)
        given = {k.lower(): v for k, v in parse_qsl(parts.query)}
        return given.get("authsource") or unquote(parts.path.strip("/")) or "admin"

    @property
    def mongodb_uri_shown(self) -> str:
        """MONGODB_URI with its password hidden, for messages and logs."""
        parts = urlsplit(self.mongodb_uri)
        if not parts.password:
            return self.mongodb_uri
        return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))

    @property
    def api_host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.api_url)
        return parts.hostname or "localhost", parts.port or 80

    @property
    def grafana_host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.grafana_url)
        return parts.hostname or "localhost", parts.port or 80


#: How a client proves its Kafka user: salted challenge and response, the password never sent.
SCRAM_MECHANISM = "SCRAM-SHA-256"

#: A student's tag: what every name of their corner starts with. No '.' or '_' inside, since
#: those end the tag in a name ("ann." cannot be the start of "ann-b."), and never "lab..."
#: (the names of a stack with no students start with "lab").
STUDENT_TAG = re.compile(r"(?!lab)[a-z0-9][a-z0-9-]{0,23}")


def student_tag(user: str) -> str:
    """A user name (a JupyterHub login, a roster line) as a student tag (pure):
    lower case, each run of other characters as one '-', at most 24 characters, and
    's-' in front of a name that starts with "lab" or is "car". `student_tag("Ann.Lee@uni.edu")` is
    'ann-lee-uni-edu'."""
    tag = re.sub(r"[^a-z0-9]+", "-", user.lower()).strip("-")
    if tag.startswith("lab") or tag == "car":  # "car." starts the lab's own topics
        tag = "s-" + tag
    return tag[:24].rstrip("-")


class _EnvBase(BaseSettings):
    """How the variables are read: exact names, empty means unset, unknown names ignored."""

    model_config = SettingsConfigDict(case_sensitive=True, env_ignore_empty=True, extra="ignore")

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        # Keyword arguments (from_env's `environ`) first, then the .env file. os.environ is not
        # a source here, so from_env({}) ignores the shell's variables (only a `${VAR}` written
        # in .env is expanded from it, as python-dotenv does).
        return init_settings, dotenv_settings


# One optional field per variable, typed by its converter, so ENV_VARS stays the one table.
_EnvSettings = create_model(
    "_EnvSettings", __base__=_EnvBase,
    **{var: (convert | None, None) for var, (_, convert) in Settings.ENV_VARS.items()},
)
