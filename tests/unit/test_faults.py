"""Fault injection: rates within tolerance, labels that match the bytes, truth never leaks."""

import json
from collections import Counter
from datetime import datetime, timezone

import pytest

from labkit import contract
from labkit.simulate import faults
from labkit.simulate.faults import EPISODES, FaultRates
from labkit.simulate.simulator import SimConfig, Simulator, backfill_start

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def run(rates: FaultRates, cars=10, duration_s=2000, seed=21):
    return list(Simulator(SimConfig(cars=cars, seed=seed, faults=rates)).messages(duration_s=duration_s, start=START))


@pytest.fixture(scope="module")
def faulty():
    """20,000 readings with generous fault rates, so every kind occurs many times."""
    return run(FaultRates(episode=0.01, invalid=0.05, duplicate=0.02, late=0.02))


def test_no_faults_means_clean_unlabelled_messages():
    messages = run(FaultRates.none(), cars=3, duration_s=600)
    assert len(messages) == 1800
    assert all(not m.labels for m in messages)
    for m in messages:
        event = json.loads(m.value)
        assert set(event) == set(contract.FIELDS)
        assert m.key == event["car_id"].encode() and m.event_id == event["event_id"]


def test_fault_rates_within_tolerance(faulty):
    counts = Counter(label.split(":")[0] for m in faulty for label in m.labels)
    readings = 20_000
    # Binomial counts: expected ± 5 standard deviations is a safe, still meaningful band.
    for kind, rate in (("invalid", 0.05), ("duplicate", 0.02), ("late", 0.02)):
        expected = readings * rate
        sd = (readings * rate * (1 - rate)) ** 0.5
        assert abs(counts[kind] - expected) < 5 * sd, (kind, counts[kind], expected)


def test_every_invalid_class_occurs_and_labels_describe_the_bytes(faulty):
    invalid = [m for m in faulty if not m.is_valid]
    classes = Counter(label.split(":")[1] for m in invalid for label in m.labels if label.startswith("invalid:"))
    assert set(classes) == set(faults.INVALID_CLASSES) == set(contract.REASON_CLASSES) - {"unsupported_version"}
    for m in invalid:
        reason = next(label.split(":")[1] for label in m.labels if label.startswith("invalid:"))
        if reason == "not_json":
            with pytest.raises((ValueError, UnicodeDecodeError)):
                json.loads(m.value)
        elif reason == "not_object":
            assert not isinstance(json.loads(m.value), dict)
        elif reason == "oversize":
            assert len(m.value) > contract.MAX_PAYLOAD_BYTES
        elif reason == "missing_field":
            assert set(json.loads(m.value)) < set(contract.FIELDS)
        elif reason == "range":
            event = json.loads(m.value)
            assert any(not (lo <= event[f] <= hi) for f, (lo, hi) in contract.RANGES.items())
        elif reason == "wrong_type":
            event = json.loads(m.value)
            assert any(type(event[f]) not in (int, float) for f in contract.NUMERIC_FIELDS)


def test_every_anomaly_type_is_injected_and_labels_match_values(faulty):
    anomalies = Counter(a for m in faulty if m.is_valid for a in m.anomalies())
    assert set(anomalies) == set(contract.ANOMALY_TYPES)
    for m in faulty:
        if not m.is_valid:
            continue
        event = json.loads(m.value)
        labels = m.anomalies()
        assert ("overspeed" in labels) == (event["speed"] > contract.OVERSPEED_KMH)
        assert ("engine_overheat" in labels) == (event["engine_temp"] >= contract.OVERHEAT_C)
        assert ("high_rpm" in labels) == (event["rpm"] >= contract.HIGH_RPM)
        assert ("low_fuel" in labels) == (event["fuel_level"] <= contract.LOW_FUEL_PCT)


def test_anomaly_episodes_last_several_events(faulty):
    runs, by_car = [], {}
    for m in faulty:
        if m.is_valid and "late" not in m.labels and "duplicate" not in m.labels:
            by_car.setdefault(m.car_id, []).append(m)
    for messages in by_car.values():
        streak = 0
        for m in messages:
            if "overspeed" in m.anomalies():
                streak += 1
            elif streak:
                runs.append(streak)
                streak = 0
    assert runs and sum(runs) / len(runs) >= 3
    assert "overspeed" in EPISODES


def test_duplicates_repeat_an_earlier_message_exactly(faulty):
    seen = {}
    for m in faulty:
        if "duplicate" in m.labels:
            assert m.value in seen.values() or m.event_id in seen, "a duplicate repeats an earlier event"
        elif m.event_id is not None:
            seen[m.event_id] = m.value


def test_late_messages_arrive_after_newer_ones_of_the_same_car(faulty):
    last_seq = {}
    late_ok = 0
    for m in faulty:
        if m.seq is None or not isinstance(m.seq, int):
            continue
        if "late" in m.labels:
            assert m.seq < last_seq.get(m.car_id, 0)
            late_ok += 1
        elif "duplicate" not in m.labels:
            last_seq[m.car_id] = max(last_seq.get(m.car_id, 0), m.seq)
    assert late_ok > 100


def test_ground_truth_never_travels_inside_the_message(faulty):
    for m in faulty:
        assert b"label" not in m.value and b"anomaly" not in m.value and b"invalid:" not in m.value


def test_event_ids_are_unique_per_run_and_stable_per_seed():
    a = [m.event_id for m in Simulator(SimConfig(seed=1, faults=FaultRates.none())).messages(count=50, start=START)]
    b = [m.event_id for m in Simulator(SimConfig(seed=1, faults=FaultRates.none())).messages(count=50, start=START)]
    later = START.replace(hour=1)
    c = [m.event_id for m in Simulator(SimConfig(seed=1, faults=FaultRates.none())).messages(count=50, start=later)]
    assert a == b and len(set(a)) == 50
    assert not set(a) & set(c)


def test_count_bound_is_exact_and_backfill_keeps_timestamps_in_the_past():
    config = SimConfig(cars=4, faults=FaultRates(duplicate=0.2, late=0.2))
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    start = backfill_start(config, count=1000, now=now)
    messages = list(Simulator(config).messages(count=1000, start=start))
    assert len(messages) == 1000
    stamps = [datetime.fromisoformat(m.timestamp) for m in messages if m.timestamp and m.is_valid]
    assert max(stamps) <= now


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_rates_must_be_probabilities(bad):
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultRates(invalid=bad)


def test_an_invalid_message_is_timed_as_its_reading_was_sent_not_by_its_payload():
    from datetime import datetime, timezone

    from labkit.simulate.producer import _parse
    from labkit.simulate.simulator import SimConfig, Simulator

    start = datetime(2026, 2, 25, 8, 0, tzinfo=timezone.utc)
    messages = list(Simulator(SimConfig(cars=3, seed=5, faults=FaultRates(episode=0, invalid=1.0, duplicate=0, late=0)))
                    .messages(count=300, start=start))
    kinds = {label for m in messages for label in m.labels}
    assert {"invalid:future_timestamp", "invalid:bad_timestamp"} <= kinds
    times = [_parse(m.timestamp) for m in messages]
    assert all(t is not None and 0 <= (t - start).total_seconds() < 300 for t in times)
