"""A class's secured stack (a real Kafka of its own, ports 19392-19393, and a SecantusDB with
--auth on 19394, beside the lab's): each student from the roster signs in with the connection
file `class roster add` wrote, may use every name of their own corner, and is refused another
student's topics, groups, transactional ids and databases with an authorization error."""

import csv
import time
import uuid

import pytest
from kafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailedError,
)
from pymongo.errors import OperationFailure

from labkit import cli
from labkit.config import Settings
from labkit.contract.progress import PROGRESS_TOPIC, student_topic
from labkit.ops import clients, sandbox
from labkit.ops.infra import local
from labkit.ops.infra.cluster import Cluster
from labkit.ops.infra.readiness import mongodb_ready
from labkit.ops.infra.topics import ensure_topics
from labkit.teach import classroom, gradebook, roster
from labkit.teach.classroom import ensure_progress_topic

pytestmark = pytest.mark.integration

PORT = 19392
MONGO_PORT = 19394


@pytest.fixture(scope="module")
def class_broker(tmp_path_factory):
    """The instructor's settings (the super user) on a secured one-node Kafka, and the folder of
    the students' connection files."""
    home = tmp_path_factory.mktemp("class-broker")
    password = uuid.uuid4().hex
    teacher = Settings(mongodb_uri=f"mongodb://teacher:{password}@localhost:{MONGO_PORT}",
                       kafka_bootstrap_servers=f"localhost:{PORT}", kafka_username="teacher", kafka_password=password,
                       mongo_server="secantus")
    mongo = local.services(teacher)[1]
    cluster = Cluster(home, base_port=PORT, size=1, admin=("teacher", password))
    cluster.up(log=lambda *_: None)
    try:
        local.start(mongo, teacher, home)  # the first start makes the teacher's user, then asks everyone
        local.wait_ready(mongo, home, lambda: mongodb_ready(teacher))
        yield teacher, home / "connections"
    finally:
        local.stop(mongo, home)
        cluster.down(log=lambda *_: None)


def _student(folder, tag) -> Settings:
    """A student's settings, read from their connection file as the lab reads a .env."""
    return Settings.from_env({}, dotenv=folder / f"{tag}.env")


def _refused(action) -> KafkaError:
    with pytest.raises(KafkaError) as refused:
        action()
    return refused.value


@pytest.mark.timeout(180)
def test_students_use_their_own_corner_and_are_refused_anothers(class_broker):
    teacher, folder = class_broker
    students = roster.read_roster("# week 1\nAnn.Lee\nbob\n")
    roster.add_students(teacher, students, folder)
    ensure_progress_topic(teacher)
    ensure_topics(teacher, {topic: 1 for topic in teacher.topics.all()})
    ann, bob = _student(folder, "ann-lee"), _student(folder, "bob")
    assert (ann.student, ann.kafka_username, bob.student) == ("ann-lee", "ann-lee", "bob")
    assert all(f.stat().st_mode & 0o077 == 0 for f in folder.glob("*.env"))  # each password is its student's alone

    # Ann works in her corner: creates a topic, writes, reads it back in a group of hers.
    admin = clients.kafka_admin(ann)
    try:
        from kafka.admin import NewTopic

        admin.create_topics([NewTopic("ann-lee.lab02.events", 1, 1)])
        # A new topic reaches the broker's metadata a moment after it is created (seen on a busy machine).
        deadline = time.monotonic() + 15
        while "ann-lee.lab02.events" not in admin.list_topics() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "ann-lee.lab02.events" in admin.list_topics()
    finally:
        admin.close()
    producer = clients.kafka_producer(ann)
    producer.send("ann-lee.lab02.events", b"ann's").get(timeout=20)
    producer.close()
    # Her checks record their verdicts in her own progress topic (`class roster add` made it).
    assert gradebook.Recorder(ann).record("02.3 commit after the write", gradebook.PASSED)
    consumer = clients.kafka_consumer(ann, group_id="ann-lee.lab02.readers", auto_offset_reset="earliest",
                                      consumer_timeout_ms=8000)
    consumer.subscribe(["ann-lee.lab02.events"])
    assert [m.value for m in consumer] == [b"ann's"]
    consumer.commit()
    consumer.close()

    # Bob sees none of it and may touch none of it.
    bob_admin = clients.kafka_admin(bob)
    try:
        assert "ann-lee.lab02.events" not in bob_admin.list_topics()
        refused = _refused(lambda: bob_admin.delete_topics(["ann-lee.lab02.events"]))
        assert isinstance(refused, TopicAuthorizationFailedError)
        refused = _refused(lambda: bob_admin.delete_groups(["ann-lee.lab02.readers"]))
        assert isinstance(refused, GroupAuthorizationFailedError)
    finally:
        bob_admin.close()
    spy = clients.kafka_consumer(bob, consumer_timeout_ms=3000)
    assert _read_or_refused(spy, "ann-lee.lab02.events") == []
    spy.close()
    spy_group = clients.kafka_consumer(bob, group_id="ann-lee.lab02.readers", consumer_timeout_ms=3000)
    spy_group.subscribe(["bob.lab02.events"])
    assert isinstance(_refused(lambda: list(spy_group)), GroupAuthorizationFailedError)
    spy_group.close()
    forger = clients.kafka_producer(bob, transactional_id="ann-lee.lab03.tx", max_block_ms=5000)
    assert isinstance(_refused(forger.init_transactions), TransactionalIdAuthorizationFailedError)
    forger.close(timeout=2)
    # Nor can Bob read the class's verdicts, or write any but his own: a verdict naming Ann in his
    # own topic is not counted, and the instructor sees Ann's verdict as hers.
    reader = clients.kafka_consumer(bob, consumer_timeout_ms=3000)
    assert _read_or_refused(reader, PROGRESS_TOPIC) == []
    assert _read_or_refused(reader, student_topic("ann-lee")) == []
    reader.close()
    forged = gradebook.Verdict.now("ann-lee", "02.4 an idempotent write", gradebook.PASSED).to_bytes()
    forger = clients.kafka_producer(bob, max_block_ms=5000)
    for topic in (student_topic("ann-lee"), PROGRESS_TOPIC):
        assert isinstance(_refused(lambda topic=topic: forger.send(topic, forged).get(timeout=10)), TopicAuthorizationFailedError)
    forger.send(student_topic("bob"), forged).get(timeout=20)
    forger.close(timeout=2)
    verdicts, unreadable = classroom.read_verdicts(teacher)
    assert [(v.student, v.exercise) for v in verdicts if v.student in ("ann-lee", "bob")] == [("ann-lee", "02.3")]
    assert unreadable >= 1

    # The lab's own topics are everyone's to read, nobody's to write.
    teacher_producer = clients.kafka_producer(teacher)
    teacher_producer.send(teacher.topics.telemetry, b"the lab's").get(timeout=20)
    teacher_producer.close()
    lab_reader = clients.kafka_consumer(bob, auto_offset_reset="earliest", consumer_timeout_ms=8000)
    assert b"the lab's" in _read_all(lab_reader, teacher.topics.telemetry)
    lab_reader.close()
    vandal = clients.kafka_producer(bob, max_block_ms=5000)
    assert isinstance(_refused(lambda: vandal.send(teacher.topics.telemetry, b"x").get(timeout=10)),
                      TopicAuthorizationFailedError)
    vandal.close(timeout=2)

    # And Ann's topic is still there, whole.
    check = clients.kafka_consumer(ann, auto_offset_reset="earliest", consumer_timeout_ms=8000)
    assert _read_all(check, "ann-lee.lab02.events") == [b"ann's"]
    check.close()


