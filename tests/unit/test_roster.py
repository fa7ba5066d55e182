"""A class's roster, its students' ACLs and connection files, and the secured broker's
properties (pure: nothing sent)."""

from pathlib import Path

import pytest
from kafka.admin import ACLOperation, ACLResourcePatternType, ResourceType

from labkit.config import Settings
from labkit.ops import sandbox
from labkit.ops.infra import local
from labkit.teach import roster

pytestmark = pytest.mark.unit


def test_a_roster_gives_one_tag_per_line_and_skips_comments():
    students = roster.read_roster("# week 1\nAnn.Lee\n\n  bob   # joined late\nLabrador\n")
    assert [(s.name, s.tag) for s in students] == [("Ann.Lee", "ann-lee"), ("bob", "bob"),
                                                   ("Labrador", "s-labrador")]


def test_two_lines_with_the_same_tag_are_refused_by_name():
    with pytest.raises(ValueError, match="line 3: 'ANN' gives the tag 'ann', as 'ann'"):
        roster.read_roster("ann\nbob\nANN\n")


def test_a_student_may_use_their_names_read_the_labs_topics_and_write_verdicts_only():
    acls = roster.student_acls("ann", ("car.telemetry.v1",))
    granted = {(a.resource_pattern.resource_type, a.resource_pattern.resource_name,
                a.resource_pattern.pattern_type, a.operation) for a in acls}
    prefixed = ACLResourcePatternType.PREFIXED
    assert granted == {
        (ResourceType.TOPIC, "ann.", prefixed, ACLOperation.ALL),
        (ResourceType.GROUP, "ann.", prefixed, ACLOperation.ALL),
        (ResourceType.TRANSACTIONAL_ID, "ann.", prefixed, ACLOperation.ALL),
        (ResourceType.TOPIC, "lab.progress.v1.ann", ACLResourcePatternType.LITERAL, ACLOperation.WRITE),
        (ResourceType.TOPIC, "lab.progress.v1.ann", ACLResourcePatternType.LITERAL, ACLOperation.DESCRIBE),
        (ResourceType.TOPIC, "car.telemetry.v1", ACLResourcePatternType.LITERAL, ACLOperation.DESCRIBE),
        (ResourceType.TOPIC, "car.telemetry.v1", ACLResourcePatternType.LITERAL, ACLOperation.READ),
    }
    assert {a.principal for a in acls} == {"User:ann"}
    # The prefix ends with the dot a tag never holds: "ann." is not the start of "anna." or "ann-lee.".
    assert not "anna.lab02.events".startswith("ann.") and not "ann-lee.lab02".startswith("ann.")


def test_a_connection_file_rebuilds_the_students_settings(tmp_path: Path):
    teacher = Settings(kafka_bootstrap_servers="class.example.org:9092", mongodb_uri="mongodb://class.example.org",
                       kafka_username="teacher", kafka_password="t")
    path = tmp_path / "ann.env"
    path.write_text(roster.connection_text(teacher, roster.Student("Ann", "ann"), "s3cret"))
    ann = Settings.from_env({}, dotenv=path)
    assert (ann.student, ann.kafka_username, ann.kafka_password) == ("ann", "ann", "s3cret")
    assert ann.kafka_bootstrap_servers == "class.example.org:9092"
    assert ann.kafka_auth == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256",
                              "sasl_plain_username": "ann", "sasl_plain_password": "s3cret"}
    assert "s3cret" not in repr(ann)


def test_on_a_class_mongodb_the_connection_file_signs_the_student_in_to_their_corner(tmp_path: Path):
    teacher = Settings(kafka_bootstrap_servers="class.example.org:9092", kafka_username="teacher", kafka_password="t",
                       mongodb_uri="mongodb://teacher:p%40ss@class.example.org:27017/?tls=true")
    assert teacher.mongodb_user == ("teacher", "p@ss")
    assert "p%40ss" not in repr(teacher) and "teacher:***@class.example.org" in repr(teacher)
    path = tmp_path / "ann.env"
    path.write_text(roster.connection_text(teacher, roster.Student("Ann", "ann"), "s3/cret"))
    ann = Settings.from_env({}, dotenv=path)
    assert ann.mongodb_uri == "mongodb://ann:s3%2Fcret@class.example.org:27017/?tls=true&authSource=admin"
    assert ann.mongodb_user == ("ann", "s3/cret") and "s3%2Fcret" not in repr(ann)
    roles = roster.student_mongo_roles(teacher, "ann")
    for role in ("readWrite", "dbAdmin"):
        assert {r["db"] for r in roles if r["role"] == role} == set(sandbox.corner_databases(ann))
    assert all(r["db"].startswith("ann_lab") for r in roles if r["role"] != "read" and r["db"] != "admin")
    assert {"role": "read", "db": "telemetry"} in roles and not any(r["role"] in ("dbOwner", "userAdmin") for r in roles)
    # Whatever the instructor's URI signs in against, the students' users live in admin.
    elsewhere = teacher.replace(mongodb_uri="mongodb://teacher:t@class:27017/telemetry?authSource=telemetry&tls=true")
    assert elsewhere.mongodb_auth_db == "telemetry" and teacher.mongodb_auth_db == "admin"
    assert roster.student_mongodb_uri(elsewhere, "ann", "pw") == "mongodb://ann:pw@class:27017/telemetry?tls=true&authSource=admin"
    # A stack whose MongoDB asks nobody: the students' URI is the instructor's.
    open_mongo = teacher.replace(mongodb_uri="mongodb://class.example.org")
    assert roster.student_mongodb_uri(open_mongo, "ann", "s3cret") == "mongodb://class.example.org"


