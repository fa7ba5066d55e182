"""Notebook 07's checks accept the reference solutions and reject the classic mistakes: a route
that ignores the range or keeps its end, one that reads another collection, the wrong return
value; a test that only looks at the status, that passes everything, that asserts instead
of returning True or False. Each wrong answer gets a ✘ that says what is wrong."""

import uuid
from datetime import datetime, timedelta, timezone
from typing import Annotated

import pytest
from fastapi import HTTPException, Query

from labkit import contract
from labkit.api.params import time_range
from labkit.api.routes import Db, SettingsDep
from labkit.ops import clients
from labkit.teach.checks import nb07 as check
from labkit.teach.solutions import nb07
from tests.wrong_answers import assert_rejected

CAR = "CAR_002"


def _rejected(capsys, verdict, *words):
    assert_rejected(capsys, verdict, *words)


@pytest.fixture(scope="module")
def isolated(services):
    """The services' settings with a database of this module's own, dropped at its end. The
    checks need no Kafka topics: each fills a scratch collection there, and drops it."""
    settings = services.replace(mongodb_db=f"labkit_test_{uuid.uuid4().hex[:8]}")
    yield settings
    mongo = clients.mongo_client(settings)
    try:
        mongo.drop_database(settings.mongodb_db)
    finally:
        mongo.close()


@pytest.fixture
def rng():
    """Five minutes ending at the current minute, as epoch-ms text (what Grafana sends)."""
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    return {"from": str(contract.to_ms(now - timedelta(minutes=5))), "to": str(contract.to_ms(now))}


def _route(match, collection=None, key="max_speed", with_car=True):
    """A student's route: `match(car_id, start, end)` is its $match stage; `collection`, when
    given, a fixed collection name instead of the one the app's settings name; `key` the key
    of its answer; `with_car` False leaves the car out of the answer."""
    def add(app):
        @app.get("/stats/max_speed")
        def max_speed(db: Db, settings: SettingsDep, car_id: str,
                      frm: Annotated[str | None, Query(alias="from")] = None, to: str | None = None):
            start, end = time_range(frm, to)
            rows = list(db[collection or settings.collections.telemetry].aggregate([
                {"$match": match(car_id, start, end)}, {"$group": {"_id": None, "max_speed": {"$max": "$speed"}}}]))
            if not rows:
                raise HTTPException(404, "no readings")
            return {"car_id": car_id, key: rows[0]["max_speed"]} if with_car else {key: rows[0]["max_speed"]}

        return app

    return add


def _in_range(car, start, end):
    return {"car_id": car, "timestamp": {"$gte": start, "$lt": end}}


ignoring_range = _route(lambda car, start, end: {"car_id": car})
end_included = _route(lambda car, start, end: {"car_id": car, "timestamp": {"$gte": start, "$lte": end}})
start_excluded = _route(lambda car, start, end: {"car_id": car, "timestamp": {"$gt": start, "$lt": end}})
ignoring_to = _route(lambda car, start, end: {"car_id": car, "timestamp": {"$gte": start}})
ignoring_car = _route(lambda car, start, end: {"timestamp": {"$gte": start, "$lt": end}})
wrong_field = _route(lambda car, start, end: {"car_id": car, "received": {"$gte": start, "$lt": end}})
strings_for_dates = _route(lambda car, start, end: {"car_id": car, "timestamp": {"$gte": str(start), "$lt": str(end)}})
notebook_collection = _route(_in_range, collection="car_telemetry")  # the notebook's, not the app's
renamed_key = _route(_in_range, key="max")


def _rpm_route(app):  # the wrong field: the highest rpm
    @app.get("/stats/max_speed")
    def max_speed(db: Db, settings: SettingsDep, car_id: str,
                  frm: Annotated[str | None, Query(alias="from")] = None, to: str | None = None):
        start, end = time_range(frm, to)
        doc = db[settings.collections.telemetry].find_one(
            {"car_id": car_id, "timestamp": {"$gte": start, "$lt": end}}, sort=[("rpm", -1)])
        if doc is None:
            raise HTTPException(404, "no readings")
        return {"car_id": car_id, "max_speed": doc["rpm"]}

    return app


def _zero_is_none_route(app):  # `if not max_speed`: a parked car's 0.0 taken for "no readings"
    @app.get("/stats/max_speed")
    def max_speed(db: Db, settings: SettingsDep, car_id: str,
                  frm: Annotated[str | None, Query(alias="from")] = None, to: str | None = None):
        start, end = time_range(frm, to)
        doc = db[settings.collections.telemetry].find_one(
            {"car_id": car_id, "timestamp": {"$gte": start, "$lt": end}}, sort=[("speed", -1)])
        if not doc or not doc["speed"]:
            raise HTTPException(404, "no readings")
        return {"car_id": car_id, "max_speed": doc["speed"]}

    return app


