"""Checks for notebook 07's exercises (serve API).

Both checks build the app under test with settings of their own: its telemetry collection is
a scratch one, filled by the check and dropped afterwards (`_scratch`). In it, the known car
has readings inside the asked range and faster ones just before it, at exactly its end and
after it; another car is faster inside the range; a third has readings only outside it. So
an endpoint that ignores `from` or `to`, keeps the reading at `to` (`$lte`), leaves out the
one at `from` (`$gt`), ignores `car_id`, or reads some other collection gives an answer that
differs from the right one, and the message says how.

07.2 runs the student's test against endpoints of the check's own (`_endpoint`): they answer
from the check's rows in plain Python, not with the exercise's aggregation, one of them right
and the others each wrong in one way. The solutions are not needed (nor imported) here.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import FastAPI, HTTPException, Query
from fastapi.testclient import TestClient

from labkit import contract
from labkit.api import create_app
from labkit.api.params import time_range
from labkit.config import Settings
from labkit.ops import clients
from labkit.store.mongo import event_document
from labkit.teach import exercises

ROUTE = "07.1 max speed endpoint"
TEST = "07.2 its test"

HINTS = exercises.register_hints({
    ROUTE: "an aggregation: first keep this car's readings in the range (which comparison leaves `to` out?), "
           "then one group whose accumulator keeps the largest speed; no group at all means no readings, "
           "which is HTTPException(404, ...)",
    TEST: "a right endpoint is right for every car a client asks about: one with readings in the range, one "
          "that stood still (0 is an answer), one that does not exist. client.get(path, params=...) asks the "
          "app; compare status and body with what the data holds",
})

APP = exercises.of_type(FastAPI, what="the FastAPI app, with your route added (return app)")
VERDICT = exercises.of_type(bool, what="True or False (return the comparison; do not assert)")

#: The known car's highest speed in [from, to): the reading at exactly `from`.
IN_RANGE_MAX = 120.0
#: What an endpoint answers for the known car when it makes one of the classic mistakes
#: (the speeds of `_readings`), and what to tell the student then.
MISTAKES = {
    250.0: "your max_speed counts readings after `to`",
    240.0: "your max_speed counts readings before `from`",
    230.0: "your max_speed counts the reading at exactly `to`, which the range [from, to) leaves out",
    150.0: "your max_speed counts other cars' readings",
    95.5: "your max_speed leaves out the reading at exactly `from`, which the range [from, to) includes",
}
UNKNOWN = "CAR_404"
WRONG_COLLECTION = (" (the app's telemetry collection has readings of this car in the range: does your route read "
                    "the collection the app's settings name, through Db and SettingsDep, and compare dates with dates?)")

#: The broken endpoints a test must fail, as the message names them, and what each gets wrong
#: (the keywords of `_endpoint`).
BROKEN = {
    "one that ignores `from` and `to`": {"ranged": False},
    "one that counts a reading at exactly `to` ($lte)": {"end_included": True},
    "one whose max_speed is another number (the average speed)": {"average": True},
    "one that never answers 404": {"answers_404": False},
    "one that answers 404 for the parked car (its max_speed, 0, taken for none)": {"zero_is_none": True},
}


@dataclasses.dataclass(frozen=True)
class _Scratch:
    """An app's settings whose telemetry collection is a scratch one, and the cars in it."""

    settings: Settings
    car: str  # readings inside the range, and faster ones outside it
    other: str  # one reading inside the range, faster than the known car's
    outside: str  # readings only outside the range
    parked: str  # readings inside the range, all at speed 0.0: its maximum is 0, not "none"


def _scratch(settings: Settings, car: str) -> _Scratch:
    """Names only (pure): the scratch collection sits beside the telemetry one, in the same database."""
    name = f"scratch07_{uuid.uuid4().hex[:8]}_{settings.collections.telemetry}"
    collections = dataclasses.replace(settings.collections, telemetry=name)
    other, outside, parked = [c for c in ("CAR_901", "CAR_902", "CAR_903", "CAR_904") if c != car][:3]
    return _Scratch(settings.replace(collections=collections), car, other, outside, parked)