def test_settings_without_a_user_sign_nothing_in_and_a_user_needs_a_password():
    assert Settings().kafka_auth == {}
    with pytest.raises(ValueError, match="KAFKA_USERNAME and KAFKA_PASSWORD go together"):
        Settings.from_env({"KAFKA_USERNAME": "ann"}, dotenv=Path("/nonexistent"))


def test_a_secured_broker_asks_every_client_and_allows_only_what_acls_grant():
    props = local.node_properties(1, "localhost", 9092, {1: 9093}, Path("data"), admin=("teacher", "pw"))
    lines = dict(line.split("=", 1) for line in props.splitlines() if line)
    assert lines["listeners"] == "SASL_PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert lines["listener.security.protocol.map"] == "CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT"
    assert lines["super.users"] == "User:teacher"
    assert lines["allow.everyone.if.no.acl.found"] == "false"
    assert "PLAINTEXT://" not in lines["advertised.listeners"].replace("SASL_PLAINTEXT://", "")
    open_props = local.node_properties(1, "localhost", 9092, {1: 9093}, Path("data"))
    assert "authorizer.class.name" not in open_props and "SASL" not in open_props


def test_labkits_clients_sign_in_to_the_settings_cluster_and_no_other():
    from labkit.ops import clients

    ann = Settings(kafka_bootstrap_servers="class:9092", kafka_username="ann", kafka_password="pw")
    assert clients._auth(ann, None)["sasl_plain_username"] == "ann"
    assert clients._auth(ann, "class:9092")["sasl_plain_username"] == "ann"
    assert clients._auth(ann, "localhost:19192") == {}  # notebook 11's own open brokers
    assert clients._auth(None, "localhost:19192") == {}


@pytest.mark.parametrize("line, refused", [("teacher", "the broker's super user"), ("car", "part of the student's corner"),
                                           ("prof", "the instructor's MongoDB user")])
def test_a_roster_line_that_cannot_be_a_corner_is_refused_before_anything_is_sent(tmp_path: Path, line, refused):
    teacher = Settings(kafka_username="teacher", kafka_password="t", mongodb_uri="mongodb://prof:p@localhost:27017")
    with pytest.raises(ValueError, match=refused):
        roster.add_students(teacher, [roster.Student(line, line)], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_roster_line_without_latin_letters_or_digits_is_refused():
    with pytest.raises(ValueError, match="line 2: 'é' gives no tag"):
        roster.read_roster("ann\né\n")


def test_a_secured_brokers_properties_and_sign_in_files_are_readable_by_their_owner_only(tmp_path: Path):
    path = tmp_path / "server.properties"
    path.write_text("old")
    path.chmod(0o644)
    local.write_private(path, "password=pw\n")
    assert path.read_text() == "password=pw\n" and path.stat().st_mode & 0o077 == 0


def test_only_the_settings_own_servers_get_the_sign_in():
    ann = Settings(kafka_bootstrap_servers="b1:9092,b2:9094", kafka_username="ann", kafka_password="pw")
    assert ann.is_own_cluster(None) and ann.is_own_cluster("b2:9094") and ann.is_own_cluster("b1:9092,b2:9094")
    assert not ann.is_own_cluster("localhost:19192") and not ann.is_own_cluster("b1:9092,localhost:19192")


def test_a_class_mongodb_gets_its_instructor_on_a_port_nobody_else_is_told_of(tmp_path: Path):
    from labkit.ops.infra import mongo_users

    teacher = Settings(mongodb_uri="mongodb://teacher:pw@localhost:27017", mongo_server="secantus")
    mongo = local.services(teacher)[1]
    argv = local.command(mongo, teacher, tmp_path)
    assert "--auth" in argv and argv[argv.index("--port") + 1] == "27017"
    bootstrap = mongo_users.unauthenticated_argv(argv, 40123)
    assert "--auth" not in bootstrap and bootstrap[bootstrap.index("--port") + 1] == "40123"
    assert len(bootstrap) == len(argv) - 1
    # The marker holds no password, and a changed password gives another marker.
    assert "pw" not in mongo_users.marker(teacher)
    assert mongo_users.marker(teacher) != mongo_users.marker(teacher.replace(mongodb_uri="mongodb://teacher:new@localhost"))
    elsewhere = teacher.replace(mongodb_uri="mongodb://teacher:pw@localhost:27017/telemetry")
    with pytest.raises(local.InfraError, match="authSource=admin"):
        mongo_users.ensure_admin_user(mongo, elsewhere, tmp_path)
    assert "--auth" not in local.command(mongo, Settings(mongo_server="secantus"), tmp_path)
