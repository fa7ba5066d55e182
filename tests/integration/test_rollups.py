"""The rollups (the computed pattern, per time bucket) against the real server: rollups answer exactly what the readings do,
however the events arrived (in batches, twice, late)."""

import random
from datetime import datetime, timedelta, timezone

import pytest

from labkit.contract import to_ms
from labkit.store import queries, rollups
from labkit.store.mongo import write_events

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 12, 0, 7, tzinfo=timezone.utc)  # not on a bucket edge on purpose


def events(car: str, seconds: int, seed: int) -> list[dict]:
    """Readings about once a second with jitter and a gap, as a car would send them."""
    rng, out, t = random.Random(seed), [], 0.0
    while t < seconds:
        t += rng.choice([0.4, 0.9, 1.0, 1.1, 1.7]) + (45 if rng.random() < 0.003 else 0)
        at = T0 + timedelta(seconds=t)
        out.append({"car_id": car, "event_id": f"{car}-{len(out)}", "seq": len(out) + 1, "timestamp": at,
                    "speed": rng.uniform(0, 180), "rpm": rng.uniform(800, 6000), "engine_temp": rng.uniform(70, 110),
                    "fuel_level": rng.uniform(5, 100), "latitude": 52.5, "longitude": 13.4})
    return out


def store_like_kafka(db, settings, all_events: list[dict], seed: int = 1) -> None:
    """Batches of 50, shuffled a little (late events), one batch written twice (redelivery)."""
    rng = random.Random(seed)
    shuffled = sorted(all_events, key=lambda e: e["timestamp"] + timedelta(seconds=rng.choice([0, 0, 0, 30, 200])))
    batches = [shuffled[i:i + 50] for i in range(0, len(shuffled), 50)]
    for i, batch in enumerate(batches):
        write_events(db, settings, batch)
        if i == 3:
            write_events(db, settings, batch)


def test_series_from_rollups_equals_series_from_readings(db, pipeline):
    stored = events("CAR_001", 1500, seed=1) + events("CAR_002", 1500, seed=2)
    store_like_kafka(db, pipeline, stored)
    rng = random.Random(5)
    cases = [(T0, T0 + timedelta(minutes=30), b) for b in (10_000, 30_000, 60_000, 300_000)]
    cases += [(T0 + timedelta(seconds=rng.randrange(0, 900)), None, rng.choice([10_000, 20_000, 60_000, 120_000, 5_000]))
              for _ in range(30)]
    for start, end, bucket in cases:
        end = end or start + timedelta(seconds=rng.randrange(5, 1200), milliseconds=rng.randrange(1000))
        for car in ("CAR_001", "CAR_002"):
            fast = queries.series(db, pipeline, car, "speed", start, end, bucket_ms=bucket)
            slow = queries.series(db, pipeline, car, "speed", start, end, bucket_ms=bucket, use_rollups=False)
            assert [(r["t"], r["count"], r["min"], r["max"]) for r in fast] == \
                   [(r["t"], r["count"], r["min"], r["max"]) for r in slow], (start, end, bucket)
            # Sums added in another order may differ in the last bits, nothing more.
            assert [r["avg"] for r in fast] == pytest.approx([r["avg"] for r in slow], rel=1e-12)
    # and the readings path agrees with the plain $avg pipeline a student writes
    start, end = T0, T0 + timedelta(minutes=30)
    plain = list(db[pipeline.collections.telemetry].aggregate(queries.series_pipeline("CAR_001", "speed", start, end, 10_000)))
    slow = queries.series(db, pipeline, "CAR_001", "speed", start, end, bucket_ms=10_000, use_rollups=False)
    assert [r["count"] for r in plain] == [r["count"] for r in slow]
    assert [r["avg"] for r in plain] == pytest.approx([r["avg"] for r in slow], rel=1e-12)


def test_redelivered_and_late_events_never_double_count(db, pipeline):
    stored = events("CAR_003", 600, seed=3)
    store_like_kafka(db, pipeline, stored, seed=9)
    written = {d["_id"]: d for d in db[pipeline.collections.rollups].find()}
    for size in rollups.SIZES_MS:
        assert sum(d["count"] for d in written.values() if d["size_ms"] == size) == len(stored)
    # Rebuilding everything from scratch gives the very same documents.
    db[pipeline.collections.rollups].delete_many({})
    rollups.refresh(db, pipeline, rollups.event_times(stored))
    rebuilt = {d["_id"]: d for d in db[pipeline.collections.rollups].find()}
    assert rebuilt.keys() == written.keys()
    for key, doc in rebuilt.items():
        assert doc["count"] == written[key]["count"] and doc["speed"]["max"] == written[key]["speed"]["max"]
        assert doc["speed"]["sum"] == pytest.approx(written[key]["speed"]["sum"], rel=1e-12)


