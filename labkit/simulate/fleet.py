"""The fleet model: cars that drive like cars on a street grid. Pure: no Kafka, no clock.

Each car drives on a grid of streets laid over a city area (default: Berlin, as in the
original project). Streets have a type and a speed limit; a car accelerates to about the
limit, cruises with small variations, brakes for red lights and waits, turns at
intersections, and never leaves the area. Its engine follows the road:

- RPM comes from speed through gear ratios (idle when stopped, higher while accelerating);
- engine temperature warms up to a thermostat-regulated band (~88-96 °C) and moves with load;
- fuel falls with distance and load (and slowly at idle); below 12 % the car refuels.

Everything is deterministic for a given seed, and each car has its own random stream,
so adding a car does not change the others. Clean events always satisfy the validation
ranges in `labkit.contract`; the faults are added later, by `labkit.simulate.faults`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from labkit import contract
from labkit.contract.geo import metres_per_degree

# Directions on the grid: east, north, west, south as unit steps in metres (x east, y north).
DIRECTIONS = ((1, 0), (0, 1), (-1, 0), (0, -1))

# Street types by grid index: every 10th line is an expressway, every 3rd an arterial road.
SPEED_LIMITS_KMH = {"expressway": 100.0, "arterial": 60.0, "residential": 40.0}

GEAR_RATIOS = (3.6, 2.1, 1.4, 1.0, 0.8, 0.65)
GEAR_UP_KMH = (15, 30, 50, 70, 90)  # shift up above these speeds
FINAL_DRIVE = 3.7
WHEEL_CIRCUMFERENCE_M = 2.0
IDLE_RPM = 800.0

TANK_L = 50.0
REFUEL_BELOW_PCT = 12.0
AMBIENT_C = 18.0
THERMOSTAT_C = 90.0


@dataclass(frozen=True)
class CityArea:
    """A square area of streets around a centre (default: Berlin Mitte)."""

    center_lat: float = 52.52
    center_lon: float = 13.405
    half_size_m: float = 6000.0
    block_m: float = 400.0

    @property
    def lines(self) -> int:
        """Number of street lines from the centre to the edge, each way."""
        return int(self.half_size_m // self.block_m)

    def street_type(self, index: int) -> str:
        if index % 10 == 0:
            return "expressway"
        if index % 3 == 0:
            return "arterial"
        return "residential"

    def to_lat_lon(self, x: float, y: float) -> tuple[float, float]:
        """Local metres (east, north of the centre) to degrees, with the right scale per axis."""
        per_lat, per_lon = metres_per_degree(self.center_lat)
        lat = self.center_lat + y / per_lat
        per_lat, per_lon = metres_per_degree(lat)
        return lat, self.center_lon + x / per_lon


@dataclass
class Car:
    """One car's physical state. `step(dt)` advances it; `reading()` is what its sensors say."""

    car_id: str
    area: CityArea
    rng: random.Random
    x: float = 0.0
    y: float = 0.0
    heading: int = 0  # index into DIRECTIONS
    speed: float = 0.0  # m/s
    accel: float = 0.0  # m/s², last step
    mode: str = "accelerate"  # accelerate | cruise | brake | stopped | refuel
    timer: float = 0.0  # seconds left in `stopped` / `refuel`
    target_kmh: float = 40.0
    driver_factor: float = 1.0  # how close to the limit this driver likes to go
    red_ahead: bool = False
    temp: float = 60.0
    fuel_l: float = 30.0
    odometer_m: float = 0.0
    seq: int = 0
    noise: float = 0.0  # slowly varying speed wobble (km/h)
    _stopped_for: float = field(default=0.0, repr=False)

    # ------------------------------------------------------------------ geometry

    def street_index(self) -> int:
        """Index of the street the car is on (y line when going east/west, x line otherwise)."""
        coord = self.y if self.heading in (0, 2) else self.x
        return round(coord / self.area.block_m)

    def limit_kmh(self) -> float:
        return SPEED_LIMITS_KMH[self.area.street_type(abs(self.street_index()))]

    def distance_to_intersection(self) -> float:
        dx, dy = DIRECTIONS[self.heading]
        pos = self.x if dx else self.y
        step = dx or dy
        block = self.area.block_m
        nxt = (math.floor(pos / block) + 1) * block if step > 0 else (math.ceil(pos / block) - 1) * block
        if abs(nxt - pos) < 1e-6:
            nxt += step * block
        return abs(nxt - pos)

    # ------------------------------------------------------------------ driving

    def _turn(self) -> None:
        """At an intersection: straight, left or right (never a U-turn), staying inside the area."""
        choices = [self.heading] * 3 + [(self.heading + 1) % 4, (self.heading + 3) % 4]
        self.rng.shuffle(choices)
        edge = self.area.lines * self.area.block_m
        for h in choices:
            dx, dy = DIRECTIONS[h]
            nx, ny = self.x + dx * self.area.block_m, self.y + dy * self.area.block_m
            if abs(nx) <= edge and abs(ny) <= edge:
                if h != self.heading:
                    self.speed = min(self.speed, 25 / 3.6)  # slow down to turn
                self.heading = h
                return
        self.heading = (self.heading + 2) % 4  # dead end corner: turn around

    def _arrive(self) -> None:
        """Snap to the intersection, then decide: refuel, stop at a red light, or drive on."""
        block = self.area.block_m
        self.x, self.y = round(self.x / block) * block, round(self.y / block) * block
        if self.red_ahead:
            self.speed, self.mode, self.timer = 0.0, "stopped", self.rng.uniform(5, 30)
        elif self.fuel_pct() < REFUEL_BELOW_PCT:
            self.speed, self.mode, self.timer = 0.0, "refuel", self.rng.uniform(90, 180)
        self._turn()
        self.red_ahead = self.rng.random() < 0.3
        self.target_kmh = self.limit_kmh() * self.driver_factor

    def step(self, dt: float) -> None:
        """Advance the car by `dt` seconds."""
        if self.mode in ("stopped", "refuel"):
            self.timer -= dt
            self.accel = 0.0
            if self.timer <= 0:
                if self.mode == "refuel":
                    self.fuel_l = TANK_L * self.rng.uniform(0.9, 1.0)
                self.mode = "accelerate"
                self.red_ahead = False
        else:
            self._drive(dt)
        self._engine(dt)

    def _drive(self, dt: float) -> None:
        self.noise += (-0.1 * self.noise + self.rng.gauss(0, 0.6)) * dt  # Ornstein-Uhlenbeck
        target = max(5.0, self.target_kmh + self.noise) / 3.6
        distance = self.distance_to_intersection()
        must_stop = self.red_ahead or self.fuel_pct() < REFUEL_BELOW_PCT
        # Braking distance at a comfortable 2.5 m/s²: start braking when it reaches the stop line.
        if must_stop and self.speed > 0.5 and self.speed**2 / (2 * 2.5) >= distance - 5:
            self.mode = "brake"
        if self.mode == "brake" and must_stop:
            decel = min(6.0, self.speed**2 / (2 * max(distance, 0.5)))
            new_speed = max(0.0, self.speed - decel * dt)
            if new_speed < 1.0 and distance < 15:
                new_speed = max(new_speed, 1.0)  # creep up to the line
        elif self.speed < target - 0.3:
            self.mode = "accelerate"
            new_speed = min(target, self.speed + self.rng.uniform(1.5, 2.5) * dt)
        else:
            self.mode = "cruise"
            new_speed = max(0.0, self.speed + max(-1.5, min(0.8, target - self.speed)) * dt)
        self.accel = (new_speed - self.speed) / dt
        travelled = (self.speed + new_speed) / 2 * dt
        self.speed = new_speed
        if travelled >= distance:
            dx, dy = DIRECTIONS[self.heading]
            self.x += dx * distance
            self.y += dy * distance
            self.odometer_m += distance
            self._arrive()
        else:
            dx, dy = DIRECTIONS[self.heading]
            self.x += dx * travelled
            self.y += dy * travelled
            self.odometer_m += travelled
        self._burn(travelled)

    # ------------------------------------------------------------------ engine

    def gear(self) -> int:
        kmh = self.speed * 3.6
        return sum(kmh > g for g in GEAR_UP_KMH)

    def rpm(self) -> float:
        if self.speed < 0.5:
            return IDLE_RPM
        wheel_rpm = self.speed / WHEEL_CIRCUMFERENCE_M * 60
        engine = wheel_rpm * GEAR_RATIOS[self.gear()] * FINAL_DRIVE
        return max(IDLE_RPM, engine * (1 + 0.12 * max(0.0, self.accel) / 2.5))

    def load(self) -> float:
        """Engine load 0..1: mostly from acceleration, a little from speed."""
        return min(1.0, max(0.0, self.accel) / 2.5 * 0.7 + self.speed * 3.6 / 130 * 0.3)

    def _engine(self, dt: float) -> None:
        if self.temp < THERMOSTAT_C - 2:
            # Thermostat closed: the engine warms up, faster when it works harder.
            self.temp += (0.12 + 0.10 * self.rpm() / 3000) * dt
        else:
            # Thermostat open: the coolant holds a band that rises a little with load.
            target = THERMOSTAT_C + 5 * self.load()
            self.temp += (target - self.temp) * 0.05 * dt
        self.temp += self.rng.gauss(0, 0.04)
        self.temp = max(contract.RANGES["engine_temp"][0] + 1, self.temp)
        idle_l_per_s = 0.8 / 3600
        self.fuel_l = max(0.0, self.fuel_l - idle_l_per_s * dt)

    def _burn(self, metres: float) -> None:
        litres_per_m = 7.0 / 100_000 * (1 + 0.8 * self.load())
        self.fuel_l = max(0.0, self.fuel_l - litres_per_m * metres)

    def fuel_pct(self) -> float:
        return self.fuel_l / TANK_L * 100

    # ------------------------------------------------------------------ sensors

    def reading(self, at: datetime) -> dict:
        """The clean event the car's sensors report now (rounded like the original's)."""
        self.seq += 1
        lat, lon = self.area.to_lat_lon(self.x, self.y)
        return {
            "car_id": self.car_id,
            "timestamp": at.isoformat(timespec="microseconds"),
            "speed": round(self.speed * 3.6, 2),
            "rpm": int(round(self.rpm() + (self.rng.gauss(0, 15) if self.speed > 0.5 else self.rng.gauss(0, 8)))),
            "engine_temp": round(self.temp, 2),
            "fuel_level": round(self.fuel_pct(), 2),
            "latitude": round(lat, 6),
            "longitude": round(lon, 6),
            "seq": self.seq,
        }


