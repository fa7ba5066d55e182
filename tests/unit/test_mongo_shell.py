"""The MongoDB shell (labkit.ops.mongo_shell): the fallback's parser on every form it
understands and on forms it refuses, mongosh's command line, and the install's failure
path. Answers from a real server are the integration tier's."""

from datetime import datetime
from pathlib import Path

import pytest
from bson import json_util

from labkit import cli
from labkit.config import Settings
from labkit.ops import mongo_shell
from labkit.ops.mongo_shell import Query, UnsupportedExpression, parse

pytestmark = pytest.mark.unit

NO_DOTENV = Path("/nonexistent/.env")  # unit tests never read a developer's .env


# ---------------------------------------------------------------- the forms it understands


@pytest.mark.parametrize("expression, query", [
    ("db.car_telemetry.find()", Query("car_telemetry", "find")),
    ("db.car_telemetry.find({})", Query("car_telemetry", "find")),
    ('db.car_telemetry.find({"car_id": "car-001"}).limit(5)', Query("car_telemetry", "find", {"car_id": "car-001"}, 5)),
    ('  db.anomalies.countDocuments({"type": "overheat"});  ', Query("anomalies", "countDocuments", {"type": "overheat"})),
    ("db.anomalies.countDocuments()", Query("anomalies", "countDocuments")),
    ("db.car_latest.getIndexes()", Query("car_latest", "getIndexes")),
    ('db.car_telemetry.find({"car_id": "car-001"}).explain("executionStats")',
     Query("car_telemetry", "find", {"car_id": "car-001"}, explain="executionStats")),
    ("db.car_telemetry.find({}).limit(3).explain('queryPlanner')", Query("car_telemetry", "find", {}, 3, "queryPlanner")),
    ("db.car_telemetry.find().explain()", Query("car_telemetry", "find", explain="queryPlanner")),
    ('db.car_telemetry.find({"speed_kmh": {"$gt": 120}}) . limit( 10 )',
     Query("car_telemetry", "find", {"speed_kmh": {"$gt": 120}}, 10)),
])
def test_each_supported_form_is_parsed(expression, query):
    assert parse(expression) == query


def test_brackets_and_quotes_inside_strings_do_not_end_the_filter():
    query = parse(r'db.dead_letters.find({"detail": "a) \" ] }"}).limit(1)')
    assert query.filter == {"detail": 'a) " ] }'} and query.limit == 1


def test_extended_json_dates_become_datetimes_with_bsons_reader():
    query = parse('db.car_telemetry.countDocuments({"ts": {"$gte": {"$date": "2026-11-27T10:00:00Z"}}})',
                  loads=json_util.loads)
    assert query.filter["ts"]["$gte"] == datetime(2026, 11, 27, 10)  # naive: pymongo sends it as UTC


# ---------------------------------------------------------------- the forms it refuses


@pytest.mark.parametrize("expression, problem", [
    ("db.car_telemetry.aggregate([])", "not one of the fallback's forms"),
    ("show dbs", "not one of the fallback's forms"),
    ('db.car_telemetry.find({car_id: "car-001"})', "not one JSON document"),  # JavaScript, not JSON
    ('db.car_telemetry.find({}, {"_id": 0})', "not one JSON document"),  # a projection
    ("db.car_telemetry.find([1])", "must be a JSON object"),
    ("db.car_latest.getIndexes(1)", "takes no argument"),
    ("db.anomalies.countDocuments({}).limit(2)", "cannot read"),
    ("db.car_telemetry.find().limit(-1)", "one whole number"),
    ("db.car_telemetry.find().limit(2).limit(3)", "one whole number"),
    ('db.car_telemetry.find().explain("everything")', "explain() takes one of"),
    ('db.car_telemetry.find().explain("executionStats").limit(2)', "nothing can follow"),
    ("db.car_telemetry.find().sort({})", "cannot read"),
    ('db.car_telemetry.find({"a": 1}', "unbalanced"),
])
def test_any_other_form_is_refused_with_the_list_of_forms(expression, problem):
    with pytest.raises(UnsupportedExpression) as error:
        parse(expression)
    message = str(error.value)
    assert problem in message
    assert all(form in message for form in mongo_shell.FORMS)


def test_a_wrong_form_on_the_command_line_is_an_error_message_not_a_traceback(monkeypatch, capsys):
    monkeypatch.setattr(mongo_shell.preflight, "ensure", lambda *args, **kwargs: None)  # no server asked
    assert cli.main(["mongosh", "--fallback", "--eval", "db.car_telemetry.aggregate([])"]) == 2
    captured = capsys.readouterr()
    assert "Python fallback" in captured.err and "understands only" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_the_fallback_says_it_is_one_and_what_it_understands():
    notice = mongo_shell.fallback_notice("Node.js is not installed")
    assert notice.startswith("[Python fallback, not mongosh (Node.js is not installed)")
    assert "countDocuments" in notice and "getIndexes" in notice and "executionStats" in notice


