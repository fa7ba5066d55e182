"""Validation: every reason class, typed output, and it never raises on hostile input."""

import json
import random
from datetime import datetime, timedelta, timezone

import pytest

from labkit import contract
from labkit.process.validation import validate

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
GOOD = {
    "car_id": "CAR_001", "timestamp": "2026-06-01T11:59:58.123456+00:00", "speed": 59.83, "rpm": 2947,
    "engine_temp": 95.79, "fuel_level": 33.73, "latitude": 52.486, "longitude": 13.484548,
    "event_id": "CAR_001-abcd-0000001", "seq": 1,
}


def raw(**changes):
    event = {**GOOD, **changes}
    return json.dumps({k: v for k, v in event.items() if v is not ...}).encode()


def test_a_good_event_comes_out_typed():
    verdict = validate(raw(), NOW)
    assert verdict.ok and verdict.reason is None
    event = verdict.event
    assert event["timestamp"] == datetime(2026, 6, 1, 11, 59, 58, 123456, tzinfo=timezone.utc)
    assert type(event["rpm"]) is int and type(event["speed"]) is float
    assert set(event) == {*contract.FIELDS, "schema_version"} and event["schema_version"] == 1


def test_other_timezones_are_converted_to_utc_and_extra_fields_dropped():
    verdict = validate(raw(timestamp="2026-06-01T13:59:58+02:00", firmware="1.2"), NOW)
    assert verdict.ok
    assert verdict.event["timestamp"] == datetime(2026, 6, 1, 11, 59, 58, tzinfo=timezone.utc)
    assert "firmware" not in verdict.event


@pytest.mark.parametrize("message, reason", [
    (b"x" * (contract.MAX_PAYLOAD_BYTES + 1), "oversize"),
    (b"\xff\xfe\x00garbage", "not_json"),
    (b'{"car_id": "CAR_001", "speed": ', "not_json"),
    (b"", "not_json"),
    (None, "not_json"),
    (b'{"speed": NaN}', "not_json"),
    (b'{"speed": Infinity}', "not_json"),
    (b"[" * 5000 + b"]" * 5000, "not_json"),  # nested too deeply for the parser
    (b"1" * 5000, "not_json"),
    (b"[1, 2, 3]", "not_object"),
    (b'"CAR_001"', "not_object"),
    (b"null", "not_object"),
    (b'{"speed": 1, "speed": 300}', "invalid:duplicate_key"),
])
def test_structural_rejections(message, reason):
    verdict = validate(message, NOW)
    assert not verdict.ok and verdict.reason == reason and verdict.detail


@pytest.mark.parametrize("field", contract.FIELDS)
def test_every_missing_field_is_named(field):
    assert validate(raw(**{field: ...}), NOW).reason == f"missing_field:{field}"


@pytest.mark.parametrize("changes, reason", [
    ({"car_id": "car-001"}, "invalid:car_id"),
    ({"car_id": 1}, "invalid:car_id"),
    ({"car_id": ""}, "invalid:car_id"),
    ({"event_id": ""}, "invalid:event_id"),
    ({"event_id": "x" * 500}, "invalid:event_id"),
    ({"seq": "1"}, "wrong_type:seq"),
    ({"seq": True}, "wrong_type:seq"),
    ({"seq": 0}, "range:seq"),
    ({"speed": "59.83"}, "wrong_type:speed"),
    ({"rpm": None}, "wrong_type:rpm"),
    ({"engine_temp": True}, "wrong_type:engine_temp"),
    ({"fuel_level": [33.7]}, "wrong_type:fuel_level"),
    ({"latitude": {"deg": 52}}, "wrong_type:latitude"),
    ({"speed": -0.01}, "range:speed"),
    ({"speed": 260.01}, "range:speed"),
    ({"rpm": 9001}, "range:rpm"),
    ({"engine_temp": 39.9}, "range:engine_temp"),
    ({"fuel_level": 100.5}, "range:fuel_level"),
    ({"latitude": 90.1}, "range:latitude"),
    ({"longitude": -180.5}, "range:longitude"),
    ({"speed": 1e400}, "not_json"),  # json.dumps writes Infinity, which is not JSON
    ({"timestamp": "yesterday"}, "bad_timestamp"),
    ({"timestamp": "2026-13-45T99:00:00+00:00"}, "bad_timestamp"),
    ({"timestamp": "2026-06-01 11:59"}, "bad_timestamp"),
    ({"timestamp": 1780000000}, "bad_timestamp"),
    ({"timestamp": "2020-01-01T00:00:00+00:00"}, "bad_timestamp"),
    ({"timestamp": (NOW + timedelta(minutes=6)).isoformat()}, "future_timestamp"),
])
def test_field_rejections(changes, reason):
    verdict = validate(raw(**changes), NOW)
    assert verdict.reason == reason, verdict


