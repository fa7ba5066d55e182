"""Every route on seeded data, and every error case: 4xx with a message, never a 500."""

from datetime import datetime, timedelta, timezone

import httpx
import pytest
from fastapi.testclient import TestClient
from pymongo import MongoClient

from labkit import contract
from labkit.api import create_app
from labkit.api.runner import ApiServer
from labkit.ops import clients
from labkit.store import queries
from tests.api_seed import SEEDED, ms, seed

#: Only for the error cases below, which need a time but not the seeded one.
COLLECTED = datetime.now(timezone.utc)

@pytest.fixture
def client(pipeline):
    seed(pipeline)
    with TestClient(create_app(pipeline)) as test_client:
        yield test_client


def test_health_reports_freshness(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["mongodb"] is True
    assert 200 < body["newest_telemetry_age_s"] < 400


def test_original_paths_keep_working(client):
    rng = {"from": ms(SEEDED.t0), "to": ms(SEEDED.t0 + timedelta(minutes=1))}
    speed = client.get("/series/speed", params={"car_id": "CAR_001", "bucket": 10_000, **rng}).json()
    assert [b["count"] for b in speed] == [10] * 6 and speed[0]["avg"] == 4.5
    assert client.get("/latest", params={"car_id": "CAR_001"}).json()["event_id"] == "CAR_001-59"
    anomalies = client.get("/series/anomalies", params=rng).json()
    assert [(a["type"], a["count"]) for a in anomalies] == [("overspeed", 1)]
    bucket_ms = contract.to_ms(SEEDED.t0 + timedelta(seconds=30)) // 10_000 * 10_000
    assert datetime.fromisoformat(anomalies[0]["t"].replace("Z", "+00:00")) == contract.from_ms(bucket_ms)
    summary = client.get("/fleet/summary", params={"offline_after_s": 3600}).json()
    assert summary == {"cars": 2, "reporting": 2, "in_anomaly": 1, "offline": 0}
    fleet = client.get("/fleet/latest", params={"offline_after_s": 3600}).json()
    assert [(c["car_id"], c["status"], c["alerts"]) for c in fleet] == [("CAR_001", "ok", []), ("CAR_002", "alert", ["overspeed"])]
    health = client.get("/pipeline/health", params=rng).json()
    assert (health["processed"], health["anomalies"], health["consumer_lag"]) == (61, 1, 0)


def test_raw_series_limit_and_malformed_values(client):
    rows = client.get("/series/speed", params={"car_id": "CAR_001", "raw": True, "from": ms(SEEDED.t0),
                                               "to": ms(SEEDED.t0 + timedelta(minutes=2)), "limit": 100}).json()
    assert len(rows) == 61 and rows[-1]["value"] is None  # "fast" is not a number: null, not a 500
    assert len(client.get("/series/rpm", params={"car_id": "CAR_001", "raw": True, "from": ms(SEEDED.t0), "limit": 5}).json()) == 5


def test_time_can_be_iso_and_defaults_to_the_last_15_minutes(client):
    iso = client.get("/series/speed", params={"car_id": "CAR_001", "from": (SEEDED.t0).isoformat().replace("+00:00", "Z"),
                                              "to": (SEEDED.t0 + timedelta(seconds=10)).isoformat(), "bucket": 10_000}).json()
    assert [b["count"] for b in iso] == [10]
    # The default (10 s buckets) reads the rollups: the 60 readings written through the pipeline.
    assert sum(b["count"] for b in client.get("/series/speed", params={"car_id": "CAR_001"}).json()) == 60
    # 5 s buckets read the readings: the malformed document written around the pipeline is
    # counted too, alone in its bucket, and its text "speed" is no number.
    fine = client.get("/series/speed", params={"car_id": "CAR_001", "bucket": 5000}).json()
    assert sum(b["count"] for b in fine) == 61
    assert fine[-1] == {"t": fine[-1]["t"], "avg": None, "min": None, "max": None, "count": 1}


def test_dashboard_helpers(client):
    assert client.get("/cars").json() == [{"car_id": "CAR_001"}, {"car_id": "CAR_002"}]
    records = client.get("/anomalies", params={"from": ms(SEEDED.t0)}).json()
    assert [(r["car_id"], r["type"], r["value"]) for r in records] == [("CAR_002", "overspeed", 190.0)]
    windows = client.get("/pipeline/series", params={"from": ms(SEEDED.t0 - timedelta(seconds=1))}).json()
    assert [w["processed"] for w in windows] == [61]


@pytest.mark.parametrize("path, params, status, words", [
    ("/series/speed", {"car_id": "CAR_404"}, 404, "unknown car"),
    ("/latest", {"car_id": "CAR_404"}, 404, "unknown car"),
    ("/series/altitude", {"car_id": "CAR_001"}, 404, "unknown metric"),
    ("/series/speed", {}, 422, "car_id"),
    ("/series/speed", {"car_id": "CAR_001", "from": "2026-13-01"}, 422, "ISO-8601"),
    ("/series/speed", {"car_id": "CAR_001", "from": "yesterday"}, 422, "epoch milliseconds"),
    ("/series/speed", {"car_id": "CAR_001", "from": ms(COLLECTED), "to": ms(COLLECTED - timedelta(minutes=5))}, 422, "must be before"),
    ("/series/speed", {"car_id": "CAR_001", "from": "0", "to": ms(COLLECTED)}, 422, "limit is 366"),
    ("/series/speed", {"car_id": "CAR_001", "from": ms(COLLECTED - timedelta(days=300)), "bucket": 1000}, 422, "too small"),
    ("/series/speed", {"car_id": "CAR_001", "raw": True, "limit": 10_000_000}, 422, "less than or equal"),
    ("/series/speed", {"car_id": "CAR_001", "bucket": 5}, 422, "greater than or equal"),
    ("/series/speed", {"car_id": "CAR_001", "from": "99999999999999999999"}, 422, "epoch milliseconds"),
    ("/anomalies", {"limit": 0}, 422, "greater than or equal"),
    ("/fleet/latest", {"offline_after_s": -1}, 422, "greater than"),
    ("/series/anomalies", {"car_id": "CAR_404"}, 404, "unknown car"),
])
def test_bad_parameters_get_a_4xx_with_a_message(client, path, params, status, words):
    response = client.get(path, params=params)
    assert response.status_code == status, response.text
    assert words in response.text


def test_unreachable_mongodb_is_a_503_with_the_fix(pipeline):
    dead = pipeline.replace(mongodb_uri="mongodb://127.0.0.1:1")
    with TestClient(create_app(dead)) as test_client:
        health = test_client.get("/health")
        fleet = test_client.get("/fleet/latest")
    assert health.status_code == 503 and "make infra-up" in health.text
    assert fleet.status_code == 503 and "make infra-up" in fleet.text


def test_openapi_lists_every_route(client):
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {"/health", "/series/{metric}", "/series/anomalies", "/latest", "/fleet/latest", "/cars",
            "/anomalies", "/pipeline/health", "/pipeline/series", "/dlq/summary", "/dlq/reasons", "/fleet/summary"} <= paths


def test_dlq_routes_read_mongodb_not_the_topic(pipeline):
    from labkit.process.processor import Processor, ProcessorConfig

    producer = clients.kafka_producer(pipeline)
    for value in (b"nope", b"nope again", b"[]"):
        producer.send(pipeline.topics.telemetry, key=b"CAR_001", value=value)
    producer.flush()
    producer.close()
    Processor(pipeline, ProcessorConfig(group_id="api-dlq")).run(idle_timeout_s=3)
    Processor(pipeline, ProcessorConfig(group_id="api-dlq-again")).run(idle_timeout_s=3)  # the topic gets copies
    no_kafka = pipeline.replace(kafka_bootstrap_servers="127.0.0.1:1")  # nothing listens there
    with TestClient(create_app(no_kafka)) as test_client:
        assert test_client.get("/dlq/reasons").json() == [{"reason": "not_json", "count": 2}, {"reason": "not_object", "count": 1}]
        summary = test_client.get("/dlq/summary", params={"recent": 2}).json()
    assert summary["total"] == 3 and len(summary["recent"]) == 2


def test_runner_serves_over_a_real_socket_and_stops_cleanly(pipeline):
    with ApiServer(pipeline, port=18765) as api:
        assert httpx.get(api.url + "/health", timeout=5).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get("http://127.0.0.1:18765/health", timeout=2)


def test_with_an_access_log_the_runner_writes_a_line_per_request(pipeline, tmp_path):
    log = tmp_path / "api-access.log"
    with ApiServer(pipeline.replace(api_access_log=str(log)), port=18766) as api:
        started = len(log.read_text().splitlines())  # start() asks /health until it answers
        httpx.get(api.url + "/health", timeout=5)
        httpx.get(api.url + "/cars/CAR_404/latest", timeout=5)
    lines = log.read_text().splitlines()[started:]
    assert [line.split(" ", 2)[2] for line in lines] == ['"GET /health HTTP/1.1" 200 OK',
                                                          '"GET /cars/CAR_404/latest HTTP/1.1" 404 Not Found']


def test_a_boards_panels_asked_at_once_get_each_their_own_answer(client):
    """The four series panels (and the pipeline panels) of one refresh share one read; each
    still gets the answer to its own question, the same as when asked alone."""
    from concurrent.futures import ThreadPoolExecutor

    rng = {"car_id": "CAR_001", "from": ms(SEEDED.t0), "to": ms(SEEDED.t0 + timedelta(minutes=1))}
    alone = {m: client.get(f"/series/{m}", params=rng).json() for m in queries.METRICS}
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda m: (m, client.get(f"/series/{m}", params=rng).json()), [*queries.METRICS] * 2))
    assert all(rows == alone[m] for m, rows in together)
    assert alone["speed"][0]["avg"] == 4.5 and alone["rpm"][0]["avg"] == 2000.0 and alone["speed"] != alone["rpm"]
    unknown = client.get("/series/speed", params={**rng, "car_id": "CAR_404"})
    assert unknown.status_code == 404 and "CAR_404" in unknown.json()["detail"]


