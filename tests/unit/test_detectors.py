"""Anomaly detectors: each rule and each stateful detector, on hand-made sequences."""

from datetime import datetime, timedelta, timezone

import pytest

from labkit import contract
from labkit.contract import rule_anomalies
from labkit.process.detectors import AnomalyDetector
from labkit.process.validation import validate
from labkit.simulate.faults import FaultRates
from labkit.simulate.simulator import SimConfig, Simulator, backfill_start

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def event(seq=1, dt=None, **changes):
    base = {"car_id": "CAR_001", "event_id": f"e{seq}", "seq": seq,
            "timestamp": T0 + timedelta(seconds=seq if dt is None else dt),
            "speed": 50.0, "rpm": 2000, "engine_temp": 90.0, "fuel_level": 50.0,
            "latitude": 52.52, "longitude": 13.405}
    base.update(changes)
    return base


def types(anomalies):
    return sorted(a.type for a in anomalies)


@pytest.mark.parametrize("changes, expected", [
    ({"speed": 180.0}, []),
    ({"speed": 180.01}, ["overspeed"]),
    ({"engine_temp": 119.99}, []),
    ({"engine_temp": 120.0}, ["engine_overheat"]),
    ({"fuel_level": 5.0}, ["low_fuel"]),
    ({"fuel_level": 5.01}, []),
    ({"rpm": 6999}, []),
    ({"rpm": 7000}, ["high_rpm"]),
    ({"speed": 200.0, "rpm": 7500}, ["high_rpm", "overspeed"]),
])
def test_rules_at_their_thresholds(changes, expected):
    assert sorted(t for t, _, _ in rule_anomalies(event(**changes))) == expected


def test_anomaly_record_carries_the_contract_fields():
    [a] = AnomalyDetector().detect(event(speed=201.5))
    assert (a.type, a.value, a.threshold, a.detector, a.car_id, a.event_id) == ("overspeed", 201.5, 180.0, "rule", "CAR_001", "e1")
    assert a.anomaly_id == "e1:overspeed" and a.timestamp == T0 + timedelta(seconds=1)


def test_gps_jump_flags_the_glitch_but_not_the_return():
    d = AnomalyDetector()
    assert d.detect(event(1)) == []
    assert types(d.detect(event(2, latitude=52.57))) == ["gps_jump"]  # 5.5 km in a second
    assert d.detect(event(3, latitude=52.5201)) == []  # back near the last plausible fix


def test_gps_moves_at_driving_speed_are_fine():
    d = AnomalyDetector()
    for i in range(1, 20):  # ~15 m per second: 54 km/h
        assert d.detect(event(i, latitude=52.52 + i * 0.000135, speed=54 + i / 10, rpm=1700 + i, engine_temp=90 + i / 50)) == []


def test_temp_rise_uses_the_time_between_readings():
    d = AnomalyDetector()
    d.detect(event(1, engine_temp=90.0))
    assert types(d.detect(event(2, engine_temp=92.0))) == ["temp_rise"]  # 2 °C in 1 s
    d = AnomalyDetector()
    d.detect(event(1, dt=0, engine_temp=90.0))
    assert d.detect(event(2, dt=5, engine_temp=92.0)) == []  # 2 °C in 5 s: warming up


def test_fuel_drop_but_not_refuel():
    d = AnomalyDetector()
    d.detect(event(1, fuel_level=40.0))
    assert d.detect(event(2, fuel_level=80.0)) == []  # refuelled
    assert types(d.detect(event(3, fuel_level=70.0))) == ["fuel_drop"]


def test_sensor_stuck_after_repeats_but_not_while_standing_still():
    d = AnomalyDetector()
    found = [types(d.detect(event(i, engine_temp=91.23, speed=40 + i, rpm=1500 + i)))
             for i in range(1, contract.STUCK_REPEATS + 1)]
    assert found[:-1] == [[]] * (contract.STUCK_REPEATS - 1)
    assert found[-1] == ["sensor_stuck"]
    d = AnomalyDetector()
    for i in range(1, 30):  # stopped at a light: speed 0 repeats legitimately
        assert d.detect(event(i, speed=0.0, rpm=800 + i % 3, engine_temp=90 + i / 100)) == []


def test_a_sensor_frozen_while_another_is_flagged_still_counts_its_run():
    # speed frozen for readings 1-5, rpm frozen for readings 3-7: the rpm's run goes on counting
    # while the speed is the one flagged, so readings 6 and 7 are flagged for the rpm.
    d = AnomalyDetector(stuck_repeats=4)
    flagged = [i for i in range(1, 10)
               if d.detect(event(i, speed=60.0 if i <= 5 else 60.0 + i, rpm=1700 if 3 <= i <= 7 else 1500 + i,
                                 engine_temp=90 + i / 100))]
    assert flagged == [4, 5, 6, 7]


def test_late_events_get_rules_but_do_not_rewind_state():
    d = AnomalyDetector()
    d.detect(event(5, latitude=52.52))
    late = event(3, latitude=52.60, speed=200.0)  # older, far away, fast
    assert types(d.detect(late)) == ["overspeed"]  # rules yes, gps_jump no
    assert d.detect(event(6, latitude=52.52001)) == []


def test_duplicates_are_detected_once():
    d = AnomalyDetector()
    assert types(d.detect(event(1, speed=200.0))) == ["overspeed"]
    assert d.is_duplicate(event(1, speed=200.0))
    assert d.detect(event(1, speed=200.0)) == []


def test_thresholds_can_be_tuned():
    assert AnomalyDetector(temp_rise_c_per_s=5.0).temp_rise_c_per_s == 5.0
    d = AnomalyDetector(temp_rise_c_per_s=5.0)
    d.detect(event(1, engine_temp=90.0))
    assert d.detect(event(2, engine_temp=92.0)) == []


def test_clean_simulated_fleet_raises_no_anomalies():
    config = SimConfig(cars=10, seed=2, faults=FaultRates.none())
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    d = AnomalyDetector()
    found = []
    for m in Simulator(config).messages(duration_s=1800, start=backfill_start(config, duration_s=1800, now=now)):
        found += d.detect(validate(m.value, now).event)
    assert found == []


def test_detectors_find_the_injected_episodes():
    """Recall against the simulator's ground truth, per anomaly type (a floor, not a tuning)."""
    config = SimConfig(cars=20, seed=4, faults=FaultRates(episode=0.01, invalid=0.0, duplicate=0.0, late=0.0))
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    d = AnomalyDetector()
    hits, truth = {}, {}
    for m in Simulator(config).messages(duration_s=1500, start=backfill_start(config, duration_s=1500, now=now)):
        found = {a.type for a in d.detect(validate(m.value, now).event)}
        for kind in m.anomalies():
            truth[kind] = truth.get(kind, 0) + 1
            hits[kind] = hits.get(kind, 0) + (kind in found)
    assert set(truth) == set(contract.ANOMALY_TYPES)
    for kind in contract.RULE_ANOMALIES:
        assert hits[kind] == truth[kind], kind  # rules read the same thresholds: all caught
    for kind in contract.STATEFUL_ANOMALIES:
        assert hits[kind] / truth[kind] > 0.8, (kind, hits[kind], truth[kind])