def test_the_range_bounds_themselves_are_valid():
    for name, (low, high) in contract.RANGES.items():
        assert validate(raw(**{name: low}), NOW).ok, name
        assert validate(raw(**{name: high}), NOW).ok, name


def test_small_clock_skew_is_tolerated():
    assert validate(raw(timestamp=(NOW + timedelta(minutes=4)).isoformat()), NOW).ok


def test_numbers_as_strings_are_explained():
    assert "number sent as a string" in validate(raw(speed="59.83"), NOW).detail


def test_it_never_raises_on_random_bytes_or_mutated_events():
    rng = random.Random(1)
    good = raw()
    for _ in range(5000):
        choice = rng.random()
        if choice < 0.3:
            message = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
        elif choice < 0.7:  # flip a few bytes of a good event
            message = bytearray(good)
            for _ in range(rng.randint(1, 5)):
                message[rng.randrange(len(message))] = rng.randrange(256)
            message = bytes(message)
        else:  # cut it anywhere
            message = good[: rng.randrange(len(good))]
        verdict = validate(message, NOW)
        assert verdict.ok or (verdict.reason and contract.reason_class(verdict.reason) in contract.REASON_CLASSES)


def test_accepts_str_and_memoryview_too():
    assert validate(raw().decode(), NOW).ok
    assert validate(memoryview(raw()), NOW).ok
    assert validate(12345, NOW).reason == "not_json"


def test_simulated_invalid_messages_get_the_reason_class_of_their_label():
    from labkit.simulate.faults import FaultRates
    from labkit.simulate.simulator import SimConfig, Simulator, backfill_start

    config = SimConfig(cars=10, seed=6, faults=FaultRates(episode=0.01, invalid=0.2, duplicate=0.02, late=0.02))
    start = backfill_start(config, count=5000, now=NOW)
    seen = set()
    for m in Simulator(config).messages(count=5000, start=start):
        verdict = validate(m.value, NOW)
        labels = [label.split(":")[1] for label in m.labels if label.startswith("invalid:")]
        if labels:
            assert verdict.reason_class == labels[0], (m.value[:120], verdict)
            seen.add(labels[0])
        else:
            assert verdict.ok, (m.value[:120], verdict)
    assert seen == set(contract.REASON_CLASSES) - {"unsupported_version"}  # made by producers, not faults


def test_version_2_adds_optional_fields_and_version_1_stays_valid():
    v2 = validate(raw(schema_version=2, odometer_km=12_345.6, battery_v=13.9), NOW)
    assert v2.ok and v2.event["schema_version"] == 2
    assert (v2.event["odometer_km"], v2.event["battery_v"]) == (12_345.6, 13.9)
    assert validate(raw(schema_version=2), NOW).ok  # optional: a v2 event may leave them out
    assert validate(raw(schema_version=2, battery_v=None), NOW).ok
    v1 = validate(raw(), NOW)
    assert v1.event["schema_version"] == 1 and "odometer_km" not in v1.event
    # A version-1 event that happens to carry the field: v1 has no such field, so it is dropped.
    assert "odometer_km" not in validate(raw(schema_version=1, odometer_km=5.0), NOW).event


@pytest.mark.parametrize("changes, reason", [
    ({"schema_version": 3}, "unsupported_version"),
    ({"schema_version": 0}, "unsupported_version"),
    ({"schema_version": "2"}, "wrong_type:schema_version"),
    ({"schema_version": 2.0}, "wrong_type:schema_version"),
    ({"schema_version": 2, "odometer_km": -1}, "range:odometer_km"),
    ({"schema_version": 2, "battery_v": 99}, "range:battery_v"),
    ({"schema_version": 2, "battery_v": "13.8"}, "wrong_type:battery_v"),
])
def test_versions_and_version_2_fields_are_checked(changes, reason):
    verdict = validate(raw(**changes), NOW)
    assert verdict.reason == reason and verdict.detail


def test_a_processor_not_yet_upgraded_refuses_version_2_and_says_so():
    old = validate(raw(schema_version=2), NOW, versions=(1,))
    assert old.reason == "unsupported_version" and "reads version 1;" in old.detail
    assert validate(raw(), NOW, versions=(1,)).ok  # version 1 still passes