def test_every_response_says_how_long_the_app_took(client):
    response = client.get("/fleet/summary")
    name, _, duration = response.headers["server-timing"].partition(";dur=")
    assert name == "app" and float(duration) >= 0
    assert "server-timing" in client.get("/series/nope", params={"car_id": "CAR_001"}).headers


def test_lag_over_time_and_at_the_broker_now(client, pipeline):
    with MongoClient(pipeline.mongodb_uri) as mongo:
        mongo[pipeline.mongodb_db][pipeline.collections.metrics].insert_one(
            {"_id": "p:lag", "window_start_ms": contract.to_ms(SEEDED.t0 + timedelta(seconds=10)), "window_s": 10, "processed": 5,
             "batches": 1, "batch_latency_ms_avg": 1.0, "consumer_lag": 7, "lag_by_partition": {"0": 0, "1": 7}})
    rows = client.get("/pipeline/lag", params={"from": ms(SEEDED.t0), "to": ms(SEEDED.t0 + timedelta(minutes=1))}).json()
    assert [(r["total"], r["p0"], r["p1"]) for r in rows] == [(0, None, None), (7, 0, 7)]


    producer = clients.kafka_producer(pipeline)
    for _ in range(3):
        producer.send(pipeline.topics.telemetry, key=b"CAR_001", value=b"{}")
    producer.flush()
    producer.close()
    now = client.get("/pipeline/lag/now", params={"group": "nobody-reads-this"}).json()
    assert now["total"] == 3 and sum(p["lag"] for p in now["partitions"]) == 3
    assert all(p["committed"] is None for p in now["partitions"])


