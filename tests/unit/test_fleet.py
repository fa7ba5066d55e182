"""The fleet model: realistic, bounded, deterministic."""

from datetime import datetime, timezone
from itertools import groupby

import pandas as pd
import pytest

from labkit import contract
from labkit.contract.geo import haversine_m, metres_per_degree
from labkit.simulate.fleet import CityArea, Fleet, FleetConfig

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def hour() -> pd.DataFrame:
    """Five cars for one hour of simulated time at 1 Hz (18,000 clean readings)."""
    fleet = Fleet(FleetConfig(cars=5, seed=11))
    return pd.DataFrame([r for _, r in fleet.readings(START, duration_s=3600)])


def test_same_seed_same_readings_other_seed_other_readings():
    def run(seed):
        return [r for _, r in Fleet(FleetConfig(cars=3, seed=seed)).readings(START, count=600)]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_adding_a_car_does_not_change_the_others():
    two = [r for _, r in Fleet(FleetConfig(cars=2, seed=5)).readings(START, duration_s=60)]
    three = [r for _, r in Fleet(FleetConfig(cars=3, seed=5)).readings(START, duration_s=60)]
    assert [r for r in three if r["car_id"] != "CAR_003"] == two


def test_clean_readings_are_always_inside_the_validation_ranges(hour):
    for name, (low, high) in contract.RANGES.items():
        assert hour[name].between(low, high).all(), name
    assert hour["car_id"].str.fullmatch(contract.CAR_ID_PATTERN.pattern).all()


def test_no_clean_reading_triggers_an_anomaly_rule(hour):
    assert (hour["speed"] <= contract.OVERSPEED_KMH).all()
    assert (hour["engine_temp"] < contract.OVERHEAT_C).all()
    assert (hour["fuel_level"] > contract.LOW_FUEL_PCT).all()
    assert (hour["rpm"] < contract.HIGH_RPM).all()


def test_nothing_drifts_to_a_cap_or_sticks(hour):
    for car, g in hour.groupby("car_id"):
        # Speed really varies: stops, city speeds and faster roads, not pinned to one value.
        assert (g["speed"] == 0).mean() < 0.4, car
        assert g["speed"].max() > 35 and g["speed"].quantile(0.5) < 90, car
        assert g["speed"].round(0).nunique() > 30, car
        # At most a few percent of readings at any single value, for every field.
        for name in ("speed", "rpm", "engine_temp"):
            moving = g[g["speed"] > 0][name]
            assert moving.value_counts(normalize=True).iloc[0] < 0.05, (car, name)
        # While moving, engine readings never repeat STUCK_REPEATS times in a row.
        moving = g[g["speed"] > 0]
        for name in ("speed", "rpm", "engine_temp"):
            longest = max(len(list(run)) for _, run in groupby(moving[name]))
            assert longest < contract.STUCK_REPEATS, (car, name, longest)


def test_rpm_follows_speed_and_idles_when_stopped(hour):
    stopped = hour[hour["speed"] == 0]["rpm"]
    assert stopped.between(700, 900).all()
    moving = hour[hour["speed"] > 5]
    assert moving[["speed", "rpm"]].corr().iloc[0, 1] > 0.3


def test_engine_warms_up_into_a_thermostat_band():
    fleet = Fleet(FleetConfig(cars=20, seed=3))
    rows = pd.DataFrame([r for _, r in fleet.readings(START, duration_s=1800)])
    first = rows.groupby("car_id")["engine_temp"].first()
    last = rows.groupby("car_id")["engine_temp"].last()
    assert (first < 80).any(), "some cars start cold"
    assert last.between(85, 100).all(), "after 30 minutes every engine is in its band"


def test_fuel_falls_with_distance_and_cars_refuel():
    fleet = Fleet(FleetConfig(cars=10, seed=4))
    rows = pd.DataFrame([r for _, r in fleet.readings(START, duration_s=3 * 3600)])
    refuels = 0
    for _, g in rows.groupby("car_id"):
        steps = g["fuel_level"].diff().dropna()
        assert (steps <= 0.01).mean() > 0.99  # almost always falling (or flat at a light)
        refuels += int((steps > 10).sum())
    assert refuels >= 1, "some car ran low and refuelled"


def test_cars_stay_inside_the_city_area(hour):
    area = CityArea()
    per_lat, per_lon = metres_per_degree(area.center_lat)
    margin = 1.01
    assert ((hour["latitude"] - area.center_lat).abs() * per_lat <= area.half_size_m * margin).all()
    assert ((hour["longitude"] - area.center_lon).abs() * per_lon <= area.half_size_m * margin).all()


def test_distance_between_fixes_matches_speed(hour):
    for _, g in hour.groupby("car_id"):
        d = [haversine_m(a, b, c, e) for a, b, c, e in
             zip(g.latitude, g.longitude, g.latitude[1:], g.longitude[1:])]
        implied_kmh = pd.Series(d) * 3.6  # one second apart
        assert implied_kmh.max() < contract.RANGES["speed"][1] / 2  # no teleporting


def test_rate_and_phase_give_each_car_its_own_regular_clock():
    fleet = Fleet(FleetConfig(cars=3, rate_hz=2.0, seed=9))
    rows = pd.DataFrame([r for _, r in fleet.readings(START, duration_s=30)])
    assert len(rows) == 3 * 60
    for _, g in rows.groupby("car_id"):
        gaps = pd.to_datetime(g["timestamp"]).diff().dropna().dt.total_seconds()
        assert gaps.round(6).eq(0.5).all()
        assert list(g["seq"]) == list(range(1, 61))
    assert rows["timestamp"].is_monotonic_increasing


def test_metres_per_degree_matches_reference_values():
    # Reference: WGS-84 lengths of a degree (e.g. NGA tables), to within a metre.
    lat_eq, lon_eq = metres_per_degree(0.0)
    assert lat_eq == pytest.approx(110_574, abs=1) and lon_eq == pytest.approx(111_320, abs=1)
    lat_45, lon_45 = metres_per_degree(45.0)
    assert lat_45 == pytest.approx(111_132, abs=1) and lon_45 == pytest.approx(78_847, abs=1)
    lat_b, lon_b = metres_per_degree(52.52)
    assert lon_b / lat_b == pytest.approx(0.6085, abs=0.003)  # ~cos(52.52°): east-west degrees are short
    # Moving 1 km east in Berlin measures 1 km on the globe (haversine assumes a sphere: ±0.5%).
    area = CityArea()
    lat, lon = area.to_lat_lon(1000, 0)
    assert haversine_m(area.center_lat, area.center_lon, lat, lon) == pytest.approx(1000, rel=0.005)