@dataclass(frozen=True)
class FleetConfig:
    cars: int = 2
    rate_hz: float = 1.0  # events per car per second (the original's default)
    seed: int = 7
    area: CityArea = CityArea()


class Fleet:
    """A deterministic fleet: same config (seed included), same events."""

    def __init__(self, config: FleetConfig = FleetConfig()):
        if config.cars < 1 or config.rate_hz <= 0:
            raise ValueError("a fleet needs at least one car and a positive rate")
        self.config = config
        self.cars = [self._new_car(i + 1) for i in range(config.cars)]
        # Cars do not all report at the same instant: each has a fixed phase in the period.
        period = 1 / config.rate_hz
        self.phases = [random.Random(f"{config.seed}/phase/{c.car_id}").uniform(0, period) for c in self.cars]

    def _new_car(self, number: int) -> Car:
        area = self.config.area
        rng = random.Random(f"{self.config.seed}/car/{number}")
        n = area.lines
        # Start at a random intersection, going a random way, with a random tank and engine.
        car = Car(
            car_id=contract.car_id(number), area=area, rng=rng,
            x=rng.randint(-n + 1, n - 1) * area.block_m, y=rng.randint(-n + 1, n - 1) * area.block_m,
            heading=rng.randrange(4), temp=rng.uniform(45, 92), fuel_l=TANK_L * rng.uniform(0.15, 0.95),
            driver_factor=rng.uniform(0.85, 1.05),
            # A car has driven before the simulation starts. Drawn from a generator of its own,
            # so that the driving above stays what it was for a seed.
            odometer_m=random.Random(f"{self.config.seed}/odometer/{number}").uniform(5_000, 180_000) * 1000,
        )
        car.target_kmh = car.limit_kmh() * car.driver_factor
        car.red_ahead = rng.random() < 0.3
        return car

    def readings(self, start: datetime, count: int | None = None, duration_s: float | None = None) -> Iterator[tuple[Car, dict]]:
        """Clean readings in time order, with the car that made each one.

        Stops after `count` readings or `duration_s` simulated seconds (or never, if both
        are None: the caller bounds it). Car i reports at start + k/rate + phase_i.
        """
        period = 1 / self.config.rate_hz
        order = sorted(range(len(self.cars)), key=lambda i: self.phases[i])
        produced, tick = 0, 0
        while True:
            for i in order:
                t = tick * period + self.phases[i]
                if duration_s is not None and t >= duration_s:
                    return
                if count is not None and produced >= count:
                    return
                car = self.cars[i]
                car.step(period)
                yield car, car.reading(start + timedelta(seconds=t))
                produced += 1
            tick += 1
