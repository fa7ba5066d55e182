"""A notebook's own corner of the lab: its own topics, consumer groups and database.

All notebooks share one Kafka broker and one MongoDB server. If they also shared topics and
a database, each would read what the others (and its own earlier runs) left behind: a new
consumer group starts at the earliest offset, so notebook 02 would process notebook 01's
cars too, and its numbers would change with every run. A sandbox gives each notebook
names of its own, emptied when the notebook starts, so any order and any rerun give the
same numbers, and a run never reads more than its own data.

    >>> lab = sandbox.open(Settings.from_env(), "02")
    >>> lab.settings.topics.telemetry          # 'lab02.car.telemetry.v1'
    >>> lab.settings.mongodb_db                # 'lab02_telemetry'
    >>> lab.group("processor")                 # 'lab02.processor'
    >>> lab.now                                # a fixed "now", on a whole minute

`lab.now` is the notebook's clock: batches are simulated to end at it. It is rounded down to
a whole minute so that 10-second windows cut a batch at the same places on every run.

The lab's own topics and database (`car.telemetry.v1`, `telemetry`), which `make live` and
Grafana use, are never touched by a sandbox.

On a stack shared by a class, each student has a corner: with `settings.student` set (from
LAB_STUDENT or JUPYTERHUB_USER), every name starts with the student's tag, and opening a
sandbox empties that student's names only:

    >>> lab = sandbox.open(Settings.from_env({"LAB_STUDENT": "ann"}), "02")
    >>> lab.settings.topics.telemetry          # 'ann.lab02.car.telemetry.v1'
    >>> lab.settings.mongodb_db                # 'ann_lab02_telemetry'
    >>> lab.group("processor")                 # 'ann.lab02.processor'

A tag never contains '.' or '_' and never starts with "lab" (labkit.config.STUDENT_TAG), so
no student's prefix is the start of another's, or of the names of a stack without students.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from labkit.config import Settings, Topics
from labkit.ops import clients
from labkit.ops.infra.topics import ensure_topics, topic_plan
from labkit.ops.transient import is_transient
from labkit.ops.waiting import wait_until


@dataclass(frozen=True)
class Sandbox:
    """Names and clock of one notebook. Build it with :func:`open`."""

    name: str
    settings: Settings
    now: datetime

    @property
    def prefix(self) -> str:
        """What its topics, groups and transactional ids start with: `lab02.` (`ann.lab02.`)."""
        return kafka_prefix(self.settings, self.name)

    @property
    def database_prefix(self) -> str:
        """What its databases start with: `lab02_` (`ann_lab02_`)."""
        return database_prefix(self.settings, self.name)

    def group(self, role: str) -> str:
        """A consumer group name (or transactional id) inside the sandbox, e.g. `lab02.processor`."""
        return f"{self.prefix}{role}"

    def database(self, role: str) -> str:
        """An extra database's name inside the sandbox, e.g. `lab09_w1` (emptied by `open`)."""
        return f"{self.database_prefix}{role}"

    def topic(self, role: str, partitions: int = 1) -> str:
        """Create (if missing) an extra topic inside the sandbox, e.g. `lab02.by-hand`."""
        name = f"{self.prefix}{role}"
        ensure_topics(self.settings, {name: partitions})
        return name


def kafka_prefix(settings: Settings, name: str) -> str:
    """The start of sandbox `name`'s Kafka names: `lab02.`, or `ann.lab02.` for student ann."""
    return f"{settings.student}.lab{name}." if settings.student else f"lab{name}."


def database_prefix(settings: Settings, name: str) -> str:
    """The start of sandbox `name`'s database names: `lab02_`, or `ann_lab02_` for student ann."""
    return f"{settings.student}_lab{name}_" if settings.student else f"lab{name}_"


#: The notebooks' sandboxes (one per notebook, named by its number) and the databases each
#: makes beside its copy of the lab's database: 00's scratch collection, 06's practice dataset,
#: 09's one database per worker count (up to 8 workers). A class's MongoDB user is granted
#: exactly these names (labkit.teach.roster), since MongoDB's roles name whole databases, not
#: prefixes; tests/unit/test_sandbox.py checks the notebooks ask for no other.
NOTEBOOKS = tuple(f"{n:02d}" for n in range(12))
EXTRA_DATABASES = {"00": ("scratch",), "06": ("practice",), "09": tuple(f"w{n}" for n in range(1, 9))}


