"""Validation: raw bytes in, a verdict out. Pure, and it never raises on input.

    >>> v = validate(b'{"car_id": "CAR_001", ...}', now=datetime.now(timezone.utc))
    >>> v.ok, v.reason, v.detail
    (False, 'missing_field:speed', 'required field "speed" is missing')

Checks run cheapest first and stop at the first failure, so each rejected message gets
exactly one reason code (`<class>` or `<class>:<field>`, classes in
`labkit.contract.REASON_CLASSES`). A valid event comes out typed: the timestamp is an
aware UTC datetime, numbers are int/float, and unknown extra fields are dropped.

Versions (`labkit.contract`): an event without `schema_version` is version 1. A valid event
always carries its `schema_version`, and the optional fields of its version that it sent;
a major version this code does not know is rejected as `unsupported_version`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from labkit import contract


@dataclass(frozen=True)
class Verdict:
    """The outcome for one message. `event` is set only when `ok`."""

    ok: bool
    reason: str | None = None
    detail: str = ""
    event: dict | None = None

    @property
    def reason_class(self) -> str | None:
        return contract.reason_class(self.reason) if self.reason else None

    def as_dict(self) -> dict:
        """JSON-friendly form (timestamp as ISO text) for the CLI and notebooks."""
        event = None
        if self.event is not None:
            event = dict(self.event, timestamp=self.event["timestamp"].isoformat())
        return {"ok": self.ok, "reason": self.reason, "detail": self.detail, "event": event}


def _reject(reason: str, detail: str) -> Verdict:
    return Verdict(False, reason, detail)


class _Duplicate(ValueError):
    pass


def _no_duplicate_keys(pairs):
    """json object hook: `{"speed": 1, "speed": 300}` is ambiguous, so it is rejected."""
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise _Duplicate(key)
        obj[key] = value
    return obj


def _no_constants(name):
    raise ValueError(f"{name} is not valid JSON")


def validate(raw, now: datetime, ranges: dict[str, tuple[float, float]] | None = None,
             versions: tuple[int, ...] | None = None) -> Verdict:
    """Judge one raw Kafka message value (bytes; str and None are tolerated).

    `now` is the processor's clock (aware UTC), injected so tests can fix it. `ranges`
    replaces `contract.RANGES` (to try a relaxed rule, as notebook 04 does); `versions`
    replaces `contract.SCHEMA_VERSIONS` (a processor not yet upgraded, as notebook 11 shows).
    Never raises: any surprise inside is reported as a rejection, not an exception.
    """
    try:
        return _validate(raw, now, contract.RANGES if ranges is None else ranges,
                         contract.SCHEMA_VERSIONS if versions is None else versions)
    except Exception as exc:  # defence in depth: a bug here must not become a poison pill
        return _reject("invalid:unexpected", f"validator error {type(exc).__name__}: {exc}"[:300])


def _validate(raw, now: datetime, ranges: dict[str, tuple[float, float]], versions: tuple[int, ...]) -> Verdict:
    if raw is None:
        return _reject("not_json", "empty message (null value)")
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        return _reject("not_json", f"value of type {type(raw).__name__}, expected bytes")
    raw = bytes(raw)
    if len(raw) > contract.MAX_PAYLOAD_BYTES:
        return _reject("oversize", f"{len(raw)} bytes, limit {contract.MAX_PAYLOAD_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _reject("not_json", f"not UTF-8 text (byte {exc.start})")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants)
    except _Duplicate as exc:
        return _reject("invalid:duplicate_key", f'field "{exc}" appears twice')
    except RecursionError:
        return _reject("not_json", "JSON nested too deeply")
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, over-long integers
        return _reject("not_json", str(exc)[:200])
    if not isinstance(data, dict):
        return _reject("not_object", f"JSON {type(data).__name__}, expected an object")
    version = data.get("schema_version", 1)
    if type(version) is not int:
        return _reject("wrong_type:schema_version", f"schema_version is {type(version).__name__}, expected an integer")
    if version not in versions:
        known = " and ".join(map(str, versions))
        word = "version" if len(versions) == 1 else "versions"
        return _reject("unsupported_version", f"schema_version {version}: this processor reads {word} {known}; "
                                              "upgrade the readers before the producers")

    for name in contract.FIELDS:
        if name not in data:
            return _reject(f"missing_field:{name}", f'required field "{name}" is missing')

    car = data["car_id"]
    if not isinstance(car, str) or not contract.CAR_ID_PATTERN.fullmatch(car):
        return _reject("invalid:car_id", f"car_id {car!r:.40} is not like CAR_001")
    event_id = data["event_id"]
    if not isinstance(event_id, str) or not contract.EVENT_ID_PATTERN.fullmatch(event_id):
        return _reject("invalid:event_id", f"event_id {event_id!r:.40} is not a short id string")
    seq = data["seq"]
    if type(seq) is not int:
        return _reject("wrong_type:seq", f"seq is {type(seq).__name__}, expected an integer")
    if seq < 1:
        return _reject("range:seq", f"seq {seq} must be 1 or more")

    event = {"car_id": car, "event_id": event_id, "seq": seq}
    for name in contract.NUMERIC_FIELDS:
        value = data[name]
        # bool is an int in Python, and "59.8" is text: neither is a number on the wire.
        if type(value) not in (int, float):
            hint = " (a number sent as a string)" if isinstance(value, str) and _numeric(value) else ""
            return _reject(f"wrong_type:{name}", f"{name} is {type(value).__name__}{hint}, expected a number")
        low, high = ranges[name]
        if not (low <= value <= high) or math.isnan(value):
            return _reject(f"range:{name}", f"{name}={value!r:.30} outside {low:g}..{high:g}")
        event[name] = value
    event["schema_version"] = version
    for name, (low, high) in contract.OPTIONAL_RANGES[version].items():
        if name not in data or data[name] is None:  # optional: absent (or null) is fine
            continue
        value = data[name]
        if type(value) not in (int, float):
            return _reject(f"wrong_type:{name}", f"{name} is {type(value).__name__}, expected a number")
        if not (low <= value <= high) or math.isnan(value):
            return _reject(f"range:{name}", f"{name}={value!r:.30} outside {low:g}..{high:g}")
        event[name] = value

    stamp = data["timestamp"]
    if not isinstance(stamp, str):
        return _reject("bad_timestamp", f"timestamp is {type(stamp).__name__}, expected ISO-8601 text")
    try:
        at = datetime.fromisoformat(stamp)
    except ValueError:
        return _reject("bad_timestamp", f"timestamp {stamp!r:.40} is not ISO-8601")
    if at.tzinfo is None:
        return _reject("bad_timestamp", "timestamp has no timezone (expected UTC, e.g. +00:00)")
    at = at.astimezone(timezone.utc)
    if at > now + timedelta(seconds=contract.MAX_FUTURE_SKEW_S):
        return _reject("future_timestamp", f"timestamp {(at - now).total_seconds():.0f} s ahead of the processor's clock")
    if at < now - timedelta(days=contract.MAX_PAST_AGE_DAYS):
        return _reject("bad_timestamp", f"timestamp older than {contract.MAX_PAST_AGE_DAYS} days")
    event["timestamp"] = at
    return Verdict(True, event=event)


def _numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