def test_the_whole_notice_is_shown_once_per_reason(monkeypatch):
    monkeypatch.setattr(mongo_shell, "_noticed", set())
    first = mongo_shell.notice_once("mongosh is not installed yet")
    assert first.startswith("[Python fallback, not mongosh (mongosh is not installed yet)")
    assert mongo_shell.notice_once("mongosh is not installed yet") == mongo_shell.SHORT_NOTICE
    assert "understands only" in mongo_shell.notice_once("Node.js is not installed")  # another reason: in full


# ---------------------------------------------------------------- mongosh's command line and install


@pytest.mark.parametrize("uri, expected", [
    ("mongodb://localhost:27017", "mongodb://localhost:27017/telemetry"),
    ("mongodb://localhost:27017/", "mongodb://localhost:27017/telemetry"),
    ("mongodb://a:1,b:2/?replicaSet=rs0", "mongodb://a:1,b:2/telemetry?replicaSet=rs0"),
    ("mongodb://user:pw@host/admin", "mongodb://user:pw@host/admin"),  # its own database stays
])
def test_the_shell_opens_the_settings_database(uri, expected):
    assert mongo_shell.shell_uri(uri, "telemetry") == expected


def test_mongosh_runs_quietly_on_the_settings_database():
    settings = Settings.from_env({"MONGODB_URI": "mongodb://localhost:27017", "MONGODB_DB": "lab02_telemetry"},
                                 dotenv=NO_DOTENV)
    assert mongo_shell.mongosh_argv("/x/mongosh", settings, "db.c.countDocuments({})") == [
        "/x/mongosh", "mongodb://localhost:27017/lab02_telemetry", "--quiet", "--eval", "db.c.countDocuments({})"]
    assert mongo_shell.mongosh_argv("/x/mongosh", settings) == ["/x/mongosh", "mongodb://localhost:27017/lab02_telemetry", "--quiet"]


def test_a_password_stays_off_mongoshs_command_line():
    """Every user of a machine can read a command line (`ps`); only its owner, its environment."""
    settings = Settings.from_env({"MONGODB_URI": "mongodb://ann:s3cret@class:27017/?authSource=admin",
                                  "MONGODB_DB": "ann_lab06_practice"}, dotenv=NO_DOTENV)
    for expression in ("db.c.countDocuments({})", None):
        argv = mongo_shell.mongosh_argv("/x/mongosh", settings, expression)
        assert not any("s3cret" in part for part in argv) and "--nodb" in argv
        assert argv[-1].startswith("db = connect(process.env.LAB_MONGOSH_URI)")
        assert argv[-1].endswith("; db.c.countDocuments({})" if expression else ")")
    assert "--shell" in mongo_shell.mongosh_argv("/x/mongosh", settings)
    env = mongo_shell.mongosh_env(settings)
    assert env["LAB_MONGOSH_URI"] == "mongodb://ann:s3cret@class:27017/ann_lab06_practice?authSource=admin"


def test_without_node_mongosh_is_unavailable_with_the_reason(tmp_path, monkeypatch):
    settings = Settings.from_env({"LAB_HOME": str(tmp_path)}, dotenv=NO_DOTENV)
    monkeypatch.setattr(mongo_shell.shutil, "which", lambda name: None)
    with pytest.raises(mongo_shell.MongoshUnavailable, match="Node.js and npm"):
        mongo_shell.mongosh_path(settings)


def test_a_failed_install_is_not_tried_again_in_the_same_process(tmp_path, monkeypatch):
    settings = Settings.from_env({"LAB_HOME": str(tmp_path)}, dotenv=NO_DOTENV)
    monkeypatch.setitem(mongo_shell._INSTALL_FAILED, tmp_path / "node", "installing mongosh failed: offline")
    monkeypatch.setattr(mongo_shell.subprocess, "run", lambda *a, **k: pytest.fail("npm ran again"))
    with pytest.raises(mongo_shell.MongoshUnavailable, match="offline"):
        mongo_shell.mongosh_path(settings)


def test_the_installed_version_is_read_from_the_package(tmp_path):
    package = tmp_path / "node_modules" / "mongosh" / "package.json"
    assert mongo_shell.installed_version(tmp_path) is None
    package.parent.mkdir(parents=True)
    package.write_text('{"name": "mongosh", "version": "2.12.0"}')
    assert mongo_shell.installed_version(tmp_path) == "2.12.0"
