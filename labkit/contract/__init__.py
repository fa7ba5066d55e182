"""The telemetry event contract: fields, units, valid ranges, anomaly thresholds.

One place for every number that the simulator, the validator, the anomaly detectors and
the API must agree on (the original project kept copies in several scripts that drifted
apart: low fuel was 5 in one and 10 in another).

An event is a JSON object with these fields:

    car_id       "CAR_001"                     string, CAR_ + digits
    timestamp    "2026-02-25T21:28:17.376062+00:00"   ISO-8601, UTC
    speed        km/h                           0 .. 260
    rpm          revolutions per minute         0 .. 9000
    engine_temp  °C                             40 .. 150
    fuel_level   % of tank                      0 .. 100
    latitude     degrees                        -90 .. 90
    longitude    degrees                        -180 .. 180
    event_id     stable id, the idempotency key (MongoDB `_id`)
    seq          per-car counter from 1: gaps and duplicates become visible

Versions. `schema_version` (an integer, the major version) says which contract an event
follows; an event without it is version 1, as every event was before versions existed.

    version 1    the fields above
    version 2    adds two optional fields a real car sends:
                 odometer_km    km driven            0 .. 2,000,000
                 battery_v      battery voltage, V   0 .. 30

Version 2 only adds optional fields, a change readers that ignore unknown fields could take
in place; it is a new major version here because this validator keeps only the fields its
version defines (a version-1 event's `battery_v` is dropped, never checked or stored), and
`schema_version: 2` is what makes it check and keep them (notebook 11). A reader that does
not know a version rejects it (`unsupported_version`) instead of misreading it: so are
removing or renaming a required field, or changing a unit, shipped. `labkit.contract.schema` publishes each version
as a JSON Schema generated from the constants below.

Times travel as epoch milliseconds, and every bucket (windows, rollups, counts, chart bars)
starts at a multiple of its size: `to_ms`, `from_ms`, `bucket_start` below. What the pipeline
counts about the events is named in `labkit.contract.counters`.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

#: The original eight fields, in their original order.
ORIGINAL_FIELDS = ("car_id", "timestamp", "speed", "rpm", "engine_temp", "fuel_level", "latitude", "longitude")
#: Every field a valid event carries.
FIELDS = (*ORIGINAL_FIELDS, "event_id", "seq")

#: Numeric fields and their inclusive valid ranges (the original bounds).
RANGES: dict[str, tuple[float, float]] = {
    "speed": (0.0, 260.0),
    "rpm": (0.0, 9000.0),
    "engine_temp": (40.0, 150.0),
    "fuel_level": (0.0, 100.0),
    "latitude": (-90.0, 90.0),
    "longitude": (-180.0, 180.0),
}
NUMERIC_FIELDS = tuple(RANGES)

#: The versions this code reads, and the optional fields each one adds (with their ranges).
SCHEMA_VERSIONS = (1, 2)
CURRENT_VERSION = 2
OPTIONAL_RANGES: dict[int, dict[str, tuple[float, float]]] = {
    1: {},
    2: {"odometer_km": (0.0, 2_000_000.0), "battery_v": (0.0, 30.0)},
}
#: Every optional field of any version (stored when present; None in the API when absent).
OPTIONAL_FIELDS = tuple(name for fields in OPTIONAL_RANGES.values() for name in fields)
#: The metrics a chart plots over time (the API's /series/{metric}, the rollups).
METRICS = ("speed", "rpm", "engine_temp", "fuel_level")

#: The lab's window: 10 s. The processor's metrics windows, the 10 s rollups, the event-time
#: windows, the anomaly buckets and the dashboards' "10-second windows" all use it.
WINDOW_MS = 10_000

CAR_ID_PATTERN = re.compile(r"CAR_\d{3,6}")
EVENT_ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,128}")

#: Limits that protect the processor from hostile input.
MAX_PAYLOAD_BYTES = 16 * 1024  # a real event is ~250 bytes
MAX_FUTURE_SKEW_S = 300  # a timestamp more than 5 minutes ahead of the processor's clock
MAX_PAST_AGE_DAYS = 365  # ... or older than a year is rejected as a bad clock

#: Anomaly thresholds (the original rules), shared by detectors and the API's status.
OVERSPEED_KMH = 180.0  # speed > 180
OVERHEAT_C = 120.0  # engine_temp >= 120
LOW_FUEL_PCT = 5.0  # fuel_level <= 5
HIGH_RPM = 7000.0  # rpm >= 7000

#: Thresholds of the stateful, per-car detectors.
GPS_JUMP_KMH = 300.0  # the speed implied by two consecutive fixes; no car in a city does that
TEMP_RISE_C_PER_S = 1.5  # a warming engine gains well under 0.5 °C/s
FUEL_DROP_PCT = 5.0  # points lost between two readings without a refuel: leak or sensor fault
STUCK_REPEATS = 8  # the same exact reading this many times in a row while the car moves

#: The anomaly types of the contract: the four original rules and the stateful detectors.
RULE_ANOMALIES = ("overspeed", "engine_overheat", "low_fuel", "high_rpm")
STATEFUL_ANOMALIES = ("gps_jump", "temp_rise", "fuel_drop", "sensor_stuck")
ANOMALY_TYPES = (*RULE_ANOMALIES, *STATEFUL_ANOMALIES)

#: Reason classes of rejected events. A full reason code may add the field after a colon,
#: as the original did: `missing_field:speed`, `range:rpm`, `invalid:car_id`.
REASON_CLASSES = (
    "oversize",
    "not_json",
    "not_object",
    "missing_field",
    "wrong_type",
    "invalid",
    "range",
    "bad_timestamp",
    "future_timestamp",
    "unsupported_version",
)


def reason_class(reason: str) -> str:
    """`range:speed` -> `range` (the part before the colon)."""
    return reason.split(":", 1)[0]


def to_ms(at: datetime) -> int:
    """An aware datetime as epoch milliseconds: how times travel in windows, rollups and URLs."""
    return int(at.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """Epoch milliseconds as an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def bucket_start(ms: int, size_ms: int) -> int:
    """The start (epoch ms) of the bucket of `size_ms` that `ms` falls in: `ms` rounded down to
    a multiple of `size_ms`. Buckets are counted from the epoch, so the processor's windows,
    the rollups, the anomaly counts and the charts all put an instant in the same bucket."""
    return ms - ms % size_ms


