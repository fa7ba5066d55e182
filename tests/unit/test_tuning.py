"""Detection with noisy sensors (labkit.scenarios.tuning): the noise is seeded and reproducible,
the labels are the noise-free truth, and the sweep's numbers obey what precision and recall are."""

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from labkit import contract
from labkit.scenarios.evaluation import f1
from labkit.scenarios.tuning import SensorNoise, add_noise, delays, flagged, sweep, true_readings
from labkit.simulate.faults import FaultRates
from labkit.simulate.simulator import SimConfig, Simulator

pytestmark = pytest.mark.unit

START = datetime(2026, 2, 25, 8, 0, tzinfo=timezone.utc)
THRESHOLDS = [t / 2 for t in range(210, 261)]  # 105.0 .. 130.0 °C, as notebook 02 sweeps
NOISE = SensorNoise(sigma=4.0, spike_rate=0.01, seed=11)


def _batch(seed=11, count=3000, start=START):
    config = SimConfig(cars=10, seed=seed, faults=FaultRates(episode=0.02, invalid=0, duplicate=0, late=0))
    return list(Simulator(config).messages(count=count, start=start))


@pytest.fixture(scope="module")
def rows():
    return true_readings(_batch())


def _row(car, n, reading, real=False):
    return {"event_id": f"{car}-{n}", "car_id": car, "true": reading, "real": real, "reading": reading}


# --- the rows and their noise -----------------------------------------------------------


def test_the_batch_has_overheats_and_near_misses(rows):
    hot = [r for r in rows if r["real"]]
    near = [r for r in rows if not r["real"] and r["true"] >= contract.OVERHEAT_C - 10]
    assert len(hot) >= 50 and len(near) >= 10


def test_the_truth_is_the_noise_free_value_against_the_rule(rows):
    assert all(r["real"] == (r["true"] >= contract.OVERHEAT_C) for r in rows)


def test_duplicates_and_invalid_messages_are_left_out():
    config = SimConfig(cars=4, seed=3, faults=FaultRates(episode=0.02, invalid=0.05, duplicate=0.05, late=0))
    batch = list(Simulator(config).messages(count=800, start=START))
    rows = true_readings(batch)
    assert len(rows) == len({m.event_id for m in batch if m.is_valid}) == len({r["event_id"] for r in rows})
    assert len(rows) < len(batch)


def test_the_noise_is_seeded_and_reproducible(rows):
    once, again = add_noise(rows, NOISE), add_noise(rows, NOISE)
    assert once == again
    other = add_noise(rows, SensorNoise(sigma=4.0, spike_rate=0.01, seed=12))
    assert [r["reading"] for r in other] != [r["reading"] for r in once]


def test_the_same_run_started_later_gives_the_same_sweep():
    """Event ids depend on the start time, the values and the noise do not: a notebook rerun
    records the same numbers."""
    now = sweep(add_noise(true_readings(_batch()), NOISE), THRESHOLDS)
    later = sweep(add_noise(true_readings(_batch(start=START + timedelta(days=3))), NOISE), THRESHOLDS)
    assert now == later


def test_add_noise_copies_and_keeps_the_rows(rows):
    before = [dict(r) for r in rows]
    noisy = add_noise(rows, NOISE)
    assert rows == before and "reading" not in rows[0]
    assert [{k: v for k, v in r.items() if k != "reading"} for r in noisy] == rows


def test_the_noise_is_a_few_degrees_with_rare_high_spikes(rows):
    errors = [r["reading"] - r["true"] for r in add_noise(rows, NOISE)]
    spikes = [e for e in errors if e > 4 * NOISE.sigma]
    assert 0 < len(spikes) < 0.03 * len(errors)
    ordinary = [e for e in errors if abs(e) <= 4 * NOISE.sigma]
    spread = (sum(e * e for e in ordinary) / len(ordinary)) ** 0.5
    assert 0.8 * NOISE.sigma < spread < 1.2 * NOISE.sigma


def test_without_noise_the_rule_is_exact(rows):
    """The table above the lesson in notebook 02: the rule reads what the simulator labelled."""
    exact = add_noise(rows, SensorNoise(sigma=0.0, spike_rate=0.0))
    [at_limit] = sweep(exact, [contract.OVERHEAT_C])
    assert (at_limit["precision"], at_limit["recall"], at_limit["f1"]) == (1.0, 1.0, 1.0)


def test_impossible_noise_is_refused():
    with pytest.raises(ValueError):
        SensorNoise(sigma=-1.0)
    with pytest.raises(ValueError):
        SensorNoise(spike_rate=1.5)