def test_lag_now_without_kafka_is_a_503_that_says_how_to_start_it(pipeline):
    seed(pipeline)
    with TestClient(create_app(pipeline.replace(kafka_bootstrap_servers="127.0.0.1:1"))) as offline:
        response = offline.get("/pipeline/lag/now")
    assert response.status_code == 503 and "make infra-up" in response.json()["detail"]


def test_docs_pages_load_every_asset_from_the_api_itself(client):
    """A classroom without internet still gets /docs and /redoc: every script and stylesheet
    the pages reference is served by the API (fastapi-offline), none by a CDN."""
    import re

    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
        assert assets, f"{page} references no script or stylesheet"
        assert not [a for a in assets if a.startswith(("http://", "https://", "//"))], f"{page} loads from the internet"
        for asset in assets:
            response = client.get(asset)
            assert response.status_code == 200 and len(response.content) > 1000, asset
    assert "/series/{metric}" in client.get("/openapi.json").json()["paths"]


def test_lag_at_the_broker_rises_while_nobody_processes(pipeline):
    """The API samples the processor group's lag at the broker while it runs: messages sent
    with no processor running show as rising lag (the processor's own reports would be silent)."""
    import time

    group = "lab-lag-sampled"
    with TestClient(create_app(pipeline, sample_lag_every_s=0.2, lag_group=group)) as sampling:
        time.sleep(0.6)
        producer = clients.kafka_producer(pipeline)
        for _ in range(2):
            for _ in range(5):
                producer.send(pipeline.topics.telemetry, key=b"CAR_001", value=b"{}")
            producer.flush()
            time.sleep(0.8)
        producer.close()
        rows = sampling.get("/pipeline/lag/broker").json()
    totals = [r["total"] for r in rows]
    assert totals[0] == 0 and totals[-1] == 10, totals
    assert totals == sorted(totals) and 5 in totals, totals  # rising, through the first burst
    assert all(set(r) >= {"t", "total", "p0", "p1", "p2", "p3"} for r in rows)


