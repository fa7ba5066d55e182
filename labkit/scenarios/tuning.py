"""Detection with noisy sensors: precision and recall per threshold, to tune against. Pure.

The simulator's values are the car's *true* state, and its labels come from them: it labels
a reading `engine_overheat` exactly when the true engine temperature is at or above the
rule's limit (`contract.OVERHEAT_C`). A real sensor does not report the true state. What a
detector sees is a *reading*:

    reading = true value + Gaussian noise (standard deviation `sigma`)
              + now and then a spike: one reading far too high (an electrical glitch)

Applied to readings, the rule's own limit flags some engines that are fine (a warm engine
read high, a spike) and misses some that are not (a hot engine read low). `sweep` scores
the detector "flag a reading >= threshold" for each threshold of a range against the
labels: precision, recall and F1 per threshold, the numbers a threshold is tuned with.
With `k` > 1 it flags a reading only when the same car's last `k` readings were all at or
above the threshold: a lone spike no longer fires, and a real overheat fires `k - 1`
readings later (`delays` measures that).

    >>> rows = true_readings(messages)                # notebook 05's batch: valid messages, in order
    >>> noisy = add_noise(rows, SensorNoise(seed=11))   # the same rows, each with a reading
    >>> sweep(noisy, [115.0, 120.0])
    [{'threshold': 115.0, 'k': 1, 'type': 'engine_overheat', 'injected': 126, 'flagged': 146,
      'true_pos': 126, 'false_pos': 20, 'missed': 0, 'precision': 0.863, 'recall': 1.0, 'f1': 0.926},
     {'threshold': 120.0, 'k': 1, 'type': 'engine_overheat', 'injected': 126, 'flagged': 124,
      'true_pos': 118, 'false_pos': 6, 'missed': 8, 'precision': 0.952, 'recall': 0.937, 'f1': 0.944}]

Pure: no Kafka, no MongoDB, no clock. The noise comes from its own generator, seeded by
`SensorNoise.seed`: the same rows and the same noise give the same readings, every run.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass

from labkit.scenarios.evaluation import f1, score
from labkit.simulate.faults import Message


@dataclass(frozen=True)
class SensorNoise:
    """How a sensor misreads the true value (in the field's unit: °C for engine_temp)."""

    sigma: float = 4.0  # standard deviation of the read noise on every reading
    spike_rate: float = 0.01  # share of readings that are a spike
    spike_low: float = 15.0  # a spike reads this much ...
    spike_high: float = 35.0  # ... to this much above the true value (uniformly)
    seed: int = 0

    def __post_init__(self):
        if self.sigma < 0 or not 0.0 <= self.spike_rate <= 1.0 or self.spike_low > self.spike_high:
            raise ValueError(f"impossible sensor noise: {self}")


def true_readings(messages: Iterable[Message], field: str = "engine_temp",
                  kind: str = "engine_overheat") -> list[dict]:
    """One row per valid message, in sending order: `event_id`, `car_id`, `true` (the value of
    `field` the simulator sent, the car's true state) and `real` (whether the simulator
    labelled it `kind`: the ground truth). A re-sent duplicate is left out (it is the same
    reading). Per car the rows must be in time order for `k` > 1 and `delays`: use a batch
    without late events (`FaultRates(late=0)`)."""
    rows, seen = [], set()
    for m in messages:
        if m.is_valid and m.event_id not in seen:
            seen.add(m.event_id)
            rows.append({"event_id": m.event_id, "car_id": m.car_id, "true": json.loads(m.value)[field],
                         "real": kind in m.anomalies()})
    return rows


def add_noise(rows: list[dict], noise: SensorNoise) -> list[dict]:
    """The rows, each copied with a `reading`: its true value misread as `noise` says.
    Deterministic (one generator seeded with `noise.seed`, drawn in row order); the rows
    given are not changed."""
    rng = random.Random(noise.seed)
    noisy = []
    for row in rows:
        reading = row["true"] + rng.gauss(0.0, noise.sigma)
        if rng.random() < noise.spike_rate:
            reading += rng.uniform(noise.spike_low, noise.spike_high)
        noisy.append(dict(row, reading=round(reading, 2)))  # rounded as the car's sensors round
    return noisy


def flagged(rows: list[dict], threshold: float, k: int = 1) -> set[str]:
    """Event ids the detector flags: readings >= `threshold` that close a run of at least `k`
    such readings of the same car (k=1: every reading at or above the threshold)."""
    if k < 1:
        raise ValueError("k counts readings in a row: at least 1")
    run: dict[str, int] = {}  # per car, how many readings in a row were at or above the threshold
    found = set()
    for row in rows:
        car = row["car_id"]
        run[car] = (run.get(car, 0) + 1) if row["reading"] >= threshold else 0  # a reading below ends the run
        if run[car] >= k:
            found.add(row["event_id"])
    return found


def sweep(rows: list[dict], thresholds: Iterable[float], k: int = 1, kind: str = "engine_overheat") -> list[dict]:
    """One row per threshold, in the order given: `threshold`, `k`, then `score`'s counts,
    precision and recall for the rows' `real` labels (as type `kind`), and `f1`."""
    truth = {(row["event_id"], kind) for row in rows if row["real"]}
    table = []
    for threshold in thresholds:
        [counts] = score(truth, {(e, kind) for e in flagged(rows, threshold, k)}, types=[kind])
        table.append({"threshold": threshold, "k": k, **counts, "f1": f1(counts)})
    return table


def delays(rows: list[dict], threshold: float, k: int = 1) -> list[int | None]:
    """For each episode (a car's run of consecutive `real` rows), in the order they begin: how
    many readings after the episode's first one the detector first flags one of them (0: at
    once; None: never, within the episode). At one reading a second, readings are seconds."""
    hits = flagged(rows, threshold, k)
    found: list[int | None] = []
    current: dict[str, tuple[int, int]] = {}  # per car: its episode's place in `found`, readings so far
    for row in rows:
        car = row["car_id"]
        if not row["real"]:
            current.pop(car, None)  # the episode (if any) is over
            continue
        place, seen = current.get(car, (len(found), 0))
        if seen == 0:
            found.append(None)
        if row["event_id"] in hits and found[place] is None:
            found[place] = seen
        current[car] = (place, seen + 1)
    return found
