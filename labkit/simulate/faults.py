"""Fault injection with ground truth: anomalies, invalid events, duplicates, late events.

The fleet produces clean readings; the injector turns some of them into the trouble a
real pipeline meets, and records *what it did* as labels beside each message, never in
the message itself. Later notebooks compare what validation and the detectors caught
with these labels (precision and recall).

Labels (a message may carry several):

    anomaly:<type>    the values cross a contract threshold because of an injected episode
                      (overspeed, engine_overheat, high_rpm, low_fuel, temp_rise,
                      fuel_drop, gps_jump, sensor_stuck)
    invalid:<class>   the message must be rejected with that reason class
                      (see `labkit.contract.REASON_CLASSES`)
    duplicate         the same event (same event_id and bytes) was already sent
    late              sent after newer events of the same car (out of order)

Pure: no Kafka, no clock; deterministic for a given random generator.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from labkit import contract

EPISODES = ("overspeed", "overheat", "high_rpm", "low_fuel", "gps_jump", "sensor_stuck")
#: What `_corrupt` breaks. An unsupported version is not a corruption but a producer ahead of
#: its readers: the simulator's `versions` make those (labkit.simulate.simulator.SimConfig).
INVALID_CLASSES = tuple(c for c in contract.REASON_CLASSES if c != "unsupported_version")


@dataclass(frozen=True)
class FaultRates:
    """Probabilities per clean event. Defaults are small, like a healthy fleet's."""

    episode: float = 0.002  # start an anomaly episode (kind chosen uniformly from EPISODES)
    invalid: float = 0.01  # replace the event by an invalid message (class chosen uniformly)
    duplicate: float = 0.005  # send the event a second time, a little later
    late: float = 0.005  # hold the event back and send it after newer ones

    @classmethod
    def none(cls) -> FaultRates:
        return cls(episode=0.0, invalid=0.0, duplicate=0.0, late=0.0)

    def __post_init__(self):
        for name in ("episode", "invalid", "duplicate", "late"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault rate {name}={value} must be between 0 and 1")


@dataclass
class Message:
    """One message to send, with its ground truth. `value` is the exact bytes to produce."""

    key: bytes
    value: bytes
    car_id: str
    event_id: str | None
    seq: int | None
    timestamp: str | None  # when the device sent it (real-time runs pace by it), not a corrupted payload's
    labels: frozenset[str] = frozenset()

    @property
    def is_valid(self) -> bool:
        return not any(label.startswith("invalid:") for label in self.labels)

    def anomalies(self) -> set[str]:
        return {label.split(":", 1)[1] for label in self.labels if label.startswith("anomaly:")}


@dataclass
class _Episode:
    kind: str
    length: int  # events
    done: int = 0
    peak: float = 0.0
    field: str = ""
    stuck_value: float | None = None


@dataclass
class _CarFaults:
    episode: _Episode | None = None
    prev_temp: float | None = None
    prev_fuel: float | None = None
    held: list = field(default_factory=list)  # [(release_after_n_events, Message)]
    dup_queue: list = field(default_factory=list)


class FaultInjector:
    """Turns clean readings into messages, some of them faulty, with labels."""

    def __init__(self, rates: FaultRates, rng: random.Random, rate_hz: float = 1.0):
        self.rates = rates
        self.rng = rng
        self.dt = 1 / rate_hz
        self.cars: dict[str, _CarFaults] = {}

    # ------------------------------------------------------------------ entry point

    def messages(self, reading: dict, event_id: str) -> Iterator[Message]:
        """Messages to send for one clean reading (usually exactly one; faults add or delay)."""
        state = self.cars.setdefault(reading["car_id"], _CarFaults())
        event = dict(reading, event_id=event_id)
        labels: set[str] = set()

        self._apply_episode(state, event, labels)
        prev_temp, prev_fuel = state.prev_temp, state.prev_fuel
        state.prev_temp, state.prev_fuel = event["engine_temp"], event["fuel_level"]
        if prev_temp is not None and (event["engine_temp"] - prev_temp) / self.dt >= contract.TEMP_RISE_C_PER_S:
            labels.add("anomaly:temp_rise")
        if prev_fuel is not None and prev_fuel - event["fuel_level"] >= contract.FUEL_DROP_PCT:
            labels.add("anomaly:fuel_drop")

        message = _to_message(reading["car_id"], event, labels)
        if self.rng.random() < self.rates.invalid:
            message = self._corrupt(reading["car_id"], event)

        # Release held-back (late) and duplicate messages whose time has come.
        yield from self._due(state.held)
        yield from self._due(state.dup_queue)
        if self.rng.random() < self.rates.late:
            state.held.append([self.rng.randint(2, 6), _relabel(message, "late")])
            return
        yield message
        # A duplicate always follows its original (a retry after a lost acknowledgement).
        if self.rng.random() < self.rates.duplicate:
            state.dup_queue.append([self.rng.randint(0, 3), _relabel(message, "duplicate")])

    def flush(self) -> Iterator[Message]:
        """Everything still held back (call at the end of a run so nothing is lost)."""
        for state in self.cars.values():
            for _, message in state.held + state.dup_queue:
                yield message
            state.held.clear()
            state.dup_queue.clear()

    @staticmethod
    def _due(queue: list) -> Iterator[Message]:
        for item in list(queue):
            item[0] -= 1
            if item[0] < 0:
                queue.remove(item)
                yield item[1]

    # ------------------------------------------------------------------ anomaly episodes

    def _apply_episode(self, state: _CarFaults, event: dict, labels: set[str]) -> None:
        if state.episode is None and self.rng.random() < self.rates.episode:
            state.episode = self._new_episode(event)
        ep = state.episode
        if ep is None:
            return
        ep.done += 1
        progress = min(1.0, ep.done / max(1, ep.length // 2))  # ramp up over the first half
        if ep.kind == "overspeed":
            # Jitter on the plateau: a real overspeeding car never holds one exact value (a
            # frozen value is what the sensor_stuck detector looks for, and must not be faked).
            jitter = self.rng.uniform(-0.5, 0.5)
            event["speed"] = round(event["speed"] + (ep.peak + jitter - event["speed"]) * progress, 2)
            event["rpm"] = max(event["rpm"], int(event["speed"] / 3.6 / 2.0 * 60 * 0.65 * 3.7))
            if event["speed"] > contract.OVERSPEED_KMH:
                labels.add("anomaly:overspeed")
        elif ep.kind == "overheat":
            jitter = self.rng.uniform(-0.3, 0.3)
            event["engine_temp"] = round(event["engine_temp"] + (ep.peak + jitter - event["engine_temp"]) * progress, 2)
            if event["engine_temp"] >= contract.OVERHEAT_C:
                labels.add("anomaly:engine_overheat")
        elif ep.kind == "high_rpm":
            event["rpm"] = int(ep.peak + self.rng.uniform(-100, 100))
            labels.add("anomaly:high_rpm")
        elif ep.kind == "low_fuel":
            event["fuel_level"] = round(ep.peak - 0.01 * ep.done, 2)
            labels.add("anomaly:low_fuel")
        elif ep.kind == "gps_jump":
            # One glitching fix, several km away (a multipath or cold-start GPS error).
            event["latitude"] = round(event["latitude"] + ep.peak * self.rng.choice((-1, 1)), 6)
            event["longitude"] = round(event["longitude"] + ep.peak * self.rng.choice((-1, 1)), 6)
            labels.add("anomaly:gps_jump")
        elif ep.kind == "sensor_stuck":
            if ep.stuck_value is None:
                ep.stuck_value = event[ep.field]
            event[ep.field] = ep.stuck_value
            if ep.done >= contract.STUCK_REPEATS:
                labels.add("anomaly:sensor_stuck")
        if ep.done >= ep.length:
            state.episode = None

    def _new_episode(self, event: dict) -> _Episode:
        kind = self.rng.choice(EPISODES)
        r = self.rng
        if kind == "overspeed":
            return _Episode(kind, r.randint(8, 16), peak=r.uniform(186, 215))
        if kind == "overheat":
            return _Episode(kind, r.randint(12, 24), peak=r.uniform(124, 135))
        if kind == "high_rpm":
            return _Episode(kind, r.randint(3, 6), peak=r.uniform(7200, 7800))
        if kind == "low_fuel":
            return _Episode(kind, r.randint(10, 20), peak=r.uniform(2.5, 4.5))
        if kind == "gps_jump":
            return _Episode(kind, 1, peak=r.uniform(0.03, 0.08))  # degrees: ~2-9 km
        return _Episode(kind, r.randint(12, 20), field=r.choice(("engine_temp", "rpm", "speed")))

    # ------------------------------------------------------------------ invalid messages

    def _corrupt(self, car: str, event: dict) -> Message:
        """An invalid message of a random reason class, built from the event."""
        reason = self.rng.choice(INVALID_CLASSES)
        r = self.rng
        bad = dict(event)
        raw: bytes | None = None
        if reason == "not_json":
            raw = r.choice([_json(bad)[: r.randint(5, 60)], b"\xff\xfe\x00garbage\x80", b"speed=59.8;rpm=2947"])
        elif reason == "not_object":
            raw = r.choice([json.dumps(list(bad.values())).encode(), b'"CAR_001"', b"42", b"null"])
        elif reason == "missing_field":
            del bad[r.choice(contract.FIELDS)]
        elif reason == "wrong_type":
            name = r.choice(contract.NUMERIC_FIELDS)
            bad[name] = r.choice([str(bad[name]), None, True, [bad[name]]])  # "59.83" is not 59.83
        elif reason == "invalid":
            bad["car_id"] = r.choice(["", "car-001", "CAR_1", "🚗"])
        elif reason == "range":
            name = r.choice(contract.NUMERIC_FIELDS)
            low, high = contract.RANGES[name]
            bad[name] = r.choice([low - r.uniform(1, 50), high + r.uniform(1, 500)])
        elif reason == "bad_timestamp":
            bad["timestamp"] = r.choice(["yesterday", "2026-13-45T99:00:00+00:00", "", "2026-02-25 21:28"])
        elif reason == "future_timestamp":
            ts = datetime.fromisoformat(bad["timestamp"]) + timedelta(days=r.uniform(1, 30))
            bad["timestamp"] = ts.isoformat()
        elif reason == "oversize":
            bad["note"] = "x" * (contract.MAX_PAYLOAD_BYTES + 1024)
        return _to_message(car, bad, {f"invalid:{reason}"}, raw=raw, sent_at=event.get("timestamp"))


def _to_message(car: str, event: dict, labels: set[str], raw: bytes | None = None,
                sent_at: str | None = None) -> Message:
    """The key is the car's id as the device knows it, whatever the payload says. The message's
    `timestamp` is when the device sent it: `sent_at` for a corrupted payload (whose own
    timestamp may be garbage or days ahead), else the payload's."""
    at = sent_at if sent_at is not None else event.get("timestamp")
    return Message(
        key=car.encode(),
        value=raw if raw is not None else _json(event),
        car_id=car,
        event_id=event.get("event_id"),
        seq=event.get("seq"),
        timestamp=at if isinstance(at, str) else None,
        labels=frozenset(labels),
    )


def _json(event: dict) -> bytes:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def _relabel(message: Message, label: str) -> Message:
    labels = set(message.labels) | {label}
    return Message(message.key, message.value, message.car_id, message.event_id, message.seq,
                   message.timestamp, frozenset(labels))
