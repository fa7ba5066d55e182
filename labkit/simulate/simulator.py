"""The simulator: a fleet plus fault injection, as a stream of messages with ground truth.

    >>> sim = Simulator(SimConfig(cars=3, seed=1))
    >>> messages = list(sim.messages(count=100, start=some_utc_datetime))
    >>> messages[0].value        # the bytes that go to Kafka
    >>> messages[0].labels       # what was injected (never inside the bytes)

Pure: nothing here touches Kafka or the clock. `labkit.simulate.producer` sends the messages.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from labkit.simulate.faults import FaultInjector, FaultRates, Message
from labkit.simulate.fleet import CityArea, Fleet, FleetConfig


@dataclass(frozen=True)
class SimConfig:
    cars: int = 2
    rate_hz: float = 1.0
    seed: int = 7
    faults: FaultRates = FaultRates()
    area: CityArea = field(default_factory=CityArea)
    #: The share of cars already upgraded to event version 2 (labkit.contract): they send
    #: `schema_version: 2` with odometer and battery voltage; the others send version 1.
    #: A rolling upgrade is this share going from 0 to 1.
    v2_share: float = 0.0


def backfill_start(config: SimConfig, count: int | None = None, duration_s: float | None = None,
                   now: datetime | None = None) -> datetime:
    """A start time such that the simulated span ends about now.

    As-fast-as-possible runs squeeze minutes of driving into seconds; starting them in the
    past keeps every timestamp plausible (never in the future) for the validator.
    """
    now = now or datetime.now(timezone.utc)
    if duration_s is None:
        duration_s = (count or 0) / (config.cars * config.rate_hz)
    return now - timedelta(seconds=duration_s + 1)


class Simulator:
    """Deterministic: the same config and start give the same messages, byte for byte."""

    def __init__(self, config: SimConfig = SimConfig()):
        self.config = config

    def run_tag(self, start: datetime) -> str:
        """Short id of a run (seed + start): makes event ids unique across runs."""
        return hashlib.blake2b(f"{self.config.seed}/{start.isoformat()}".encode(), digest_size=4).hexdigest()

    def messages(self, count: int | None = None, duration_s: float | None = None,
                 start: datetime | None = None) -> Iterator[Message]:
        """Messages in sending order, bounded by `count` messages or `duration_s` simulated
        seconds (at least one bound for a finite run). `start` defaults to now (UTC)."""
        start = start or datetime.now(timezone.utc)
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        cfg = self.config
        fleet = Fleet(FleetConfig(cars=cfg.cars, rate_hz=cfg.rate_hz, seed=cfg.seed, area=cfg.area))
        injector = FaultInjector(cfg.faults, random.Random(f"{cfg.seed}/faults"), cfg.rate_hz)
        tag = self.run_tag(start)
        sent = 0
        upgraded = round(cfg.v2_share * cfg.cars)  # cars 1..upgraded send version 2
        for car, reading in fleet.readings(start, duration_s=duration_s):
            if int(car.car_id.removeprefix("CAR_")) <= upgraded:
                reading = as_version_2(car, reading)
            for message in injector.messages(reading, f"{car.car_id}-{tag}-{reading['seq']:07d}"):
                if count is not None and sent >= count:
                    return
                yield message
                sent += 1
        for message in injector.flush():  # duration-bounded: send what was held back
            if count is not None and sent >= count:
                return
            yield message
            sent += 1


def as_version_2(car, reading: dict) -> dict:
    """A car's reading as an upgraded car sends it: version 2, with the odometer and the
    battery voltage (charging while the engine turns, resting otherwise)."""
    return {**reading, "schema_version": 2, "odometer_km": round(car.odometer_m / 1000, 3),
            "battery_v": 14.1 if reading["rpm"] > 500 else 12.6}