def corner_databases(settings: Settings) -> list[str]:
    """Every database the notebooks can make in `settings.student`'s corner (pure), e.g.
    `ann_lab00_telemetry`, `ann_lab00_scratch`, ..., `ann_lab09_w8`, ..., `ann_lab11_telemetry`."""
    return [database_prefix(settings, name) + role
            for name in NOTEBOOKS for role in (settings.mongodb_db, *EXTRA_DATABASES.get(name, ()))]


def names(settings: Settings, name: str) -> Settings:
    """`settings` with the topics and database renamed for sandbox `name` (pure)."""
    t = settings.topics
    prefix = kafka_prefix(settings, name)
    return settings.replace(
        topics=Topics(telemetry=prefix + t.telemetry, dlq=prefix + t.dlq,
                      anomaly=prefix + t.anomaly, metrics=prefix + t.metrics),
        mongodb_db=database_prefix(settings, name) + settings.mongodb_db,
    )


def minute_floor(moment: datetime) -> datetime:
    """`moment` rounded down to a whole minute, in UTC."""
    return moment.astimezone(timezone.utc).replace(second=0, microsecond=0)


def open(settings: Settings, name: str, now: datetime | None = None) -> Sandbox:  # noqa: A001
    """Empty the sandbox `name` (delete its topics and consumer groups: every name starting
    with its `prefix`, `lab<name>.`; and its databases: every name starting with its
    `database_prefix`, `lab<name>_`), create its four topics again, and return it. Needs Kafka and MongoDB up (run preflight first).

    `name` is a short tag such as "02"; `now` defaults to the current minute.
    """
    if not name.isalnum():
        raise ValueError(f"sandbox name must be letters and digits, not {name!r}")
    box = Sandbox(name, names(settings, name), minute_floor(now or datetime.now(timezone.utc)))
    empty(box.settings, box.prefix, box.database_prefix)
    ensure_topics(box.settings, topic_plan(box.settings))
    return box


def empty(settings: Settings, kafka_prefix: str, database_prefix: str) -> None:
    """Delete every consumer group and topic whose name starts with `kafka_prefix`, and every
    database whose name starts with `database_prefix` (a sandbox, or a student's whole corner)."""
    if not kafka_prefix or not database_prefix:
        raise ValueError("an empty prefix would empty the whole stack")
    _reset_kafka(settings, kafka_prefix)
    _reset_mongodb(settings, database_prefix)


def _reset_kafka(settings: Settings, prefix: str) -> None:
    admin = clients.kafka_admin(settings)
    try:
        # Groups first: committed offsets of a deleted topic must not point into the new one.
        groups = [g for g in _group_ids(admin) if g.startswith(prefix)]
        if groups:
            admin.delete_groups(groups)
        old = [t for t in admin.list_topics() if t.startswith(prefix)]
        if old:
            admin.delete_topics(old)
            _wait_until_gone(admin, set(old))
    finally:
        admin.close()


def _group_ids(admin, timeout_s: float = 60.0) -> list[str]:
    """Every consumer group's id (kafka-python 3 lists groups as dicts). A broker that has
    just started answers "coordinator load in progress" for a while: that is waited out."""
    def listed():
        try:
            return ([g["group_id"] if isinstance(g, dict) else g[0] for g in admin.list_groups()],)
        except Exception as exc:
            if is_transient(exc):
                return None
            raise

    return wait_until(listed, timeout_s, poll_s=0.5, what="Kafka's group coordinator to list the groups")[0]


def _wait_until_gone(admin, topics: set[str], timeout_s: float = 15.0) -> None:
    """Topic deletion is asynchronous; creating the same name too early is refused."""
    wait_until(lambda: not topics & set(admin.list_topics()), timeout_s, poll_s=0.1,
               what=f"Kafka to delete {sorted(topics)}")


def _reset_mongodb(settings: Settings, prefix: str) -> None:
    # Dropping a database can take a while on the local server (it deletes document by
    # document): more than the usual 15 s answer time for a notebook's few thousand readings.
    client = clients.mongo_client(settings, socketTimeoutMS=180_000)
    try:
        # Its database, and any other it made beside it (notebook 09 gives each run its own).
        for name in client.list_database_names():
            if name.startswith(prefix):
                client.drop_database(name)
    finally:
        client.close()
