"""Anomaly detection: the original rules plus stateful per-car detectors. Pure, no I/O.

    >>> detector = AnomalyDetector()
    >>> detector.detect(event)      # a validated event (timestamp is a datetime)
    [Anomaly(type='overspeed', value=201.3, threshold=180.0, ...)]

Rules look at one event. Stateful detectors compare an event with the same car's
previous one, so the detector keeps a little state per car. It only moves that state
forward: a late (older) event is checked against the rules but does not rewind the
car's history, and an event_id seen recently is reported as a duplicate, not twice.
Thresholds live in `labkit.contract`, shared with the simulator and the API.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime

from labkit import contract
from labkit.contract.geo import haversine_m

#: Two readings further apart than this are not compared (a gap, not a trend).
MAX_COMPARE_GAP_S = 10.0
STUCK_FIELDS = ("speed", "rpm", "engine_temp")


@dataclass(frozen=True)
class Anomaly:
    """One detected anomaly, as stored in MongoDB and sent to the anomaly topic."""

    anomaly_id: str  # event_id + type: idempotent, like the events
    event_id: str
    car_id: str
    timestamp: datetime
    type: str
    value: float
    threshold: float
    detector: str  # "rule" or "stateful"

    def as_record(self) -> dict:
        return asdict(self)


@dataclass
class _CarState:
    last_time: datetime | None = None
    last_fix: tuple[float, float] | None = None  # last plausible position
    last_temp: float | None = None
    last_fuel: float | None = None
    last_values: dict = field(default_factory=dict)
    repeats: dict = field(default_factory=dict)
    recent_ids: deque = field(default_factory=lambda: deque(maxlen=256))


class AnomalyDetector:
    """Rules and per-car detectors. `thresholds` can be tuned (notebook 05 tunes one)."""

    def __init__(self, gps_jump_kmh: float = contract.GPS_JUMP_KMH,
                 temp_rise_c_per_s: float = contract.TEMP_RISE_C_PER_S,
                 fuel_drop_pct: float = contract.FUEL_DROP_PCT,
                 stuck_repeats: int = contract.STUCK_REPEATS):
        self.gps_jump_kmh = gps_jump_kmh
        self.temp_rise_c_per_s = temp_rise_c_per_s
        self.fuel_drop_pct = fuel_drop_pct
        self.stuck_repeats = stuck_repeats
        self.cars: dict[str, _CarState] = {}

    def is_duplicate(self, event: dict) -> bool:
        """True if this car's event_id was seen recently (then `detect` skips it)."""
        state = self.cars.get(event["car_id"])
        return state is not None and event["event_id"] in state.recent_ids

    def detect(self, event: dict) -> list[Anomaly]:
        """Anomalies in one validated event. Updates the car's state (unless a duplicate)."""
        state = self.cars.setdefault(event["car_id"], _CarState())
        if event["event_id"] in state.recent_ids:
            return []
        state.recent_ids.append(event["event_id"])
        found = [(t, v, th, "rule") for t, v, th in contract.rule_anomalies(event)]
        newer = state.last_time is None or event["timestamp"] > state.last_time
        if newer:
            found += [(t, v, th, "stateful") for t, v, th in self._stateful(state, event)]
            state.last_time = event["timestamp"]
        return [
            Anomaly(f"{event['event_id']}:{t}", event["event_id"], event["car_id"], event["timestamp"], t,
                    float(v), float(th), kind)
            for t, v, th, kind in found
        ]

    def _stateful(self, state: _CarState, event: dict) -> list[tuple[str, float, float]]:
        found = []
        gap = (event["timestamp"] - state.last_time).total_seconds() if state.last_time else None
        comparable = gap is not None and 0 < gap <= MAX_COMPARE_GAP_S
        fix = (event["latitude"], event["longitude"])

        jumped = False
        if comparable and state.last_fix is not None:
            implied_kmh = haversine_m(*state.last_fix, *fix) / gap * 3.6
            if implied_kmh > self.gps_jump_kmh:
                found.append(("gps_jump", implied_kmh, self.gps_jump_kmh))
                jumped = True
        if not jumped:  # a glitching fix must not become the reference for the next one
            state.last_fix = fix

        if comparable and state.last_temp is not None:
            rise = (event["engine_temp"] - state.last_temp) / gap
            if rise >= self.temp_rise_c_per_s:
                found.append(("temp_rise", rise, self.temp_rise_c_per_s))
        state.last_temp = event["engine_temp"]

        if comparable and state.last_fuel is not None:
            drop = state.last_fuel - event["fuel_level"]
            if drop >= self.fuel_drop_pct:
                found.append(("fuel_drop", drop, self.fuel_drop_pct))
        state.last_fuel = event["fuel_level"]

        stuck = []
        for name in STUCK_FIELDS:  # every field's run is counted, whichever is stuck
            value = event[name]
            if state.last_values.get(name) == value:
                state.repeats[name] = state.repeats.get(name, 1) + 1
            else:
                state.repeats[name] = 1
            state.last_values[name] = value
            # Standing still legitimately repeats speed 0; any other frozen value is suspect.
            if state.repeats[name] >= self.stuck_repeats and not (name == "speed" and value == 0):
                stuck.append(state.repeats[name])
        if stuck:  # one stuck-sensor anomaly per event is enough
            found.append(("sensor_stuck", float(stuck[0]), float(self.stuck_repeats)))
        return found