def bucket_ceil(ms: int, size_ms: int) -> int:
    """`ms` rounded up to a multiple of `size_ms` (`ms` itself when it is one): where the last
    bucket touched by a range that ends at `ms` (exclusive) ends."""
    return -(-ms // size_ms) * size_ms


def bucket_start_expression(ms, size_ms: int) -> dict:
    """`bucket_start` as a MongoDB aggregation expression, for pipelines that bucket on the
    server: `ms` is an expression worth epoch ms, such as `{"$toLong": "$timestamp"}`.
    Integer arithmetic rather than `$dateTrunc`, which the lab's local server lacks."""
    return {"$subtract": [ms, {"$mod": [ms, size_ms]}]}


def as_utc(at: datetime) -> datetime:
    """A stored date as an aware UTC datetime (clients without tz_aware get naive UTC dates)."""
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def car_id(number: int) -> str:
    """1 -> 'CAR_001' (the original naming)."""
    return f"CAR_{number:03d}"


def rule_anomalies(event: dict) -> list[tuple[str, float, float]]:
    """The original four rules: (type, value, threshold) for each that fires."""
    found = []
    if event["speed"] > OVERSPEED_KMH:
        found.append(("overspeed", event["speed"], OVERSPEED_KMH))
    if event["engine_temp"] >= OVERHEAT_C:
        found.append(("engine_overheat", event["engine_temp"], OVERHEAT_C))
    if event["fuel_level"] <= LOW_FUEL_PCT:
        found.append(("low_fuel", event["fuel_level"], LOW_FUEL_PCT))
    if event["rpm"] >= HIGH_RPM:
        found.append(("high_rpm", event["rpm"], HIGH_RPM))
    return found


def anomaly_rules() -> list[dict]:
    """Every anomaly type with its kind and its condition, in words (for tables)."""
    return [
        {"type": "overspeed", "kind": "rule", "fires when": f"speed > {OVERSPEED_KMH:g} km/h"},
        {"type": "engine_overheat", "kind": "rule", "fires when": f"engine_temp >= {OVERHEAT_C:g} °C"},
        {"type": "low_fuel", "kind": "rule", "fires when": f"fuel_level <= {LOW_FUEL_PCT:g} %"},
        {"type": "high_rpm", "kind": "rule", "fires when": f"rpm >= {HIGH_RPM:g}"},
        {"type": "gps_jump", "kind": "stateful",
         "fires when": f"the move since the car's last fix implies > {GPS_JUMP_KMH:g} km/h"},
        {"type": "temp_rise", "kind": "stateful",
         "fires when": f"engine_temp rose >= {TEMP_RISE_C_PER_S:g} °C per second since the last reading"},
        {"type": "fuel_drop", "kind": "stateful",
         "fires when": f"fuel_level fell >= {FUEL_DROP_PCT:g} points since the last reading"},
        {"type": "sensor_stuck", "kind": "stateful",
         "fires when": f"speed, rpm or engine_temp keeps exactly the same value for {STUCK_REPEATS} or more "
                       "readings in a row (speed 0 excepted)"},
    ]