def _rows(s: _Scratch, start: datetime, end: datetime) -> list[tuple[str, datetime, float]]:
    """(car, timestamp, speed) of every reading in the scratch collection."""
    second = timedelta(seconds=1)
    middle = contract.from_ms(contract.to_ms(start + (end - start) / 2))  # on a whole millisecond, as stored
    rows = [(s.car, start - 60 * second, 240.0),  # before `from`
            (s.car, start, IN_RANGE_MAX),  # at exactly `from`: in the range, the fastest there
            (s.car, middle, 95.5),
            (s.car, end - second, 80.0),
            (s.car, end, 230.0),  # at exactly `to`: outside [from, to)
            (s.car, end + 60 * second, 250.0),  # after `to`
            (s.other, middle, 150.0),
            (s.outside, start - 30 * second, 170.0),
            (s.outside, end, 180.0),
            (s.parked, start, 0.0),
            (s.parked, middle, 0.0)]
    return rows


def _readings(s: _Scratch, start: datetime, end: datetime) -> list[dict]:
    """Documents shaped as the processor stores them (labkit.store.mongo.event_document)."""
    return [event_document({"car_id": car, "timestamp": at, "speed": speed, "rpm": 1000 + 20 * speed,
                            "engine_temp": 90.0, "fuel_level": 50.0, "latitude": 52.52, "longitude": 13.40,
                            "event_id": f"{car}-{seq}", "seq": seq})
            for seq, (car, at, speed) in enumerate(_rows(s, start, end), start=1)]


def _endpoint(rows: list[tuple[str, datetime, float]], *, ranged: bool = True, end_included: bool = False,
              average: bool = False, answers_404: bool = True, zero_is_none: bool = False):
    """A GET /stats/max_speed for 07.2, answering from `rows` in Python: right with the defaults,
    or wrong in the one way a keyword says (the range ignored, its end included, the average for
    the maximum, 200 with max_speed null where a 404 belongs, a 404 for a maximum of 0)."""
    def add(app: FastAPI) -> FastAPI:
        @app.get("/stats/max_speed")
        def max_speed(car_id: str, frm: Annotated[str | None, Query(alias="from")] = None, to: str | None = None):
            start, end = time_range(frm, to)
            speeds = [speed for car, at, speed in rows if car == car_id
                      and (not ranged or start <= at < end or (end_included and at == end))]
            if (not speeds or (zero_is_none and not max(speeds))) and answers_404:  # `if not max_speed:`
                raise HTTPException(404, f"no readings of {car_id!r} in that range")
            value = (sum(speeds) / len(speeds) if average else max(speeds)) if speeds else None
            return {"car_id": car_id, "max_speed": value}
        return app
    return add


@contextmanager
def _filled(s: _Scratch, rng: dict) -> Iterator[None]:
    """The scratch collection with its readings for the range `rng`; dropped afterwards."""
    start, end = time_range(rng["from"], rng["to"])
    client = clients.mongo_client(s.settings)
    collection = client[s.settings.mongodb_db][s.settings.collections.telemetry]
    try:
        collection.insert_many(_readings(s, start, end))
        yield
    finally:
        try:
            collection.drop()
        finally:
            client.close()


class _Problem(str):
    """What came instead of a max_speed (e.g. "your answer is not JSON"): never equal to a number."""


def _answer(response, car: str) -> tuple[int, object]:
    """(status code, max_speed) of a response to a question about `car`; max_speed only for a
    200, else None. An answer must say which car it is about: a client that asked for several
    cars at once matches answers to questions by it."""
    if response.status_code != 200:
        return response.status_code, None
    try:
        body = response.json()
    except ValueError:
        return 200, _Problem("your answer is not JSON")
    if not isinstance(body, dict):
        return 200, _Problem("your answer is not a JSON object")
    if "max_speed" not in body:
        return 200, _Problem("your answer has no `max_speed` key")
    if body.get("car_id") != car:
        return 200, _Problem(f"your answer's `car_id` is {body.get('car_id')!r}, not the car asked for, {car!r}")
    return 200, body["max_speed"]


def _cases(s: _Scratch, rng: dict) -> dict[str, tuple[dict, tuple[int, float | None]]]:
    """Each case's query parameters and the right (status, max_speed). `from` and `to` come as
    epoch milliseconds, as Grafana sends them, and once as ISO times, as a person types them."""
    start, end = time_range(rng["from"], rng["to"])
    return {
        "known car": ({"car_id": s.car, **rng}, (200, IN_RANGE_MAX)),
        "another car": ({"car_id": s.other, **rng}, (200, 150.0)),
        "car with readings only outside the range": ({"car_id": s.outside, **rng}, (404, None)),
        "unknown car": ({"car_id": UNKNOWN, **rng}, (404, None)),
        "reversed range": ({"car_id": s.car, "from": rng["to"], "to": rng["from"]}, (422, None)),
        "a parked car (all its speeds 0)": ({"car_id": s.parked, **rng}, (200, 0.0)),
        "known car, the range as ISO times": ({"car_id": s.car, "from": start.isoformat(), "to": end.isoformat()},
                                              (200, IN_RANGE_MAX)),
    }


