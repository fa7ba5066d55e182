"""The Grafana dashboards, built from small factories and written as stable, sorted JSON.

`python -m labkit dashboards write` regenerates `dashboards/*.json`; a test fails when the
committed files and this module disagree. Every panel reads the Telemetry API through the
Infinity datasource with the fixed uid from provisioning (`telemetry-api`), so Grafana never
asks for a datasource on import. Each query is described once (`Query`), and the same
description drives Grafana's target, the checks in the tests, and `panel_url()` for notebooks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from labkit.config import REPO_ROOT, Settings
from labkit.contract import WINDOW_MS
from labkit.observe import basemap

DASHBOARD_DIR = REPO_ROOT / "dashboards"
DATASOURCE = {"type": "yesoreyeram-infinity-datasource", "uid": "telemetry-api"}
PARTITIONS = Settings().telemetry_partitions  # the lag panel draws one line per partition of the default topic
SCHEMA_VERSION = 39
TIME_RANGE = {"from": "now-15m", "to": "now"}
REFRESH = "10s"  # live data arrives every second; 10 s matches the metrics windows


@dataclass(frozen=True)
class Column:
    selector: str
    text: str
    type: str  # "timestamp", "number" or "string": what the panel expects in the JSON


@dataclass(frozen=True)
class Query:
    """One Infinity query: an API path, its parameters (Grafana variables allowed), the columns read."""

    path: str
    params: tuple[tuple[str, str], ...] = ()
    columns: tuple[Column, ...] = ()
    ranged: bool = True  # adds from=${__from}&to=${__to}

    def all_params(self) -> list[tuple[str, str]]:
        extra = [("from", "${__from}"), ("to", "${__to}")] if self.ranged else []
        return [*self.params, *extra]

    def target(self) -> dict:
        return {
            "refId": "A",
            "datasource": DATASOURCE,
            "type": "json",
            "source": "url",
            "format": "table",
            "parser": "backend",
            "url": self.path,
            "url_options": {"method": "GET", "data": "",
                            "params": [{"key": k, "value": v} for k, v in self.all_params()]},
            "root_selector": "",
            "columns": [{"selector": c.selector, "text": c.text, "type": c.type} for c in self.columns],
        }


@dataclass(frozen=True)
class Panel:
    title: str
    type: str
    query: Query
    w: int = 12
    h: int = 8
    options: dict = field(default_factory=dict)
    field_config: dict = field(default_factory=dict)
    description: str = ""


T = Column("t", "time", "timestamp")
#: A series with one point per 10 s window that had work: where windows are missing (the
#: processor stopped, nothing arrived), Grafana breaks the line instead of drawing a slope across
#: the gap ("Disconnect values" above one window), and `render` does the same.
PER_WINDOW = {"custom": {"insertNulls": WINDOW_MS, "spanNulls": False, "showPoints": "always"}}


def _series(metric: str, unit: str) -> Panel:
    return Panel(f"{metric} ({unit})", "timeseries",
                 Query(f"/series/{metric}", (("car_id", "${car}"),),
                       (T, Column("avg", "avg", "number"), Column("min", "min", "number"), Column("max", "max", "number"))),
                 description=f"avg/min/max of {metric} per bucket; the API picks the bucket from the time range")


def _stats(title: str, path: str, selectors: tuple[str, ...], ranged: bool = True) -> Panel:
    """One stat panel showing several numbers of one response: one request per refresh, where
    a panel per number would send the same request once per number."""
    return Panel(title, "stat", Query(path, (), tuple(Column(s, s, "number") for s in selectors), ranged=ranged),
                 w=24, h=4)


def dashboards() -> dict[str, dict]:
    """uid -> dashboard JSON model, for the four dashboards of the contract."""
    fleet_columns = (Column("car_id", "car", "string"), Column("latitude", "latitude", "number"),
                     Column("longitude", "longitude", "number"), Column("status", "status", "string"),
                     Column("speed", "speed", "number"), Column("age_s", "age_s", "number"),
                     # Version 2 fields: empty cells for cars that still send version 1.
                     Column("schema_version", "version", "number"), Column("odometer_km", "odometer km", "number"),
                     Column("battery_v", "battery V", "number"))
    specs = {
        "fleet-map": ("Fleet Map", [
            _stats("Cars: reporting, in anomaly, offline, all", "/fleet/summary",
                   ("reporting", "in_anomaly", "offline", "cars"), ranged=False),
            Panel("Fleet: latest position per car", "geomap", Query("/fleet/latest", (), fleet_columns, ranged=False),
                  w=24, h=14, options={"layers": [{"type": "markers", "location": {"mode": "coords", "latitude": "latitude",
                                                                                         "longitude": "longitude"},
                                                   "config": {"style": {"color": {"field": "status"}}}}],
                                       "view": {"id": "coords", "lat": 52.52, "lon": 13.405, "zoom": 11}}),
            Panel("Cars and status", "table", Query("/fleet/latest", (), fleet_columns, ranged=False), w=24, h=8),
        ], []),
        "vehicle-telemetry": ("Vehicle Telemetry", [
            _series("speed", "km/h"), _series("rpm", "rpm"), _series("engine_temp", "°C"), _series("fuel_level", "%"),
        ], [{"name": "car", "label": "Car", "type": "query", "datasource": DATASOURCE,
             "query": Query("/cars", (), (Column("car_id", "car_id", "string"),), ranged=False).target(),
             "refresh": 1, "sort": 1}]),
        "anomalies": ("Anomalies", [
            Panel("Anomalies per 10 s, by type", "barchart",
                  Query("/series/anomalies", (("bucket", str(WINDOW_MS)),),
                        (T, Column("type", "type", "string"), Column("count", "count", "number"))), w=24, h=9,
                  options={"stacking": "normal"}),
            Panel("Recent anomalies", "table",
                  Query("/anomalies", (("limit", "100"),),
                        (Column("timestamp", "time", "timestamp"), Column("car_id", "car", "string"),
                         Column("type", "type", "string"), Column("value", "value", "number"),
                         Column("threshold", "threshold", "number"))), w=24, h=10),
        ], []),
        "pipeline-health": ("Pipeline Health", [
            _stats("Pipeline over the range", "/pipeline/health", ("processed", "events_per_s", "invalid_ratio", "freshness_s")),
            Panel("Throughput per 10 s window", "timeseries",
                  Query("/pipeline/series", (), (T, Column("processed", "processed", "number"), Column("valid", "valid", "number"),
                                                 Column("invalid", "invalid", "number"), Column("anomalies", "anomalies", "number"))),
                  field_config=PER_WINDOW),
            Panel("Consumer lag per partition, measured at the broker (messages not yet processed)", "timeseries",
                  Query("/pipeline/lag/broker", (), (T, Column("total", "total", "number"),
                                              *(Column(f"p{i}", f"partition {i}", "number") for i in range(PARTITIONS))))),
            Panel("DLQ reasons", "table", Query("/dlq/reasons", (), (Column("reason", "reason", "string"),
                                                                   Column("count", "count", "number")), ranged=False), w=24),
            Panel("Batch latency per 10 s window", "timeseries",
                  Query("/pipeline/series", (), (T, Column("batch_latency_ms_avg", "batch latency ms", "number"))), w=24,
                  field_config=PER_WINDOW),
        ], []),
    }
    return {uid: _dashboard(uid, title, panels, variables) for uid, (title, panels, variables) in specs.items()}


def class_dashboards() -> dict[str, dict]:
    """uid -> dashboard JSON model, for the instructor of a class on one stack (README: "Running
    it for a class"): each student's progress, from the verdicts their checks recorded."""
    text = lambda name, label: Column(name, label, "string")  # noqa: E731
    return {"class-progress": _dashboard("class-progress", "Class Progress", [
        Panel("Students: exercises passing now, tried, reached; furthest notebook", "table",
              Query("/class/students", (), (text("student", "student"), Column("passing", "passing", "number"),
                                            Column("tried", "tried", "number"), Column("reached", "reached", "number"),
                                            text("notebook", "furthest notebook"),
                                            Column("last_at", "last activity", "timestamp")), ranged=False), w=24, h=10),
        Panel("Each student on each exercise: latest verdict, attempts", "table",
              Query("/class/progress", (), (text("student", "student"), text("exercise", "exercise"),
                                            text("status", "latest verdict"), Column("attempts", "attempts", "number"),
                                            Column("last_at", "last verdict", "timestamp")), ranged=False), w=24, h=14),
    ], [])}


def _dashboard(uid: str, title: str, panels: list[Panel], variables: list[dict]) -> dict:
    placed, x, y, row_h = [], 0, 0, 0
    for i, p in enumerate(panels, start=1):
        if x + p.w > 24:
            x, y, row_h = 0, y + row_h, 0
        placed.append({"id": i, "title": p.title, "type": p.type, "description": p.description,
                       "datasource": DATASOURCE, "gridPos": {"x": x, "y": y, "w": p.w, "h": p.h},
                       "targets": [p.query.target()], "options": p.options,
                       "fieldConfig": {"defaults": p.field_config, "overrides": []}})
        x, row_h = x + p.w, max(row_h, p.h)
    return {"uid": uid, "title": title, "tags": ["telemetry-lab"], "schemaVersion": SCHEMA_VERSION, "version": 1,
            "editable": True, "refresh": REFRESH, "time": TIME_RANGE, "timezone": "utc",
            "templating": {"list": variables}, "annotations": {"list": []}, "panels": placed}


def write(directory: Path = DASHBOARD_DIR) -> list[Path]:
    """Write every dashboard as sorted, indented JSON (stable diffs). Returns the paths."""
    paths = []
    for uid, model in {**dashboards(), **class_dashboards()}.items():
        path = directory / f"{uid}.json"
        path.write_text(json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        paths.append(path)
    return paths


def with_gaps(frame, time_col: str, gap_ms: int):
    """`frame` (sorted by `time_col`) with an empty row just after every point followed by a
    longer pause than `gap_ms`: a line drawn through it breaks there, as Grafana's "Disconnect
    values" does, rather than joining two runs across the time nothing was reported."""
    import pandas as pd

    frame = frame.sort_values(time_col).reset_index(drop=True)
    pause = frame[time_col].diff().shift(-1) > pd.Timedelta(milliseconds=gap_ms)
    blanks = pd.DataFrame({time_col: frame.loc[pause, time_col] + pd.Timedelta(milliseconds=gap_ms)})
    return pd.concat([frame, blanks]).sort_values(time_col, kind="stable").reset_index(drop=True)


def panel_url(target: dict, variables: dict[str, str], start_ms: int, end_ms: int) -> str:
    """The request Grafana would send for a panel target, with variables and range filled in."""
    values = {"${__from}": str(start_ms), "${__to}": str(end_ms), **{f"${{{k}}}": v for k, v in variables.items()}}
    params = [(p["key"], values.get(p["value"], p["value"])) for p in target["url_options"]["params"]]
    return target["url"] + ("?" + urlencode(params) if params else "")


def grafana_link(base_url: str, uid: str, start_ms: int | None = None, end_ms: int | None = None,
                 car: str | None = None) -> str:
    """A deep link into Grafana: dashboard, time range and car variable."""
    params = {}
    if start_ms is not None and end_ms is not None:
        params.update({"from": start_ms, "to": end_ms})
    if car:
        params["var-car"] = car
    return f"{base_url.rstrip('/')}/d/{uid}" + ("?" + urlencode(params) if params else "")


def panels(uid: str | None = None) -> list[dict]:
    """Rows `{dashboard, uid, panel_id, title, type, url}` for every panel (of one dashboard)."""
    rows = []
    for dash_uid, model in dashboards().items():
        if uid and dash_uid != uid:
            continue
        for p in model["panels"]:
            rows.append({"dashboard": model["title"], "uid": dash_uid, "panel_id": p["id"], "title": p["title"],
                         "type": p["type"], "url": p["targets"][0]["url"]})
    return rows


def render(uid: str, panel_id: int, get, variables: dict[str, str], start_ms: int, end_ms: int):
    """Draw one panel with plotly from the same API call Grafana makes.

    `get(url)` returns the decoded JSON (an httpx client's `.get(url).json()`, or TestClient's).
    """
    import pandas as pd
    import plotly.express as px

    model = dashboards()[uid]
    panel = next(p for p in model["panels"] if p["id"] == panel_id)
    target = panel["targets"][0]
    body = get(panel_url(target, variables, start_ms, end_ms))
    frame = pd.DataFrame(body if isinstance(body, list) else [body])
    columns = {c["selector"]: c for c in target["columns"]}
    for selector, column in columns.items():
        if column["type"] == "timestamp" and selector in frame:
            frame[selector] = pd.to_datetime(frame[selector], utc=True)
        elif column["type"] == "number" and selector in frame:  # a column of nulls is still a number column
            frame[selector] = pd.to_numeric(frame[selector], errors="coerce").astype(float)
    title = f"{model['title']} / {panel['title']}"
    if frame.empty:
        return px.scatter(title=f"{title}: no data in this range")
    time_col = next((s for s, c in columns.items() if c["type"] == "timestamp"), None)
    numbers = [s for s, c in columns.items() if c["type"] == "number" and s in frame]
    if panel["type"] == "geomap":
        # Streets when the tile server answers, a tile-free map without internet (labkit.observe.basemap).
        return basemap.points(frame, zoom=11, color="status", hover_name="car_id", height=450, title=title)
    # Axis titles say what is measured, with the unit Grafana shows (panel title or column text).
    x_title = "time (UTC)"
    y_title = panel["title"] if "(" in panel["title"] else ", ".join(columns[n]["text"] for n in numbers)
    if panel["type"] == "barchart" and "type" in frame:
        fig = px.bar(frame, x=time_col, y="count", color="type", title=title)
        return fig.update_layout(xaxis_title=x_title, yaxis_title="anomalies")
    if panel["type"] == "timeseries" and time_col:
        gap_ms = panel["fieldConfig"]["defaults"].get("custom", {}).get("insertNulls")
        if gap_ms:
            frame = with_gaps(frame, time_col, gap_ms)
        fig = px.line(frame, x=time_col, y=numbers, title=title, markers=bool(gap_ms))
        return fig.update_layout(xaxis_title=x_title, yaxis_title=y_title, legend_title="")
    import plotly.graph_objects as go

    if panel["type"] == "stat":
        # One big number per statistic, side by side, as Grafana's stat panel shows them (on one
        # bar chart's axis, 600 events beside a 0.02 ratio, three of four bars were invisible).
        width = 1 / len(numbers)
        return go.Figure([go.Indicator(mode="number", value=float(frame[n].iloc[0]), title={"text": columns[n]["text"]},
                                       domain={"x": [i * width, (i + 1) * width - 0.02], "y": [0, 1]})
                          for i, n in enumerate(numbers)], layout=dict(title=title, height=220))

    shown = [s for s in columns if s in frame]
    return go.Figure(go.Table(header=dict(values=shown), cells=dict(values=[frame[s] for s in shown])),
                     layout=dict(title=title))