@pytest.mark.timeout(180)
def test_students_mongodb_users_reach_their_own_databases_only(class_broker):
    teacher, folder = class_broker
    roster.add_students(teacher, roster.read_roster("gus\nhana\n"), folder)
    gus, hana = _student(folder, "gus"), _student(folder, "hana")
    assert gus.mongodb_user[0] == "gus" and gus.mongodb_user[1] == gus.kafka_password
    lab = clients.mongo_client(teacher)
    lab[teacher.mongodb_db]["car_telemetry"].insert_one({"_id": "the lab's"})
    lab.close()

    # Gus opens a notebook's sandbox (it lists and drops his databases), writes, indexes, reads.
    box = sandbox.open(gus, "02")
    mine = clients.mongo_client(gus)
    try:
        readings = mine[box.settings.mongodb_db]["car_telemetry"]
        readings.insert_many([{"_id": f"gus-{i}", "speed": i} for i in range(5)])
        readings.create_index("speed")
        assert readings.count_documents({"speed": {"$gte": 2}}) == 3
        assert mine[teacher.mongodb_db]["car_telemetry"].find_one() == {"_id": "the lab's"}  # the lab's: read only
        refused = _mongo_refused(lambda: mine[teacher.mongodb_db]["car_telemetry"].insert_one({"_id": "gus was here"}))
        assert "not authorized on telemetry" in refused
    finally:
        mine.close()

    # Hana may neither read, write nor drop it; her own sandbox leaves it alone.
    other = clients.mongo_client(hana)
    try:
        gus_db = other[box.settings.mongodb_db]
        assert box.settings.mongodb_db == "gus_lab02_telemetry"
        assert "not authorized on gus_lab02_telemetry" in _mongo_refused(lambda: gus_db["car_telemetry"].find_one())
        assert "not authorized" in _mongo_refused(lambda: gus_db["car_telemetry"].insert_one({"_id": "hana's"}))
        assert "not authorized" in _mongo_refused(lambda: other.drop_database(box.settings.mongodb_db))
    finally:
        other.close()
    sandbox.open(hana, "02")
    check = clients.mongo_client(teacher)
    try:
        assert check[box.settings.mongodb_db]["car_telemetry"].count_documents({}) == 5
    finally:
        check.close()
    # A wrong password signs nobody in.
    stranger = clients.mongo_client(gus.replace(mongodb_uri=gus.mongodb_uri.replace(gus.kafka_password, "nope")),
                                    serverSelectionTimeoutMS=5000)
    try:
        with pytest.raises(OperationFailure, match="[Aa]uthentication failed"):
            stranger.admin.command("ping")
    finally:
        stranger.close()


