"""Checks for notebook 04's exercises (serve API). The reference endpoint and test live in
`labkit.teach.solutions.nb04`; they are used here, out of the student's sight."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from labkit.api import create_app
from labkit.config import Settings
from labkit.teach import exercises
from labkit.teach.solutions import nb04 as reference

ROUTE = "04.1 max speed endpoint"
TEST = "04.2 its test"

HINTS = exercises.register_hints({
    ROUTE: "each value is (status code, max_speed); a 404 needs raise HTTPException(404, ...), "
           "and time_range() already raises the 422 for a reversed range",
    TEST: "a test must also fail the broken endpoint: besides the known car's 200 and max_speed, ask "
          "about 'CAR_404' and expect its 404 (response.status_code, response.json())",
})

APP = exercises.of_type(FastAPI, what="the FastAPI app, with your route added (return app)")
VERDICT = exercises.of_type(bool, what="True or False (return the comparison; do not assert)")


def _max_speed_of(response):
    """The body's max_speed, or words for what came instead (compared, never shown)."""
    try:
        body = response.json()
    except ValueError:
        return "not JSON"
    return body.get("max_speed") if isinstance(body, dict) else "not a JSON object"


@exercises.graded(ROUTE)
def max_speed_route(add_route, settings: Settings, car: str, rng: dict) -> bool:
    """04.1: the student's endpoint gives the reference answers for a known car, a 404 for an
    unknown one and a 422 for a reversed range. An error in the student's endpoint comes out
    of TestClient and is reported as theirs, with its line."""
    app = exercises.attempt(add_route, create_app(settings))
    if not exercises.expect_type(ROUTE, app, APP):
        return False
    cases = {"known car": {"car_id": car, **rng}, "unknown car": {"car_id": "CAR_404", **rng},
             "reversed range": {"car_id": car, "from": rng["to"], "to": rng["from"]}}

    def answers(client):
        out = {}
        for name, params in cases.items():
            response = client.get("/stats/max_speed", params=params)
            out[name] = (response.status_code, _max_speed_of(response) if response.status_code == 200 else None)
        return out

    with TestClient(reference.add_max_speed_route(create_app(settings))) as good:
        expected = answers(good)
    with TestClient(app) as student:
        got = exercises.attempt(answers, student)  # whatever raises here, raised in the student's endpoint
    return exercises.check(ROUTE, got, expected)


@exercises.graded(TEST)
def max_speed_test(student_test, settings: Settings, car: str, rng: dict) -> bool:
    """04.2: the student's test passes a correct endpoint and fails a broken one."""
    with TestClient(reference.add_max_speed_route(create_app(settings))) as good:
        expected_max = good.get("/stats/max_speed", params={"car_id": car, **rng}).json()["max_speed"]
        on_good = exercises.attempt(student_test, good, car, expected_max, rng["from"], rng["to"])
    if not exercises.expect_type(TEST, on_good, VERDICT, case="on a correct endpoint"):
        return False
    with TestClient(reference.add_broken_route(create_app(settings))) as broken:
        on_broken = exercises.attempt(student_test, broken, car, expected_max, rng["from"], rng["to"])
    if not exercises.expect_type(TEST, on_broken, VERDICT, case="on a broken endpoint"):
        return False
    return exercises.check(TEST, {"correct endpoint": on_good, "broken endpoint (never 404)": on_broken},
                           {"correct endpoint": True, "broken endpoint (never 404)": False})
