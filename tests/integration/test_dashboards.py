"""The dashboards, checked without Grafana: structure, provisioning, and every panel's query
executed against the live API on seeded data, returning the fields the panel reads."""

import json
from datetime import datetime

import pytest
import yaml
from fastapi.testclient import TestClient

from labkit import contract
from labkit.api import create_app
from labkit.config import REPO_ROOT
from labkit.observe import dashboards
from labkit.ops import clients
from labkit.teach import classroom, gradebook
from tests.api_seed import SEEDED, seed

COMMITTED = {p.stem: json.loads(p.read_text()) for p in sorted(dashboards.DASHBOARD_DIR.glob("*.json"))}


def test_committed_json_is_what_the_code_generates():
    assert COMMITTED == {**dashboards.dashboards(), **dashboards.class_dashboards()}, \
        "run `python -m labkit dashboards write` and commit"
    assert set(COMMITTED) == {"fleet-map", "vehicle-telemetry", "anomalies", "pipeline-health", "class-progress"}


@pytest.mark.parametrize("uid", sorted(COMMITTED))
def test_dashboard_structure(uid):
    model = COMMITTED[uid]
    assert model["uid"] == uid and model["schemaVersion"] >= 36 and model["refresh"]
    ids = [p["id"] for p in model["panels"]]
    assert len(ids) == len(set(ids)), "unique panel ids"
    cells = set()
    for panel in model["panels"]:
        g = panel["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"panel {panel['title']!r} overlaps another"
        cells |= mine
    text = json.dumps(model)
    assert "${DS_" not in text, "no import-time datasource inputs"
    used = {v.strip("${}") for v in _variables(model)} - {"__from", "__to"}
    declared = {v["name"] for v in model["templating"]["list"]}
    assert used <= declared, f"undeclared variables {used - declared}"


def _variables(model):
    for panel in model["panels"]:
        for target in panel["targets"]:
            for param in target["url_options"]["params"]:
                if param["value"].startswith("${"):
                    yield param["value"]


def test_every_datasource_uid_exists_in_provisioning():
    provisioned = yaml.safe_load((REPO_ROOT / "infra/grafana/provisioning/datasources/datasources.yml").read_text())
    uids = {d["uid"] for d in provisioned["datasources"]}
    for model in COMMITTED.values():
        for panel in model["panels"]:
            assert panel["datasource"]["uid"] in uids
            assert all(t["datasource"]["uid"] in uids for t in panel["targets"])


TYPES = {"number": (int, float, type(None)), "string": (str,), "timestamp": (str,)}


def test_every_panel_query_returns_the_fields_it_reads(pipeline):
    seed(pipeline)
    from labkit.process.processor import Processor, ProcessorConfig

    producer = clients.kafka_producer(pipeline)
    producer.send(pipeline.topics.telemetry, key=b"CAR_001", value=b"not json")
    producer.flush()
    producer.close()
    Processor(pipeline, ProcessorConfig(group_id="dash")).run(idle_timeout_s=3)
    # The class board reads the checks' verdicts: one recorded, as a student's check would.
    classroom.ensure_progress_topic(pipeline)
    assert gradebook.Recorder(pipeline.replace(student="dash")).record("00.1 partitions", gradebook.PASSED)

    start, end = contract.to_ms(SEEDED.t0), contract.to_ms(SEEDED.now)
    with TestClient(create_app(pipeline)) as client:
        cars = client.get("/cars").json()
        assert cars, "the car variable has values"
        checked = 0
        for model in COMMITTED.values():
            for panel in model["panels"]:
                target = panel["targets"][0]
                url = dashboards.panel_url(target, {"car": cars[0]["car_id"]}, start, end)
                response = client.get(url)
                assert response.status_code == 200, (panel["title"], url, response.text)
                body = response.json()
                rows = body if isinstance(body, list) else [body]
                assert rows, f"{model['title']} / {panel['title']}: no rows for {url}"
                for column in target["columns"]:
                    for row in rows:
                        assert column["selector"] in row, (panel["title"], column["selector"])
                        value = row[column["selector"]]
                        assert isinstance(value, TYPES[column["type"]]), (panel["title"], column, value)
                        if column["type"] == "timestamp":
                            datetime.fromisoformat(value.replace("Z", "+00:00"))
                checked += 1
        assert checked == sum(len(m["panels"]) for m in COMMITTED.values())


def test_links_and_urls():
    target = COMMITTED["vehicle-telemetry"]["panels"][0]["targets"][0]
    assert dashboards.panel_url(target, {"car": "CAR_007"}, 1, 2) == "/series/speed?car_id=CAR_007&from=1&to=2"
    assert dashboards.grafana_link("http://localhost:3000/", "vehicle-telemetry", 1, 2, car="CAR_007") == \
        "http://localhost:3000/d/vehicle-telemetry?from=1&to=2&var-car=CAR_007"


def test_every_panel_renders_with_plotly(pipeline):
    seed(pipeline)
    start, end = contract.to_ms(SEEDED.t0), contract.to_ms(SEEDED.now)
    with TestClient(create_app(pipeline)) as client:
        for row in dashboards.panels():
            if row["url"].startswith("/dlq"):
                continue  # needs the DLQ topic; covered by the query check above
            figure = dashboards.render(row["uid"], row["panel_id"], lambda u: client.get(u).json(),
                                       {"car": "CAR_001"}, start, end)
            assert figure.data or "no data" in figure.layout.title.text, row
