"""Solutions for notebook 07 (serve API)."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel

from labkit.api.params import time_range
from labkit.api.routes import Db, SettingsDep


class MaxSpeed(BaseModel):
    car_id: str
    max_speed: float


def add_max_speed_route(app: FastAPI) -> FastAPI:
    """Exercise 07.1: GET /stats/max_speed?car_id=...&from=...&to=... -> {"car_id", "max_speed"},
    the highest speed of the car's readings in [from, to); 404 when it has none there, 422 for
    a reversed range (time_range raises it). The app's own dependencies give the database and
    the settings, so the route reads whichever collection the app was built for."""

    @app.get("/stats/max_speed", response_model=MaxSpeed)
    def max_speed(db: Db, settings: SettingsDep, car_id: str,
                  frm: Annotated[str | None, Query(alias="from")] = None, to: str | None = None):
        start, end = time_range(frm, to)
        rows = list(db[settings.collections.telemetry].aggregate([
            {"$match": {"car_id": car_id, "timestamp": {"$gte": start, "$lt": end}}},
            {"$group": {"_id": None, "max_speed": {"$max": "$speed"}}},
        ]))
        if not rows:
            raise HTTPException(404, f"no readings of {car_id!r} in that range")
        return MaxSpeed(car_id=car_id, max_speed=rows[0]["max_speed"])

    return app


def test_max_speed(client, car_id: str, expected: float, frm: str, to: str, parked: str) -> bool:
    """Exercise 07.2: the endpoint's test. Right in every case a broken endpoint gets wrong:
    the known car's status and value in the range, the parked car's 0 (an answer, not a 404),
    and an unknown car's 404."""
    def ask(car):
        return client.get("/stats/max_speed", params={"car_id": car, "from": frm, "to": to})

    known, still, unknown = ask(car_id), ask(parked), ask("CAR_404")
    return (known.status_code == 200 and known.json()["max_speed"] == expected
            and still.status_code == 200 and still.json()["max_speed"] == 0 and unknown.status_code == 404)


test_max_speed.__test__ = False  # a solution, not a pytest test
