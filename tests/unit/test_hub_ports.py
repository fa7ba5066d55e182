"""`labkit.ops.hub`'s pure parts: the ports a hub user gets, and the .env it writes."""

import pytest

from labkit.ops import hub

pytestmark = pytest.mark.unit

DEFAULTS = hub.Ports(kafka=9092, mongodb=27017, api=8000)


def free_except(*busy):
    return lambda port: port not in busy


def test_free_defaults_are_kept():
    assert hub.choose_ports(DEFAULTS, free_except()) == DEFAULTS


def test_a_busy_kafka_port_moves_kafka_and_its_controller_together():
    assert hub.choose_ports(DEFAULTS, free_except(9092)).kafka == 9093  # 9093 and 9094 free
    assert hub.choose_ports(DEFAULTS, free_except(9093)).kafka == 9094  # the controller's port was taken
    assert hub.choose_ports(DEFAULTS, free_except(9092, 9094)).kafka == 9095


def test_the_lab_s_own_running_services_keep_their_ports():
    ours = frozenset({9092, 9093, 27017})
    assert hub.choose_ports(DEFAULTS, free_except(9092, 9093, 27017), ours) == DEFAULTS


def test_the_three_never_share_a_port():
    crowded = hub.Ports(kafka=5000, mongodb=5001, api=5002)
    ports = hub.choose_ports(crowded, free_except())
    used = [ports.kafka, ports.kafka + 1, ports.mongodb, ports.api]
    assert len(set(used)) == 4


def test_no_free_port_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no 1 free port"):
        hub.first_free(7000, is_free=lambda port: False)


def test_first_free_finds_a_run_of_ports_for_a_cluster():
    assert hub.first_free(19192, width=6, is_free=free_except(19195)) == 19196


def test_the_env_file_keeps_what_it_had_and_sets_the_ports():
    before = "# my settings\nMONGODB_DB=class\nKAFKA_BOOTSTRAP_SERVERS=localhost:9092\n"
    after = hub.merged_env(before, hub.Ports(9100, 27100, 8100).env())
    assert after.splitlines() == ["# my settings", "MONGODB_DB=class", "KAFKA_BOOTSTRAP_SERVERS=localhost:9100",
                                  "MONGODB_URI=mongodb://localhost:27100", "API_URL=http://localhost:8100"]
    assert hub.merged_env("", {"API_URL": "x"}) == "API_URL=x\n"
    assert hub.merged_env("# KAFKA_BOOTSTRAP_SERVERS=old\n", {"KAFKA_BOOTSTRAP_SERVERS": "new"}).splitlines() == [
        "# KAFKA_BOOTSTRAP_SERVERS=old", "KAFKA_BOOTSTRAP_SERVERS=new"]  # a comment stays a comment


def test_the_ports_it_writes_are_the_settings_it_reads(tmp_path):
    from labkit.config import Settings

    env = tmp_path / ".env"
    env.write_text(hub.merged_env("", hub.Ports(9100, 27100, 8100).env()))
    settings = Settings.from_env(environ={}, dotenv=env)
    assert hub.default_ports(settings) == hub.Ports(9100, 27100, 8100)
