"""Solutions for notebook 04 (serve API)."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, HTTPException, Query, Request

from labkit.api.params import time_range


def _max_speed(request: Request, car_id: str, frm: str | None, to: str | None) -> float | None:
    start, end = time_range(frm, to)
    settings = request.app.state.settings
    db = request.app.state.mongo[settings.mongodb_db]
    rows = list(db[settings.collections.telemetry].aggregate([
        {"$match": {"car_id": car_id, "timestamp": {"$gte": start, "$lt": end}}},
        {"$group": {"_id": None, "max_speed": {"$max": "$speed"}}},
    ]))
    return rows[0]["max_speed"] if rows else None


def add_max_speed_route(app: FastAPI) -> FastAPI:
    """Exercise 04.1: GET /stats/max_speed?car_id=...&from=...&to=... -> {"car_id", "max_speed"};
    404 for a car without readings in the range."""

    @app.get("/stats/max_speed")
    def max_speed(request: Request, car_id: str, frm: Annotated[str | None, Query(alias="from")] = None,
                  to: str | None = None):
        value = _max_speed(request, car_id, frm, to)
        if value is None:
            raise HTTPException(404, f"no readings for {car_id!r} in that range")
        return {"car_id": car_id, "max_speed": value}

    return app


def add_broken_route(app: FastAPI) -> FastAPI:
    """A wrong endpoint for grading tests: answers 200 with max_speed null for unknown cars."""

    @app.get("/stats/max_speed")
    def max_speed(request: Request, car_id: str, frm: Annotated[str | None, Query(alias="from")] = None,
                  to: str | None = None):
        return {"car_id": car_id, "max_speed": _max_speed(request, car_id, frm, to)}

    return app


def test_max_speed(client, car_id: str, expected: float, frm: str, to: str) -> bool:
    """Exercise 04.2: the endpoint's test, with TestClient: right answer and a 404."""
    ok = client.get("/stats/max_speed", params={"car_id": car_id, "from": frm, "to": to})
    missing = client.get("/stats/max_speed", params={"car_id": "CAR_404", "from": frm, "to": to})
    return ok.status_code == 200 and ok.json()["max_speed"] == expected and missing.status_code == 404


test_max_speed.__test__ = False  # a solution, not a pytest test
