"""Solutions for notebook 07 (serve API), and the broken endpoints its check grades tests with."""

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


def test_max_speed(client, car_id: str, expected: float, frm: str, to: str) -> bool:
    """Exercise 07.2: the endpoint's test. Right in every case a broken endpoint gets wrong:
    the known car's status and value in the range, and an unknown car's 404."""
    known = client.get("/stats/max_speed", params={"car_id": car_id, "from": frm, "to": to})
    unknown = client.get("/stats/max_speed", params={"car_id": "CAR_404", "from": frm, "to": to})
    return known.status_code == 200 and known.json()["max_speed"] == expected and unknown.status_code == 404


test_max_speed.__test__ = False  # a solution, not a pytest test


# --- broken endpoints: a test of 07.2 must fail each of them ------------------------------


def _add_broken(app: FastAPI, *, ranged: bool = True, accumulator: str = "$max", answers_404: bool = True,
                end_operator: str = "$lt") -> FastAPI:
    """The reference endpoint with one thing wrong: the range ignored, its end included, another
    accumulator than $max, or 200 with max_speed null where a 404 belongs."""

    @app.get("/stats/max_speed")
    def max_speed(db: Db, settings: SettingsDep, car_id: str,
                  frm: Annotated[str | None, Query(alias="from")] = None, to: str | None = None):
        start, end = time_range(frm, to)
        match = {"car_id": car_id, **({"timestamp": {"$gte": start, end_operator: end}} if ranged else {})}
        rows = list(db[settings.collections.telemetry].aggregate([
            {"$match": match}, {"$group": {"_id": None, "max_speed": {accumulator: "$speed"}}}]))
        if not rows and answers_404:
            raise HTTPException(404, f"no readings of {car_id!r} in that range")
        return {"car_id": car_id, "max_speed": rows[0]["max_speed"] if rows else None}

    return app


def add_route_ignoring_range(app: FastAPI) -> FastAPI:
    """Broken: the highest speed of every reading of the car, whatever `from` and `to` say."""
    return _add_broken(app, ranged=False)


def add_route_including_the_end(app: FastAPI) -> FastAPI:
    """Broken: a reading at exactly `to` counts ($lte), though the range is [from, to)."""
    return _add_broken(app, end_operator="$lte")


def add_route_with_wrong_value(app: FastAPI) -> FastAPI:
    """Broken: the right status codes, and the average speed in the range, not the highest."""
    return _add_broken(app, accumulator="$avg")


def add_broken_route(app: FastAPI) -> FastAPI:
    """Broken: never answers 404 (200 with max_speed null for a car without readings)."""
    return _add_broken(app, answers_404=False)