def _mongo_refused(action) -> str:
    with pytest.raises(OperationFailure) as refused:
        action()
    assert refused.value.code == 13, refused.value.details  # Unauthorized
    return str(refused.value)


def _read_or_refused(consumer, topic: str) -> list[bytes]:
    """What a consumer reads of a topic it may not read: nothing (the broker does not even
    list the topic to it), or an authorization error, depending on when the client asks."""
    try:
        return _read_all(consumer, topic)
    except TopicAuthorizationFailedError:
        return []


def _read_all(consumer, topic: str) -> list[bytes]:
    from kafka import TopicPartition

    partitions = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or {0})]
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    return [m.value for m in consumer]


@pytest.mark.timeout(60)
def test_a_wrong_password_is_refused(class_broker):
    teacher, _ = class_broker
    admin = clients.kafka_admin(teacher, request_timeout_ms=5000, bootstrap_timeout_ms=5000)
    assert admin.list_topics() is not None  # the broker answers the right password
    admin.close()
    stranger = teacher.replace(kafka_password="not-the-password")
    # kafka-python reports the refused sign-in as a failed bootstrap, not by name.
    _refused(lambda: clients.kafka_admin(stranger, request_timeout_ms=5000, bootstrap_timeout_ms=5000).list_topics())


@pytest.mark.timeout(180)
def test_class_down_keeps_the_gradebook_then_leaves_no_student_behind(class_broker, tmp_path, monkeypatch, capsys):
    teacher, folder = class_broker
    roster.add_students(teacher, roster.read_roster("cleo\ndan\n"), folder)
    ensure_progress_topic(teacher)
    # Not a class's: a topic whose name has ".lab" in it, and a user that is not a student tag.
    ensure_topics(teacher, {"orders.labels.v1": 1})
    admin = clients.kafka_admin(teacher)
    try:
        from kafka.admin import ScramMechanism, UserScramCredentialUpsertion

        admin.alter_user_scram_credentials([UserScramCredentialUpsertion("svc_etl", ScramMechanism.SCRAM_SHA_256,
                                                                         uuid.uuid4().hex, iterations=8192)])
    finally:
        admin.close()
    cleo = _student(folder, "cleo")
    assert gradebook.Recorder(cleo).record("02.3 commit after the write", gradebook.PASSED)
    box = sandbox.open(cleo, "02")  # cleo's corner: four topics, and a database once she stores something
    mongo = clients.mongo_client(cleo)
    try:
        mongo[box.settings.mongodb_db]["car_telemetry"].insert_one({"_id": "cleo-1"})
    finally:
        mongo.close()

    plan = classroom.plan_end(teacher)
    assert {"cleo", "dan"} <= set(plan.students) and {"cleo", "dan"} <= set(plan.users)
    assert {PROGRESS_TOPIC, student_topic("cleo"), student_topic("dan")} <= set(plan.progress_topics)
    # The command says what would go and deletes nothing without --yes, then ends the class with it.
    for var, value in (("KAFKA_BOOTSTRAP_SERVERS", teacher.kafka_bootstrap_servers), ("KAFKA_USERNAME", "teacher"),
                       ("KAFKA_PASSWORD", teacher.kafka_password), ("MONGODB_URI", teacher.mongodb_uri)):
        monkeypatch.setenv(var, value)
    gradebook_csv = tmp_path / "final.csv"
    assert cli.main(["class", "down", "--csv", str(gradebook_csv)]) == 0
    assert "Nothing deleted" in capsys.readouterr().out and not gradebook_csv.exists()
    assert classroom.plan_end(teacher).students == plan.students
    assert cli.main(["class", "down", "--csv", str(gradebook_csv), "--yes"]) == 0

    with gradebook_csv.open() as f:
        rows = list(csv.DictReader(f))
    assert {(r["student"], r["exercise"], r["status"]) for r in rows} >= {("cleo", "02.3", "passed")}, rows[:5]
    admin = clients.kafka_admin(teacher)
    try:
        left = [t for t in admin.list_topics() if t.startswith(("cleo.", PROGRESS_TOPIC))]
    finally:
        admin.close()
    assert left == []
    assert "orders.labels.v1" in _topics(teacher) and "svc_etl" in _scram_users(teacher)
    mongo = clients.mongo_client(teacher)
    try:
        assert not [d for d in mongo.list_database_names() if d.startswith("cleo_")]
    finally:
        mongo.close()
    assert not {"cleo", "dan"} & set(roster.class_users(teacher))
    assert not {"cleo", "dan"} & set(roster.mongo_class_users(teacher))
    _refused(lambda: clients.kafka_admin(cleo, request_timeout_ms=5000, bootstrap_timeout_ms=5000).list_topics())


def _topics(settings) -> list[str]:
    admin = clients.kafka_admin(settings)
    try:
        return admin.list_topics()
    finally:
        admin.close()


def _scram_users(settings) -> set[str]:
    admin = clients.kafka_admin(settings)
    try:
        return set(admin.describe_user_scram_credentials())
    finally:
        admin.close()