def test_a_chart_of_thirty_minutes_reads_rollups_not_readings(db, pipeline):
    stored = events("CAR_004", 1800, seed=4)
    store_like_kafka(db, pipeline, stored)
    start = T0 + timedelta(seconds=4)  # 12:00:11: neither edge on a 10 s boundary
    parts = rollups.plan(to_ms(start), to_ms(start + timedelta(minutes=30)), 10_000)
    # 12:00:11-20 readings, 12:00:20-12:30:10 rollups, 12:30:10-11 readings.
    assert [(p[0], p[3]) for p in parts] == [("readings", 0), ("rollups", 60_000), ("readings", 0)]
    # The rollups come in one query: the minute documents of 12:00 to 12:30, the two at the
    # edges for their tens inside the range.
    n = sum(db[pipeline.collections.rollups].count_documents(
        {"car_id": "CAR_004", "size_ms": size, "start_ms": dict(zip(("$gte", "$lt"), rollups.minutes_of(lo, hi)))})
        for source, lo, hi, size in parts if source == "rollups")
    raw = db[pipeline.collections.telemetry].count_documents(
        {"car_id": "CAR_004", "timestamp": {"$gte": start, "$lt": start + timedelta(minutes=30)}})
    assert n == 31 and raw > 40 * n, f"{n} rollup documents instead of {raw} readings"


def test_minutes_stored_without_their_tens_are_read_from_the_ten_second_rollups(db, pipeline):
    store_like_kafka(db, pipeline, events("CAR_005", 600, seed=5))
    start, end = T0 + timedelta(seconds=3), T0 + timedelta(minutes=9, seconds=1)
    before = queries.series(db, pipeline, "CAR_005", "rpm", start, end, bucket_ms=10_000)
    # Minutes written by an earlier labkit had no `tens` list.
    db[pipeline.collections.rollups].update_many({"car_id": "CAR_005", "size_ms": 60_000}, {"$unset": {"tens": ""}})
    after = queries.series(db, pipeline, "CAR_005", "rpm", start, end, bucket_ms=10_000)
    assert len(before) > 50 and after == before


def test_loading_the_same_dataset_twice_stores_it_once(db, pipeline):
    from labkit.scenarios.dataset import load_fleet

    first = load_fleet(db, pipeline, 3, 120, T0, seed=7, episode_rate=0.05)
    counts = {name: db[name].count_documents({}) for name in
              (pipeline.collections.telemetry, pipeline.collections.anomalies, pipeline.collections.rollups)}
    assert first == 360 and load_fleet(db, pipeline, 3, 120, T0, seed=7, episode_rate=0.05) == 0
    assert counts == {name: db[name].count_documents({}) for name in counts}


def test_a_rebuild_that_read_fewer_readings_never_replaces_a_newer_one(db, pipeline):
    """Two writers rebuild one bucket; the one that read 2 readings writes after the one that
    read 3. The stored rollup must stay the one of 3 readings (with `$set` it became 2)."""
    from labkit.ops import clients

    coll = pipeline.collections.rollups
    older = rollups.rollup_document("CAR_001", rollups.SMALL_MS, {"_id": 0, "count": 2, **{
        f"{m}_{s}": 1.0 for m in rollups.METRICS for s in ("sum", "min", "max")}})
    newer = dict(older, count=3, speed={"sum": 9.0, "min": 1.0, "max": 5.0})
    writers = [clients.mongo_client(pipeline) for _ in range(2)]
    try:
        rollups.write_forward(writers[0][pipeline.mongodb_db][coll], [newer])
        rollups.write_forward(writers[1][pipeline.mongodb_db][coll], [older])  # late, and stale
        assert db[coll].find_one({"_id": older["_id"]})["count"] == 3
        rollups.write_forward(writers[1][pipeline.mongodb_db][coll], [dict(newer, count=4)])
        assert db[coll].find_one({"_id": older["_id"]})["count"] == 4
    finally:
        for client in writers:
            client.close()


