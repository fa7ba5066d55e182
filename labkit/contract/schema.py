"""The event contract as JSON Schema, one per version, generated from `labkit.contract`.

    python -m labkit schema            # writes labkit/contract/schemas/telemetry.v1.json and .v2.json

A producer written in another language (or a schema registry) reads these files instead of
our Python. They are generated, never edited: `tests/unit/test_schema.py` fails when a file
differs from what `labkit.contract` says, and checks that schema and validator agree on a
shared corpus of good and broken events.

What a JSON Schema cannot say, and only the validator checks (at run time): the size of the
message in bytes, that it is JSON at all (and without a repeated key), and that the
timestamp is neither in the future nor more than a year old (that depends on the clock).
"""

from __future__ import annotations

import json
from pathlib import Path

from labkit import contract

SCHEMAS = Path(__file__).parent / "schemas"
RUNTIME_ONLY = ("oversize", "not_json", "invalid:duplicate_key", "future_timestamp")


def _number(low: float, high: float, nullable: bool = False) -> dict:
    return {"type": ["number", "null"] if nullable else "number", "minimum": low, "maximum": high}


def json_schema(version: int) -> dict:
    """The JSON Schema (draft 2020-12) of `version` of the telemetry event."""
    if version not in contract.SCHEMA_VERSIONS:
        raise ValueError(f"unknown version {version}; known: {contract.SCHEMA_VERSIONS}")
    properties = {
        "schema_version": {"const": version, "description": "major version" if version > 1 else
                           "major version; may be absent (events sent before versions existed)"},
        "car_id": {"type": "string", "pattern": f"^{contract.CAR_ID_PATTERN.pattern}$"},
        "timestamp": {"type": "string", "format": "date-time", "description": "ISO-8601 with a UTC offset"},
        **{name: _number(low, high) for name, (low, high) in contract.RANGES.items()},
        "event_id": {"type": "string", "pattern": f"^{contract.EVENT_ID_PATTERN.pattern}$"},
        "seq": {"type": "integer", "minimum": 1},
    }
    for v in contract.SCHEMA_VERSIONS:
        if v <= version:
            properties.update({name: _number(low, high, nullable=True)
                               for name, (low, high) in contract.OPTIONAL_RANGES[v].items()})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"telemetry.v{version}.json",
        "title": f"Connected-car telemetry event, version {version}",
        "type": "object",
        "required": [*contract.FIELDS, *(["schema_version"] if version > 1 else [])],
        "properties": properties,
        "additionalProperties": True,  # extra fields are allowed, and dropped by the validator
    }


def schema_text(version: int) -> str:
    return json.dumps(json_schema(version), indent=2, ensure_ascii=False) + "\n"


def write(folder: Path = SCHEMAS) -> list[Path]:
    """Write every version's schema; returns the files written."""
    folder.mkdir(exist_ok=True)
    written = []
    for version in contract.SCHEMA_VERSIONS:
        path = folder / f"telemetry.v{version}.json"
        path.write_text(schema_text(version))
        written.append(path)
    return written
