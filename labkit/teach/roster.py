"""A class's students on a Kafka that asks who is calling: one SCRAM user per student, allowed
only the names of their own corner, and a connection file to hand each of them.

    python -m labkit class roster add roster.txt --out connections/

`python -m labkit class down` takes them away again (`remove_students`).

The roster is a text file with one student per line (a login or an e-mail; `#` starts a
comment). Each becomes a tag (`student_tag`: "Ann.Lee" is "ann-lee"), the Kafka
user of that name, and these ACLs (Kafka's StandardAuthorizer allows nothing else):

    topics, consumer groups, transactional ids starting "ann."   every operation
    the lab's four topics (car.telemetry.v1, ...)                  describe and read
    the topic lab.progress.v1.ann (made here)                      describe and write (their verdicts)

A tag holds no "." (config.STUDENT_TAG), so "ann." never matches another student's names
("anna." or "ann-lee."), and a tag that would start the lab's own names ("car.") is refused.
The broker must be a secured one: the instructor starts it with KAFKA_USERNAME and
KAFKA_PASSWORD set (labkit.ops.infra.local.secured_properties), and those same settings sign
in this module's admin client as the super user.

When the instructor's MONGODB_URI names a user too (a class's MongoDB, started with --auth:
labkit.ops.infra.local.make_admin_user), each student also gets a MongoDB user of the same name
and password, with

    readWrite and dbAdmin on each database of their corner   (sandbox.corner_databases)
    read on the lab's own database (telemetry)
    listDatabases (the role lab-student)        a sandbox lists names to drop its own

MongoDB's roles name whole databases, not prefixes, so the corner is granted name by name.
SecantusDB lists every database's name to anyone allowed listDatabases; what is inside stays
its owner's.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from labkit.config import STUDENT_TAG, Settings, student_tag
from labkit.contract.progress import PROGRESS_TOPIC, student_topic


@dataclass(frozen=True)
class Student:
    name: str  # as on the roster
    tag: str  # their Kafka user and the start of every name in their corner


def read_roster(text: str) -> list[Student]:
    """The students of a roster file's text, in order (pure). ValueError for a line that gives no
    tag, and for two lines that give the same tag, naming both."""
    students: dict[str, Student] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        tag = student_tag(name)
        if not STUDENT_TAG.fullmatch(tag):
            raise ValueError(f"line {number}: {name!r} gives no tag (a tag is made of its Latin letters and "
                             "digits): write it as the student's login, for example 'jose' for 'José'")
        if tag in students:
            raise ValueError(f"line {number}: {name!r} gives the tag {tag!r}, as {students[tag].name!r} "
                             "does: make one of them differ (a tag is what a name's letters make)")
        students[tag] = Student(name, tag)
    return list(students.values())


def student_acls(tag: str, shared_topics: tuple[str, ...] = ()) -> list:
    """The ACLs of student `tag` (pure: kafka-python's ACL objects, nothing sent); `shared_topics`
    (the lab's four, which notebook 00 looks at) they may describe and read, not write."""
    from kafka.admin import ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern, ResourceType

    def allow(operation, resource_type, name, pattern=ACLResourcePatternType.LITERAL):
        return ACL(f"User:{tag}", "*", operation, ACLPermissionType.ALLOW, ResourcePattern(resource_type, name, pattern))

    own = [allow(ACLOperation.ALL, kind, f"{tag}.", ACLResourcePatternType.PREFIXED)
           for kind in (ResourceType.TOPIC, ResourceType.GROUP, ResourceType.TRANSACTIONAL_ID)]
    shared = [allow(operation, ResourceType.TOPIC, topic)
              for topic in shared_topics for operation in (ACLOperation.DESCRIBE, ACLOperation.READ)]
    verdicts = [allow(operation, ResourceType.TOPIC, student_topic(tag)) for operation in (ACLOperation.WRITE, ACLOperation.DESCRIBE)]
    return [*own, *shared, *verdicts]


#: The role that lets a student list the databases' names (a sandbox drops its own by name).
LIST_ROLE = "lab-student"


def student_mongo_roles(settings: Settings, tag: str) -> list[dict]:
    """The MongoDB roles of student `tag` (pure): their corner's databases, reading the lab's."""
    from labkit.ops import sandbox

    corner = sandbox.corner_databases(settings.replace(student=tag))
    # Not dbOwner: it holds userAdmin, with which a student could make users of their own.
    return ([{"role": role, "db": name} for name in corner for role in ("readWrite", "dbAdmin")]
            + [{"role": "read", "db": settings.mongodb_db}, {"role": LIST_ROLE, "db": "admin"}])


def student_mongodb_uri(settings: Settings, tag: str, password: str) -> str:
    """The instructor's MONGODB_URI signed in as the student (pure); unchanged when the class's
    MongoDB asks nobody (the instructor's URI names no user)."""
    if settings.mongodb_user is None:
        return settings.mongodb_uri
    parts = urlsplit(settings.mongodb_uri)
    hosts = parts.netloc.rpartition("@")[2]
    # The students' users live in `admin`, whatever the instructor's URI signs in against.
    options = [(k, v) for k, v in parse_qsl(parts.query) if k.lower() != "authsource"] + [("authSource", "admin")]
    return urlunsplit(parts._replace(netloc=f"{quote(tag, safe='')}:{quote(password, safe='')}@{hosts}",
                                     query=urlencode(options)))


def connection_text(settings: Settings, student: Student, password: str) -> str:
    """A student's connection file: the variables their lab reads (labkit.config), as a `.env`."""
    return "\n".join([
        f"# {student.name}'s connection to the class's stack. Keep it to yourself: it holds your password.",
        "# Save it as .env at the top of your copy of the lab, or export these variables.",
        f"LAB_STUDENT={student.tag}",
        f"KAFKA_BOOTSTRAP_SERVERS={settings.kafka_bootstrap_servers}",
        f"KAFKA_USERNAME={student.tag}",
        f"KAFKA_PASSWORD={password}",
        f"MONGODB_URI={student_mongodb_uri(settings, student.tag, password)}",
        "",
    ])


def add_students(settings: Settings, students: list[Student], out_dir: Path,
                 new_password=lambda: secrets.token_urlsafe(18)) -> list[Path]:
    """Create (or give a new password to) each student's Kafka user with their ACLs, their
    MongoDB user when the instructor's MONGODB_URI names one, and their own progress topic;
    then write `out_dir/<tag>.env` (readable by its owner only). Needs the instructor's settings.
    Adding a student again gives them a new password (and a new file). Returns the files
    written. Raises ValueError for a tag that cannot be a corner (an instructor's user, one that
    starts the lab's topic names) before anything is sent, RuntimeError when a server refuses:
    then no file is written, and running it again sets every password anew."""
    from kafka.admin import (
        ACLFilter,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePatternFilter,
        ResourceType,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    from labkit.ops import clients
    from labkit.ops.infra.local import write_private

    if not settings.kafka_username:
        raise RuntimeError("Adding students needs the class broker's super user: set KAFKA_USERNAME and "
                           "KAFKA_PASSWORD as when the broker was started (README: Running it for a class).")
    for s in students:
        if s.tag == settings.kafka_username:
            raise ValueError(f"{s.name!r} gives the tag {s.tag!r}, the broker's super user: rename that line")
        if settings.mongodb_user is not None and s.tag == settings.mongodb_user[0]:
            raise ValueError(f"{s.name!r} gives the tag {s.tag!r}, the instructor's MongoDB user: rename that line")
        settings.replace(student=s.tag).check()  # ValueError for a tag that cannot be a corner
    out_dir.mkdir(parents=True, exist_ok=True)
    passwords = {s.tag: new_password() for s in students}
    admin = clients.kafka_admin(settings)
    try:
        refused = admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(s.tag, ScramMechanism.SCRAM_SHA_256, passwords[s.tag], iterations=8192)
             for s in students])
        for user, error in refused.items():
            if error:
                raise RuntimeError(f"Kafka refused the user {user!r}: {error}")
        result = admin.create_acls([acl for s in students for acl in student_acls(s.tag, settings.topics.all())])
        if result.get("failed"):
            raise RuntimeError(f"Kafka refused ACLs: {result['failed'][:3]}")
        # A student added before verdicts had a topic each could write the shared one: no longer.
        shared = ResourcePatternFilter(ResourceType.TOPIC, PROGRESS_TOPIC, ACLResourcePatternType.LITERAL)
        admin.delete_acls([ACLFilter(f"User:{s.tag}", None, ACLOperation.ANY, ACLPermissionType.ANY, shared)
                           for s in students])
    finally:
        admin.close()
    if settings.mongodb_user is not None:
        add_mongo_users(settings, students, passwords)
    from labkit.teach.classroom import ensure_progress_topic

    ensure_progress_topic(settings, [s.tag for s in students])
    written = []
    for s in students:
        path = out_dir / f"{s.tag}.env"
        write_private(path, connection_text(settings, s, passwords[s.tag]))
        written.append(path)
    return written


def add_mongo_users(settings: Settings, students: list[Student], passwords: dict[str, str]) -> None:
    """Create (or give a new password and the current roles to) each student's MongoDB user, in
    the admin database, as the instructor (root). Raises RuntimeError when the server refuses."""
    from pymongo.errors import OperationFailure

    from labkit.ops import clients

    client = clients.mongo_client(settings)
    try:
        admin = client.admin
        if not admin.command("rolesInfo", LIST_ROLE)["roles"]:
            admin.command("createRole", LIST_ROLE, privileges=[{"resource": {"cluster": True}, "actions": ["listDatabases"]}],
                          roles=[])
        for s in students:
            known = admin.command("usersInfo", s.tag)["users"]
            admin.command("updateUser" if known else "createUser", s.tag, pwd=passwords[s.tag],
                          roles=student_mongo_roles(settings, s.tag))
    except OperationFailure as exc:
        raise RuntimeError(f"MongoDB refused to make the students' users: {exc.details.get('errmsg', exc)}") from exc
    finally:
        client.close()


def mongo_class_users(settings: Settings) -> list[str]:
    """The MongoDB users whose names are student tags, the instructor's left out; empty when
    the class's MongoDB asks nobody."""
    from labkit.ops import clients

    if settings.mongodb_user is None:
        return []
    client = clients.mongo_client(settings)
    try:
        users = [u["user"] for u in client.admin.command("usersInfo")["users"]]
    finally:
        client.close()
    return sorted(u for u in users if u != settings.mongodb_user[0] and STUDENT_TAG.fullmatch(u))


def class_users(settings: Settings) -> list[str]:
    """The students who have a user: on the broker or on MongoDB (what `add_students` makes)."""
    return sorted(set(kafka_class_users(settings)) | set(mongo_class_users(settings)))


def kafka_class_users(settings: Settings) -> list[str]:
    """The broker's SCRAM users whose names are student tags, the super user left out. Empty on
    a broker that asks nobody (no KAFKA_USERNAME in the settings)."""
    from labkit.ops import clients

    if not settings.kafka_username:
        return []
    admin = clients.kafka_admin(settings)
    try:
        users = admin.describe_user_scram_credentials()
    finally:
        admin.close()
    return sorted(user for user, info in users.items()
                  if user != settings.kafka_username and not info.get("error") and STUDENT_TAG.fullmatch(user))


def remove_students(settings: Settings, tags: list[str]) -> None:
    """Delete each student's users (the instructor's settings): on MongoDB, and on Kafka with
    every ACL that names them. Raises RuntimeError when a server refuses."""
    from pymongo.errors import OperationFailure

    mongo_users = set(mongo_class_users(settings)) & set(tags)
    if mongo_users:
        from labkit.ops import clients

        client = clients.mongo_client(settings)
        try:
            for tag in sorted(mongo_users):
                client.admin.command("dropUser", tag)
        except OperationFailure as exc:
            raise RuntimeError(f"MongoDB refused to drop a student's user: {exc.details.get('errmsg', exc)}") from exc
        finally:
            client.close()
    if settings.kafka_username:
        remove_kafka_users(settings, tags, set(kafka_class_users(settings)))


def remove_kafka_users(settings: Settings, tags: list[str], users: set[str]) -> None:
    """Delete every ACL that names one of `tags`, and the Kafka users among them that exist
    (`users`: the broker's). Super user's settings; RuntimeError when the broker refuses."""
    from kafka.admin import (
        ACLFilter,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePatternFilter,
        ResourceType,
        ScramMechanism,
        UserScramCredentialDeletion,
    )

    from labkit.ops import clients

    if not tags:
        return
    admin = clients.kafka_admin(settings)
    try:
        anything = ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY)
        deleted = admin.delete_acls([ACLFilter(f"User:{tag}", None, ACLOperation.ANY, ACLPermissionType.ANY, anything)
                                     for tag in tags])
        failed = [error for _, _, error in deleted if error is not None and getattr(error, "errno", 0)]
        if failed:
            raise RuntimeError(f"Kafka refused to delete ACLs: {failed[:3]}")
        existing = [tag for tag in tags if tag in users]
        refused = admin.alter_user_scram_credentials([UserScramCredentialDeletion(tag, ScramMechanism.SCRAM_SHA_256)
                                                      for tag in existing]) if existing else {}
        errors = {user: error for user, error in refused.items() if error}
        if errors:
            raise RuntimeError(f"Kafka refused to delete users: {errors}")
    finally:
        admin.close()