def test_lag_at_the_broker_without_sampling_is_one_measurement_now(client, pipeline):
    rows = client.get("/pipeline/lag/broker").json()
    assert len(rows) == 1 and rows[0]["total"] >= 0
    with TestClient(create_app(pipeline.replace(kafka_bootstrap_servers="127.0.0.1:1"))) as offline:
        response = offline.get("/pipeline/lag/broker")
    assert response.status_code == 503 and "make infra-up" in response.json()["detail"]


def test_the_live_api_answers_the_boards_from_memory_as_a_direct_read_would(pipeline):
    """`python -m labkit api` (windows_fresh_s) answers /pipeline/*, /series/anomalies and
    /dlq/reasons from what it reads in the background: the same answers, and it stops cleanly."""
    seed(pipeline)
    with clients.mongo_client(pipeline) as mongo:  # two reasons' counts, as the processor keeps them
        mongo[pipeline.mongodb_db][pipeline.collections.dead_letter_counts].insert_many([
            {"reason": reason, "reason_class": "parse", "hour_ms": ms_hour, "count": n}
            for reason, n, ms_hour in (("not_json", 2, 0), ("not_object", 1, 3_600_000))])
    rng = {"from": ms(SEEDED.t0), "to": ms(SEEDED.t0 + timedelta(minutes=1))}
    asks = [("/pipeline/health", rng), ("/pipeline/series", rng), ("/pipeline/lag", rng), ("/series/anomalies", rng),
            ("/series/anomalies", {**rng, "bucket": 60_000}), ("/dlq/reasons", {})]

    def answers(test_client):
        rows = [test_client.get(path, params=params).json() for path, params in asks]
        rows[0].pop("freshness_s")  # seconds since the newest event: moves with the clock
        return rows

    with TestClient(create_app(pipeline)) as fresh:
        direct = answers(fresh)
    with TestClient(create_app(pipeline, windows_fresh_s=0.5)) as live:
        held = answers(live)
        counts = live.app.state.recent_counts
        assert counts.windows(contract.to_ms(SEEDED.t0), contract.to_ms(SEEDED.t0) + 60_000) is not None  # held in memory
    assert held == direct
    assert direct[3] and direct[5], "the seeded data has anomalies and dead letters to compare"
