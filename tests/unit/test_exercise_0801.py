"""Exercise 08.1 (a panel's request): the solution passes; the classic mistakes with Grafana's
time range and variables are each named."""

from datetime import timezone
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from labkit.teach.checks import nb08
from labkit.teach.solutions import nb08 as solution
from tests.wrong_answers import assert_rejected

pytestmark = pytest.mark.unit


def test_the_solution_passes_every_panel_and_the_check_s_own_target(capsys):
    assert nb08.request_for(solution.request_for)
    assert len(nb08.request_cases()) == 15  # the 14 panels of the four dashboards, and the check's own
    assert "✔ 08.1" in capsys.readouterr().out


def request(target, values):
    """The request, with `values` for the variables (`${name}`: value); the rest as written."""
    params = [(p["key"], values.get(p["value"], p["value"])) for p in target["url_options"]["params"]]
    return target["url"] + ("?" + urlencode(params) if params else "")


def with_range(target, variables, start_value, end_value):
    return request(target, {"${__from}": start_value, "${__to}": end_value,
                            **{"${" + k + "}": v for k, v in variables.items()}})


def in_seconds(target, variables, start, end):
    return with_range(target, variables, str(int(start.timestamp())), str(int(end.timestamp())))


def wall_clock_as_utc(target, variables, start, end):  # the picker's 09:40 read as 09:40 UTC
    utc = [t.replace(tzinfo=timezone.utc) for t in (start, end)]
    return with_range(target, variables, *(str(int(t.timestamp() * 1000)) for t in utc))


def milliseconds_dropped(target, variables, start, end):
    return with_range(target, variables, str(int(start.timestamp()) * 1000), str(int(end.timestamp()) * 1000))


def as_float(target, variables, start, end):
    return with_range(target, variables, str(start.timestamp() * 1000), str(end.timestamp() * 1000))


def as_iso_text(target, variables, start, end):
    return with_range(target, variables, start.isoformat(), end.isoformat())


def swapped(target, variables, start, end):
    return solution.request_for(target, variables, end, start)


def only_the_car(target, variables, start, end):  # knows the dashboards' one variable
    return request(target, {"${__from}": str(int(start.timestamp() * 1000)),
                            "${__to}": str(int(end.timestamp() * 1000)), "${car}": variables["car"]})


def only_the_variables(target, variables, start, end):  # drops what has no variable (bucket=10000)
    full = solution.request_for(target, variables, start, end)
    kept = [p for p in target["url_options"]["params"] if "${" in p["value"]]
    return solution.request_for({**target, "url_options": {"params": kept}}, variables, start, end) if kept else full


def whole_address(target, variables, start, end):
    return "http://localhost:8000" + solution.request_for(target, variables, start, end)


def params_only(target, variables, start, end):
    return dict(parse_qsl(urlsplit(solution.request_for(target, variables, start, end)).query))


@pytest.mark.parametrize("student, words", [
    (in_seconds, "seconds since 1970"),
    (wall_clock_as_utc, "+2 h off"),
    (milliseconds_dropped, "milliseconds were dropped"),
    (as_float, "a whole number of milliseconds"),
    (as_iso_text, "epoch milliseconds"),
    (swapped, "swapped"),
    (only_the_car, "${region}"),
    (only_the_variables, "the parameter bucket is missing"),
    (whole_address, "the path and its query only"),
    (params_only, "a string"),
    (lambda target, variables, start, end: "/series/speed", "the path is"),  # a constant
    (lambda target, variables, start, end: None, "returned None"),
])
def test_mistakes_are_named(capsys, student, words):
    assert_rejected(capsys, nb08.request_for(student), words, exercise="08.1", no_traceback=True)


def test_the_untouched_stub_is_not_attempted(capsys):
    def request_for(target, variables, start, end):
        raise NotImplementedError

    assert nb08.request_for(request_for) is False
    assert "not attempted" in capsys.readouterr().out


def with_the_labs_panel_url(target, variables, start, end):
    from labkit.contract import to_ms
    from labkit.observe import dashboards

    return dashboards.panel_url(target, variables, to_ms(start), to_ms(end))


def test_the_lab_s_own_panel_url_is_not_an_answer(capsys):
    assert_rejected(capsys, nb08.request_for(with_the_labs_panel_url), "your function calls panel_url", exercise="08.1")


def utc_then_naive(target, variables, start, end):  # right only on a machine whose local time is UTC
    from datetime import timezone

    utc = [t.astimezone(timezone.utc).replace(tzinfo=None) for t in (start, end)]
    return with_range(target, variables, *(str(int(t.timestamp() * 1000)) for t in utc))


def test_an_answer_that_depends_on_the_machine_s_zone_is_found_out(capsys, monkeypatch):
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert_rejected(capsys, nb08.request_for(utc_then_naive), "your answer depends on the machine's zone",
                        exercise="08.1")
        assert nb08.request_for(solution.request_for)
    finally:
        monkeypatch.undo()
        time.tzset()
