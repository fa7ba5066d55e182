"""Both services' /metrics, scraped over HTTP and parsed as Prometheus' text format."""

import socket
import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from labkit.api.runner import ApiServer
from labkit.process.processor import Processor, ProcessorConfig
from tests.pipeline_helpers import send_batch


def scrape(url: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of every sample at `url`."""
    response = httpx.get(url, timeout=5)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_processor_counts_every_event_in_its_metrics(pipeline):
    send_batch(pipeline, 1200)
    processor = Processor(pipeline, ProcessorConfig(group_id=f"g-{uuid.uuid4().hex[:6]}", batch_size=300))
    port = free_port()
    server = processor.prometheus.serve(port, host="127.0.0.1")
    assert server is not None
    try:
        stats = processor.run(idle_timeout_s=3)
        samples = scrape(f"http://127.0.0.1:{port}/metrics")
    finally:
        server.shutdown()
        server.server_close()
    events = {labels[0][1]: v for (name, labels), v in samples.items() if name == "telemetry_events_total"}
    assert events["processed"] == stats.processed == 1200
    assert events["stored"] == stats.stored and events["invalid"] == stats.invalid > 0
    by_reason = {labels[0][1]: v for (name, labels), v in samples.items() if name == "telemetry_invalid_total"}
    assert sum(by_reason.values()) == stats.invalid and all(":" in r or r.isidentifier() for r in by_reason)
    assert samples[("telemetry_batch_seconds_count", ())] >= 1200 / 300
    lag = {labels[0][1]: v for (name, labels), v in samples.items() if name == "telemetry_consumer_lag"}
    assert lag and set(lag.values()) == {0.0}, "every partition read to its end"


def test_the_api_counts_requests_by_route_template_not_by_url(pipeline):
    with ApiServer(pipeline, port=free_port()) as api:
        for car in ("CAR_001", "CAR_002", "CAR_003"):
            httpx.get(f"{api.url}/series/speed", params={"car_id": car})
        httpx.get(f"{api.url}/series/no_such_metric", params={"car_id": "CAR_001"})
        httpx.get(f"{api.url}/no/such/route")
        samples = scrape(api.url + "/metrics")
    requests = {dict(labels)["route"]: {} for (name, labels), _ in samples.items() if name == "telemetry_api_requests_total"}
    for (name, labels), value in samples.items():
        if name == "telemetry_api_requests_total":
            requests[dict(labels)["route"]][dict(labels)["status"]] = value
    series = requests["/series/{metric}"]
    assert sum(series.values()) == 4, "four URLs, one series: labelled by the route's template"
    assert series.get("404", 0) >= 1, "the unknown metric is counted with its status"
    assert requests["unmatched"] == {"404": 1.0}
    assert not any("CAR_" in route for route in requests), "a car id never becomes a label"
    assert samples[("telemetry_api_request_seconds_count", (("route", "/series/{metric}"),))] == 4