def _epoch_ms_only_route(app):  # `from` taken as an int: an ISO time is refused
    @app.get("/stats/max_speed")
    def max_speed(db: Db, settings: SettingsDep, car_id: str,
                  frm: Annotated[int | None, Query(alias="from")] = None, to: int | None = None):
        start, end = (datetime.fromtimestamp(ms / 1000, timezone.utc) for ms in (frm, to))
        doc = db[settings.collections.telemetry].find_one(
            {"car_id": car_id, "timestamp": {"$gte": start, "$lt": end}}, sort=[("speed", -1)])
        if doc is None:
            raise HTTPException(404, "no readings")
        if end <= start:
            raise HTTPException(422, "reversed")
        return {"car_id": car_id, "max_speed": doc["speed"]}

    return app


def _raising_route(app):
    @app.get("/stats/max_speed")
    def max_speed(car_id: str):
        return {"car_id": car_id, "max_speed": 1 / 0}

    return app


def _text_route(app):
    from fastapi.responses import PlainTextResponse

    @app.get("/stats/max_speed", response_class=PlainTextResponse)
    def max_speed(car_id: str):
        return "fast"

    return app


def _stub_route(app):
    raise NotImplementedError


def _stub_test(client, car_id, expected, frm, to, parked):
    raise NotImplementedError


def test_the_reference_route_passes_and_the_scratch_data_is_dropped(isolated, rng, capsys):
    assert check.max_speed_route(nb07.add_max_speed_route, isolated, CAR, rng)
    assert capsys.readouterr().out.startswith("✔ 07.1")
    mongo = clients.mongo_client(isolated)
    try:
        assert not [c for c in mongo[isolated.mongodb_db].list_collection_names() if c.startswith("scratch07_")]
    finally:
        mongo.close()


def _through_request_state(app):  # reads the app's state itself, and finds the maximum with find()
    from fastapi import Request

    @app.get("/stats/max_speed")
    def max_speed(request: Request, car_id: str, frm: Annotated[str | None, Query(alias="from")] = None,
                  to: str | None = None):
        start, end = time_range(frm, to)
        settings = request.app.state.settings
        telemetry = request.app.state.mongo[settings.mongodb_db][settings.collections.telemetry]
        doc = telemetry.find_one({"car_id": car_id, "timestamp": {"$gte": start, "$lt": end}}, sort=[("speed", -1)])
        if doc is None:
            raise HTTPException(404, "no readings")
        return {"car_id": car_id, "max_speed": doc["speed"]}

    return app


def _aggregated(*, accumulator: str = "$max", answers_404: bool = True):
    """The solution's aggregation with one thing wrong: another accumulator than $max, or 200
    with max_speed null where a 404 belongs."""
    def add(app):
        @app.get("/stats/max_speed")
        def max_speed(db: Db, settings: SettingsDep, car_id: str,
                      frm: Annotated[str | None, Query(alias="from")] = None, to: str | None = None):
            start, end = time_range(frm, to)
            rows = list(db[settings.collections.telemetry].aggregate([
                {"$match": {"car_id": car_id, "timestamp": {"$gte": start, "$lt": end}}},
                {"$group": {"_id": None, "max_speed": {accumulator: "$speed"}}}]))
            if not rows and answers_404:
                raise HTTPException(404, f"no readings of {car_id!r} in that range")
            return {"car_id": car_id, "max_speed": rows[0]["max_speed"] if rows else None}
        return app
    return add


def test_another_right_route_passes_too(isolated, rng, capsys):
    assert check.max_speed_route(_through_request_state, isolated, CAR, rng)


@pytest.mark.parametrize("route, words", [
    (ignoring_range, ("known car", "after `to`", "car with readings only outside the range: your endpoint answered 200")),
    (ignoring_to, ("known car", "after `to`")),
    (end_included, ("known car", "exactly `to`", "car with readings only outside the range")),
    (start_excluded, ("known car", "exactly `from`")),
    (ignoring_car, ("known car", "other cars'")),
    (wrong_field, ("known car: your endpoint answered 404", "compare dates with dates")),
    (strings_for_dates, ("known car: your endpoint answered 404",)),
    (notebook_collection, ("another car: your endpoint answered 404", "Db and SettingsDep")),
    (_rpm_route, ("known car: your max_speed is wrong", "too high")),
    (_aggregated(accumulator="$avg"), ("known car: your max_speed is wrong", "too low")),
    (_aggregated(answers_404=False), ("unknown car: your endpoint answered 200 where the exercise asks for 404",)),
    (_raising_route, ("your code raised ZeroDivisionError",)),
    (_text_route, ("your answer is not JSON",)),
    (renamed_key, ("known car: your answer has no `max_speed` key",)),
    (_route(_in_range, with_car=False), ("known car: your answer's `car_id` is None",)),
    (lambda app: nb07.add_max_speed_route(app) and None, ("returned None",)),
    (lambda app: app.router, ("expected the FastAPI app",)),
    (_zero_is_none_route, ("a parked car (all its speeds 0): your endpoint answered 404",)),
    (_epoch_ms_only_route, ("known car, the range as ISO times: your endpoint answered 422",)),
], ids=["ignores range", "ignores to", "$lte at the end", "$gt at the start",
        "ignores car_id", "filters another field", "strings for dates", "a fixed collection name", "highest rpm",
        "average speed", "never 404", "raises", "plain text", "another key", "no car_id", "returns None", "returns app.router",
        "0 taken for none", "epoch ms only"])