def _what_is_wrong(got: dict, expected: dict) -> str:
    """One line: each wrong case, and what is wrong with it."""
    said, told_collection = [], False
    for case in expected:
        if not exercises.same(got[case], expected[case]):
            text = _wrong_case(case, got[case], expected[case])
            if (got[case][0], expected[case][0]) == (404, 200) and not told_collection:  # said once
                text, told_collection = text + WRONG_COLLECTION, True
            said.append(text)
    return "; ".join(said)


def _wrong_case(case: str, got: tuple, expected: tuple) -> str:
    (status, value), (right_status, right_value) = got, expected
    if status != right_status:
        return f"{case}: your endpoint answered {status} where the exercise asks for {right_status}"
    if isinstance(value, _Problem):
        return f"{case}: {value}"
    mistake = next((why for speed, why in MISTAKES.items() if exercises.same(value, speed)), None)
    if case == "known car" and mistake:
        return f"{case}: {mistake}"
    return f"{case}: your max_speed is wrong ({exercises.describe_difference(value, right_value)})"


@exercises.graded(ROUTE)
def max_speed_route(add_route, settings: Settings, car: str, rng: dict) -> bool:
    """07.1: the student's endpoint, on an app whose telemetry collection is a scratch one,
    answers each case (`_cases`) as the contract says. An error in the student's endpoint
    comes out of TestClient and is reported as theirs, with its line."""
    s = _scratch(settings, car)
    app = exercises.attempt(add_route, create_app(s.settings))
    if not exercises.expect_type(ROUTE, app, APP):
        return False
    cases = _cases(s, rng)
    expected = {case: right for case, (_, right) in cases.items()}

    def answers(client) -> dict:
        return {case: _answer(client.get("/stats/max_speed", params=params), params["car_id"]) for case, (params, _) in cases.items()}

    with _filled(s, rng), TestClient(app) as student:
        got = exercises.attempt(answers, student)  # whatever raises here, raised in the student's endpoint
    if isinstance(got, dict) and not exercises.same(got, expected):
        return exercises.wrong(ROUTE, _what_is_wrong(got, expected))
    return exercises.check(ROUTE, got, expected)


@exercises.graded(TEST)
def max_speed_test(student_test, settings: Settings, car: str, rng: dict) -> bool:
    """07.2: the student's test passes the reference endpoint and fails each broken one
    (`BROKEN`), all over the same scratch data. It is given a TestClient, the known car,
    its highest speed in the range, the range, and a car parked throughout the range."""
    s = _scratch(settings, car)
    args = (s.car, IN_RANGE_MAX, rng["from"], rng["to"], s.parked)
    rows = _rows(s, *time_range(rng["from"], rng["to"]))

    def verdict_on(add_route):
        with TestClient(add_route(create_app(s.settings))) as client:
            return exercises.attempt(student_test, client, *args)

    with _filled(s, rng):
        on_good = verdict_on(_endpoint(rows))
        if on_good is None:
            return exercises.wrong(TEST, "your test returned None: a test here returns True or False "
                                         "(return the comparison; do not assert)")
        if not exercises.expect_type(TEST, on_good, VERDICT, case="on the correct endpoint"):
            return False
        if not on_good:
            return exercises.wrong(TEST, "your test fails the correct endpoint, which answers the known car in "
                                         "[frm, to) with 200 and `expected`, the parked car with 200 and 0, and "
                                         "'CAR_404' with 404")
        verdicts = {"correct endpoint": on_good}
        for broken, mistake in BROKEN.items():
            verdicts[broken] = verdict_on(_endpoint(rows, **mistake))
            if not exercises.expect_type(TEST, verdicts[broken], VERDICT, case=f"on the broken endpoint {broken}"):
                return False
    let_through = [broken for broken in BROKEN if verdicts[broken]]
    if let_through:
        some = "a broken endpoint" if len(let_through) == 1 else f"{len(let_through)} broken endpoints"
        return exercises.wrong(TEST, f"your test lets {some} through: {'; '.join(let_through)}")
    return exercises.check(TEST, verdicts, {"correct endpoint": True, **{broken: False for broken in BROKEN}})