def test_the_fleet_rebuild_writes_what_the_per_car_refresh_writes(db, pipeline):
    """rollups.rebuild (the processor's: one query per run of buckets for the whole fleet, the
    grouping done in Python) and rollups.refresh (per car, `$group` on the server) agree."""
    from labkit.contract import bucket_start
    from labkit.store.mongo import insert_events

    stored = events("CAR_004", 400, seed=4) + events("CAR_005", 400, seed=5) + events("CAR_006", 90, seed=6)
    insert_events(db, pipeline, stored)
    collection = db[pipeline.collections.rollups]
    rollups.refresh(db, pipeline, rollups.event_times(stored))
    by_refresh = {d["_id"]: d for d in collection.find()}
    collection.delete_many({})
    wanted = {}
    for e in stored:
        if e["car_id"] != "CAR_006":  # a car not asked for is read, and left alone
            wanted.setdefault(e["car_id"], set()).add(bucket_start(to_ms(e["timestamp"]), rollups.SMALL_MS))
    written = rollups.rebuild(db, pipeline, wanted)
    by_rebuild = {d["_id"]: d for d in collection.find()}
    assert written == len(by_rebuild) and by_rebuild
    assert by_rebuild.keys() == {k for k in by_refresh if not k.startswith("CAR_006")}
    for key, doc in by_rebuild.items():
        expected = by_refresh[key]
        assert doc["count"] == expected["count"], key
        for m in ("speed", "rpm"):
            assert (doc[m]["min"], doc[m]["max"]) == (expected[m]["min"], expected[m]["max"]), key
            assert doc[m]["sum"] == pytest.approx(expected[m]["sum"], rel=1e-12)
        if doc["size_ms"] == rollups.LARGE_MS:
            assert [t["start_ms"] for t in doc["tens"]] == [t["start_ms"] for t in expected["tens"]]
    # A second rebuild finds every document there and changes nothing.
    rollups.rebuild(db, pipeline, wanted)
    assert {d["_id"]: d["count"] for d in collection.find()} == {k: d["count"] for k, d in by_rebuild.items()}
    # Runs of under a minute (the processor's usual case) are read for the whole fleet at once.
    collection.delete_many({})
    first = min(s for starts in wanted.values() for s in starts)
    short = {car: {s for s in starts if s < first + 50_000} for car, starts in wanted.items()}
    rollups.rebuild(db, pipeline, short)
    tens = {d["_id"]: d for d in collection.find({"size_ms": rollups.SMALL_MS})}
    assert tens and tens.keys() == {f"{car}:10000:{s}" for car, starts in short.items() for s in starts}
    assert all(d["count"] == by_refresh[k]["count"] for k, d in tens.items())


def test_recovering_what_was_owed_rebuilds_rollups_and_latest_states_from_a_time_on(db, pipeline):
    from labkit.store.mongo import insert_events, recover_derived

    stored = events("CAR_007", 300, seed=7)
    insert_events(db, pipeline, stored)  # as a processor that stopped before its derived writes
    since = to_ms(stored[100]["timestamp"])
    recover_derived(db, pipeline, since)
    latest = db[pipeline.collections.latest].find_one({"_id": "CAR_007"})
    newest = max(stored, key=lambda e: e["timestamp"])
    assert latest["event_id"] == newest["event_id"]
    small = list(db[pipeline.collections.rollups].find({"size_ms": rollups.SMALL_MS}))
    assert small and min(d["start_ms"] for d in small) == since // 10_000 * 10_000
    assert sum(d["count"] for d in small) == sum(to_ms(e["timestamp"]) >= since // 10_000 * 10_000 for e in stored)


def test_a_live_chart_reads_the_buckets_not_rolled_up_yet_from_the_readings(db, pipeline):
    """The processor rolls a bucket up once it is final: a chart up to now must still show the
    last seconds, from the readings."""
    from labkit.store.mongo import insert_events

    now = datetime.now(timezone.utc)
    live = [dict(e, timestamp=e["timestamp"] - T0 + now - timedelta(minutes=5)) for e in events("CAR_008", 299, seed=8)]
    insert_events(db, pipeline, live)
    # What the processor has rolled up so far: the buckets that ended 20 s ago or more.
    rolled_up_before = to_ms(now - timedelta(seconds=20)) // 10_000 * 10_000 - 10_000
    final = [e for e in live if to_ms(e["timestamp"]) < rolled_up_before]
    rollups.refresh(db, pipeline, rollups.event_times(final))
    start, end = now - timedelta(minutes=5), now + timedelta(seconds=1)
    fast = queries.series(db, pipeline, "CAR_008", "speed", start, end, bucket_ms=10_000)
    slow = queries.series(db, pipeline, "CAR_008", "speed", start, end, bucket_ms=10_000, use_rollups=False)
    assert [(r["t"], r["count"]) for r in fast] == [(r["t"], r["count"]) for r in slow]
    assert sum(r["count"] for r in fast) == len(live)
