"""Checks for notebook 04's exercises (serve API). The reference endpoint and test live in
`labkit.teach.solutions.nb04`; they are used here, out of the student's sight."""

from __future__ import annotations

from fastapi.testclient import TestClient

from labkit.api import create_app
from labkit.config import Settings
from labkit.teach import exercises
from labkit.teach.solutions import nb04 as reference


def max_speed_route(add_route, settings: Settings, car: str, rng: dict) -> bool:
    """04.1: the student's endpoint gives the reference answers for a known car, a 404 for an
    unknown one and a 422 for a reversed range."""
    app = exercises.attempt(add_route, create_app(settings))
    if exercises.gave_up(app) or not hasattr(app, "router"):
        return exercises.check("04.1 max speed endpoint", app if exercises.gave_up(app) else type(app).__name__, None)
    cases = {"known car": {"car_id": car, **rng}, "unknown car": {"car_id": "CAR_404", **rng},
             "reversed range": {"car_id": car, "from": rng["to"], "to": rng["from"]}}

    def answers(client):
        out = {}
        for name, params in cases.items():
            response = client.get("/stats/max_speed", params=params)
            out[name] = (response.status_code, response.json().get("max_speed") if response.status_code == 200 else None)
        return out

    with TestClient(reference.add_max_speed_route(create_app(settings))) as good:
        expected = answers(good)
    with TestClient(app) as student:
        got = answers(student)
    return exercises.check("04.1 max speed endpoint", got, expected,
                           hint="each value is (status code, max_speed); a 404 needs raise HTTPException(404, ...), "
                                "and time_range() already raises the 422 for a reversed range")


def max_speed_test(student_test, settings: Settings, car: str, rng: dict) -> bool:
    """04.2: the student's test passes a correct endpoint and fails a broken one."""
    with TestClient(reference.add_max_speed_route(create_app(settings))) as good:
        expected_max = good.get("/stats/max_speed", params={"car_id": car, **rng}).json()["max_speed"]
        on_good = exercises.attempt(student_test, good, car, expected_max, rng["from"], rng["to"])
    if exercises.gave_up(on_good):
        return exercises.check("04.2 its test", on_good, None)
    with TestClient(reference.add_broken_route(create_app(settings))) as broken:
        on_broken = exercises.attempt(student_test, broken, car, expected_max, rng["from"], rng["to"])
    return exercises.check("04.2 its test", {"correct endpoint": on_good, "broken endpoint (never 404)": on_broken},
                           {"correct endpoint": True, "broken endpoint (never 404)": False},
                           hint="call client.get(...) twice: once for car_id, once for 'CAR_404', and compare "
                                "status_code and .json()['max_speed']")
