"""The published JSON Schemas: generated from labkit.contract, and in agreement with the
validator on a shared corpus of good and broken events of both versions."""

import json
from datetime import datetime, timezone

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from labkit import contract
from labkit.contract import schema
from labkit.process.validation import validate
from labkit.simulate.faults import FaultRates
from labkit.simulate.simulator import SimConfig, Simulator, backfill_start

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("version", contract.SCHEMA_VERSIONS)
def test_the_published_files_are_what_the_contract_generates(version):
    published = (schema.SCHEMAS / f"telemetry.v{version}.json").read_text()
    assert published == schema.schema_text(version), "run `python -m labkit schema write`"
    Draft202012Validator.check_schema(json.loads(published))


def corpus() -> list[bytes]:
    """Simulated messages of both versions with every kind of corruption, plus hand-made
    version cases."""
    config = SimConfig(cars=10, seed=11, v2_share=0.5,
                       faults=FaultRates(episode=0.01, invalid=0.3, duplicate=0.0, late=0.0))
    messages = [m.value for m in Simulator(config).messages(count=3000, start=backfill_start(config, count=3000, now=NOW))]
    good = json.loads(next(v for v in messages if validate(v, NOW).ok))
    for changes in ({"schema_version": 3}, {"schema_version": "2"}, {"schema_version": 2, "battery_v": 99},
                    {"schema_version": 2, "odometer_km": None}, {"schema_version": 1, "battery_v": "x"},
                    {"schema_version": 2, "battery_v": True}, {"seq": 0}, {"seq": 1.5}):
        messages.append(json.dumps({**good, **changes}).encode())
    return messages


def schema_says(value: bytes):
    """True/False by the schema of the event's version; None where only the validator can judge."""
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return False
    version = data.get("schema_version", 1)
    if type(version) is not int or version not in contract.SCHEMA_VERSIONS:
        return False
    checker = Draft202012Validator(schema.json_schema(version), format_checker=FormatChecker())
    return checker.is_valid(data)


def test_schema_and_validator_agree_on_the_corpus():
    judged = 0
    for value in corpus():
        verdict = validate(value, NOW)
        if verdict.reason in schema.RUNTIME_ONLY or verdict.reason_class in schema.RUNTIME_ONLY:
            continue
        if verdict.ok is False and verdict.detail.startswith("timestamp older than"):
            continue  # the clock-dependent age check
        says = schema_says(value)
        assert says is verdict.ok, (value[:160], verdict.reason, verdict.detail)
        judged += 1
    assert judged > 2500
