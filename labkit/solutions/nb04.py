"""Solutions for notebook 04 (serve API)."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request

from labkit.api.params import time_range


def add_max_speed_route(app: FastAPI) -> FastAPI:
    """Exercise 04.1: GET /stats/max_speed?car_id=...&from=...&to=... -> {"car_id", "max_speed"};
    404 for a car without readings in the range."""

    @app.get("/stats/max_speed")
    def max_speed(request: Request, car_id: str, start: str | None = None, end: str | None = None):
        frm, to = time_range(start, end)
        settings = request.app.state.settings
        db = request.app.state.mongo[settings.mongodb_db]
        rows = list(db[settings.collections.telemetry].aggregate([
            {"$match": {"car_id": car_id, "timestamp": {"$gte": frm, "$lt": to}}},
            {"$group": {"_id": None, "max_speed": {"$max": "$speed"}}},
        ]))
        if not rows:
            raise HTTPException(404, f"no readings for {car_id!r} in that range")
        return {"car_id": car_id, "max_speed": rows[0]["max_speed"]}

    return app


def check_max_speed_route(client, car_id: str, expected: float, start: str, end: str) -> bool:
    """Exercise 04.2: the endpoint's test, with TestClient: right answer and a 404."""
    ok = client.get("/stats/max_speed", params={"car_id": car_id, "start": start, "end": end})
    missing = client.get("/stats/max_speed", params={"car_id": "CAR_404", "start": start, "end": end})
    return ok.status_code == 200 and ok.json()["max_speed"] == expected and missing.status_code == 404