def test_a_wrong_route_is_rejected_with_what_is_wrong(isolated, rng, capsys, route, words):
    _rejected(capsys, check.max_speed_route(route, isolated, CAR, rng), *words)


def test_an_untouched_route_stub_is_not_attempted(isolated, rng, capsys):
    assert check.max_speed_route(_stub_route, isolated, CAR, rng) is False
    assert capsys.readouterr().out.startswith("⏳ 07.1")


def test_the_reference_test_passes(isolated, rng, capsys):
    assert check.max_speed_test(nb07.test_max_speed, isolated, CAR, rng)
    assert capsys.readouterr().out.startswith("✔ 07.2")


def _status_only(client, car_id, expected, frm, to, parked):
    return client.get("/stats/max_speed", params={"car_id": car_id, "from": frm, "to": to}).status_code == 200


def _value_without_404(client, car_id, expected, frm, to, parked):
    response = client.get("/stats/max_speed", params={"car_id": car_id, "from": frm, "to": to})
    return response.status_code == 200 and response.json()["max_speed"] == expected


def _statuses_without_value(client, car_id, expected, frm, to, parked):
    known = client.get("/stats/max_speed", params={"car_id": car_id, "from": frm, "to": to})
    unknown = client.get("/stats/max_speed", params={"car_id": "CAR_404", "from": frm, "to": to})
    return known.status_code == 200 and unknown.status_code == 404


def _value_in_a_range_of_its_own(client, car_id, expected, frm, to, parked):  # asks without from/to
    known = client.get("/stats/max_speed", params={"car_id": car_id})
    unknown = client.get("/stats/max_speed", params={"car_id": "CAR_404", "from": frm, "to": to})
    return known.status_code == 200 and known.json()["max_speed"] == expected and unknown.status_code == 404


def _asserting_test(client, car_id, expected, frm, to, parked):  # pytest style: asserts, returns None
    response = client.get("/stats/max_speed", params={"car_id": car_id, "from": frm, "to": to})
    assert response.status_code == 200 and response.json()["max_speed"] == expected


def _without_the_parked_car(client, car_id, expected, frm, to, parked):  # the solution of before: 0 never asked
    known = client.get("/stats/max_speed", params={"car_id": car_id, "from": frm, "to": to})
    unknown = client.get("/stats/max_speed", params={"car_id": "CAR_404", "from": frm, "to": to})
    return known.status_code == 200 and known.json()["max_speed"] == expected and unknown.status_code == 404


@pytest.mark.parametrize("test, words", [
    (_status_only, ("lets 5 broken endpoints through", "ignores `from` and `to`", "($lte)", "average speed",
                    "never answers 404", "parked car")),
    (lambda *args: True, ("lets 5 broken endpoints through",)),
    (_value_without_404, ("lets 2 broken endpoints through", "never answers 404", "parked car")),
    (_statuses_without_value, ("lets 4 broken endpoints through", "ignores `from` and `to`", "($lte)", "average speed",
                               "parked car")),
    (_without_the_parked_car, ("lets a broken endpoint through: one that answers 404 for the parked car",)),
    (_value_in_a_range_of_its_own, ("fails the correct endpoint",)),
    (lambda *args: False, ("fails the correct endpoint",)),
    (_asserting_test, ("returned None", "do not assert")),
    (lambda client, *args: client.get("/stats/max_speed"), ("you returned a Response", "expected True or False")),
    (lambda *args: 1 / 0, ("your code raised ZeroDivisionError",)),
], ids=["status 200 only", "always True", "no 404 asked", "no value compared", "no parked car", "no range asked",
        "always False",
        "asserts", "returns the response", "raises"])
def test_a_wrong_test_is_rejected_with_the_endpoint_it_let_through(isolated, rng, capsys, test, words):
    _rejected(capsys, check.max_speed_test(test, isolated, CAR, rng), *words)


def test_an_untouched_test_stub_is_not_attempted(isolated, rng, capsys):
    assert check.max_speed_test(_stub_test, isolated, CAR, rng) is False
    assert capsys.readouterr().out.startswith("⏳ 07.2")
