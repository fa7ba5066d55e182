"""Writing a fleet's latest states: which write does the local server take fastest?

    python bench/bench_latest.py [--cars 1000] [--rounds 10] [--record]

The processor keeps one document per car with its newest reading (`car_latest`), moved forward
every few seconds for every car that sent something (labkit.process.derived), and only ever
forward: a write never replaces a newer state with an older one. With 1,000 cars that is
1,000 conditional upserts per write, a large share of the database server's time in a live run
(bench/results/live.md). This compares, in one run, on the same documents:

- `UpdateOne($set)` upserts, filtered on an older timestamp (the store's way before 2026-12-05);
- `ReplaceOne` upserts with the same filter (the whole document replaced: no `$unset` needed
  for fields a newer event lacks);
- plain `insert_many` of the same documents into an empty collection: the ceiling, not a way
  to keep one document per car.

Each round moves every car forward by one second, in one unordered bulk write, as the
processor does. Needs MongoDB up (`make infra-up`); uses the database `bench_latest`, dropped
at the end. `--record` appends the table to bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pymongo import InsertOne, ReplaceOne, UpdateOne
from report import table

from labkit.config import Settings
from labkit.ops import clients

RESULTS = Path(__file__).parent / "results" / "latest.md"


def state(car: int, at: datetime) -> dict:
    """One car's latest state, shaped like the store's documents (labkit.store.mongo.event_document)."""
    return {"car_id": f"CAR_{car:04d}", "timestamp": at, "speed": 50.0 + car % 7, "rpm": 2100, "fuel_level": 61.5,
            "engine_temp": 90.2, "latitude": 52.52 + car * 1e-4, "longitude": 13.40 + car * 1e-4,
            "schema_version": 1, "event_id": f"e-{car}-{at.timestamp():.0f}"}


def ways(at: datetime, cars: int) -> dict[str, list]:
    """Each way's bulk operations that move every car to `at`."""
    docs = [state(car, at) for car in range(cars)]
    return {
        "UpdateOne $set upsert (older only)": [UpdateOne({"_id": d["car_id"], "timestamp": {"$lt": at}}, {"$set": d},
                                                         upsert=True) for d in docs],
        "ReplaceOne upsert (older only)": [ReplaceOne({"_id": d["car_id"], "timestamp": {"$lt": at}}, d, upsert=True)
                                           for d in docs],
        "insert_many, a new document each (the ceiling)": [InsertOne(dict(d, _id=f"{d['car_id']}:{at.timestamp():.0f}"))
                                                           for d in docs],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cars", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if args.rounds < 2:
        parser.error("--rounds must be at least 2 (the first round inserts; the others are timed)")
    client = clients.mongo_client(Settings.from_env())
    db = client["bench_latest"]
    client.drop_database(db.name)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    names = list(ways(start, 1))
    seconds: dict[str, list[float]] = {name: [] for name in names}
    try:
        for r in range(args.rounds):
            at = start + timedelta(seconds=r)
            # Interleaved, so that a slower moment of the machine falls on every way alike.
            for index, (name, ops) in enumerate(ways(at, args.cars).items()):
                began = time.perf_counter()
                db[f"way{index}"].bulk_write(ops, ordered=False)
                seconds[name].append(time.perf_counter() - began)
        # The same states, whichever way wrote them (the ceiling's collection holds every round).
        final = [db[f"way{i}"].find_one({"_id": "CAR_0003"}) for i in range(2)]
        newest = (start + timedelta(seconds=args.rounds - 1)).replace(tzinfo=None)
        assert [f["timestamp"].replace(tzinfo=None) for f in final] == [newest, newest], final
    finally:
        client.drop_database(db.name)
        client.close()
    # The first round inserts every car's document: the rounds after it are the steady state.
    rows = [(name, f"{args.cars:,}", f"{statistics.median(s[1:]) * 1000:.0f}", f"{args.cars / statistics.median(s[1:]):,.0f}",
             f"{statistics.median(seconds[names[0]][1:]) / statistics.median(s[1:]):.2f}x") for name, s in seconds.items()]
    table(f"a fleet's latest states written {args.rounds} times, {args.cars:,} cars", " ".join(["python", *sys.argv]),
          ("way", "cars per write", "ms per write (median, rounds 2 on)", "states per second", "vs UpdateOne"), rows,
          RESULTS if args.record else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