# --- the sweep -----------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_lower_threshold_never_has_a_lower_recall(rows, k):
    table = sweep(add_noise(rows, NOISE), THRESHOLDS, k=k)
    recalls = [r["recall"] for r in table]
    assert recalls == sorted(recalls, reverse=True)
    assert recalls[0] > recalls[-1]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_higher_threshold_flags_part_of_what_a_lower_one_flags(rows, k):
    noisy = add_noise(rows, NOISE)
    sets = [flagged(noisy, t, k) for t in THRESHOLDS]
    assert all(higher <= lower for lower, higher in zip(sets, sets[1:]))


@pytest.mark.parametrize("k", [1, 2])
def test_the_sweeps_counts_add_up(rows, k):
    noisy = add_noise(rows, NOISE)
    real = sum(r["real"] for r in rows)
    for row in sweep(noisy, THRESHOLDS, k=k):
        assert row["injected"] == real == row["true_pos"] + row["missed"]
        assert row["flagged"] == row["true_pos"] + row["false_pos"] == len(flagged(noisy, row["threshold"], k))
        assert row["precision"] == round(row["true_pos"] / row["flagged"], 3)
        assert row["recall"] == round(row["true_pos"] / real, 3)
        assert row["f1"] == f1(row) and row["threshold"] in THRESHOLDS and row["k"] == k


def test_noise_makes_a_trade_off(rows):
    """What notebook 02 shows: a low threshold catches everything with poor precision, a high
    one misses, and F1 does not peak at the rule's limit."""
    table = sweep(add_noise(rows, NOISE), THRESHOLDS)
    low, high = table[0], table[-1]
    assert low["recall"] == 1.0 and low["precision"] < 0.8
    assert high["recall"] < 0.5 and high["precision"] > 0.9
    best = max(table, key=lambda r: r["f1"])
    assert best["threshold"] != contract.OVERHEAT_C


def test_k_in_a_row_trades_latency_for_precision(rows):
    noisy = add_noise(rows, NOISE)
    [one], [two] = sweep(noisy, [contract.OVERHEAT_C], k=1), sweep(noisy, [contract.OVERHEAT_C], k=2)
    assert one["false_pos"] > two["false_pos"] and two["precision"] > one["precision"]
    assert two["recall"] < one["recall"]
    wait_one, wait_two = delays(noisy, contract.OVERHEAT_C, 1), delays(noisy, contract.OVERHEAT_C, 2)
    assert sum(wait_two) > sum(wait_one)


def test_an_empty_sweep_row_has_no_precision():
    rows = [_row("CAR_001", 1, 90.0), _row("CAR_001", 2, 125.0, real=True)]
    [row] = sweep(rows, [200.0])
    assert (row["flagged"], row["precision"], row["recall"], row["f1"]) == (0, None, 0.0, 0.0)


# --- k readings in a row, and delays, by hand -----------------------------------------------


def test_k_counts_readings_in_a_row_per_car():
    rows = [_row("CAR_001", 1, 125.0), _row("CAR_002", 1, 125.0), _row("CAR_001", 2, 121.0),
            _row("CAR_002", 2, 90.0), _row("CAR_001", 3, 119.0), _row("CAR_002", 3, 130.0),
            _row("CAR_001", 4, 122.0)]
    assert flagged(rows, 120.0) == {"CAR_001-1", "CAR_002-1", "CAR_001-2", "CAR_002-3", "CAR_001-4"}
    assert flagged(rows, 120.0, k=2) == {"CAR_001-2"}  # another car's reading does not break CAR_001's run
    assert flagged(rows, 120.0, k=3) == set()
    with pytest.raises(ValueError):
        flagged(rows, 120.0, k=0)


def test_delays_count_readings_from_each_episodes_start():
    rows = [_row("CAR_001", 1, 110.0), _row("CAR_001", 2, 118.0, real=True), _row("CAR_001", 3, 123.0, real=True),
            _row("CAR_001", 4, 124.0, real=True), _row("CAR_001", 5, 95.0),
            _row("CAR_001", 6, 121.0, real=True), _row("CAR_001", 7, 90.0),
            _row("CAR_002", 1, 119.0, real=True)]
    assert delays(rows, 120.0, k=1) == [1, 0, None]
    assert delays(rows, 120.0, k=2) == [2, None, None]


def test_the_module_imports_no_client_library():
    """Pure, as its docstring says: importing it loads no Kafka, MongoDB or web client."""
    code = ("import sys, labkit.scenarios.tuning; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'kafka', 'pymongo', 'bson', 'fastapi', 'uvicorn', 'httpx', 'requests'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
