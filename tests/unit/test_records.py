import datetime as dt
import json
import sys
import types

import pytest

from labkit.teach import records


@pytest.fixture
def shown(monkeypatch):
    """A fake `IPython.display.display` that keeps what it was given."""
    calls = []
    fake_ipython = types.ModuleType("IPython")
    fake_display = types.ModuleType("IPython.display")
    fake_display.display = lambda *objs, **kwargs: calls.append((objs, kwargs))
    fake_ipython.display = fake_display
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", fake_display)
    return calls


def test_record_displays_one_raw_bundle(shown):
    values = records.record(a=1, b=2)
    assert values == {"a": 1, "b": 2}
    assert shown == [((
        {records.MIME: {"values": {"a": 1, "b": 2}},
         "text/plain": "This run's numbers: a=1, b=2"},
    ), {"raw": True})]


def test_recorded_bundle_is_json(shown):
    records.record(name="CAR_001", speeds=(1.5, 2), when=dt.datetime(2024, 5, 1, 12, 30))
    (bundle,), _ = shown[0]
    assert json.loads(json.dumps(bundle)) == bundle
    assert bundle["text/plain"] == ('This run\'s numbers: name="CAR_001", '
                                    'speeds=[1.5, 2], when="2024-05-01T12:30:00"')


def test_record_without_ipython_prints_the_text(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "IPython.display", None)  # import fails
    assert records.record(a=1) == {"a": 1}
    assert capsys.readouterr().out.strip() == "This run's numbers: a=1"


def test_record_needs_values(shown):
    with pytest.raises(TypeError):
        records.record()
    assert shown == []


def test_a_value_that_cannot_be_recorded_names_its_key_and_shows_nothing(shown):
    with pytest.raises(TypeError, match=r"cannot record cars\['x'\]\[1\]: a set"):
        records.record(ok=1, cars={"x": [1, {2}]})
    with pytest.raises(TypeError, match="lag: a timedelta"):
        records.record(lag=dt.timedelta(seconds=3))
    with pytest.raises(TypeError, match="thing: a object"):
        records.record(thing=object())
    assert shown == []


def test_jsonable_numpy_and_pandas_scalars():
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    converted = records.jsonable({
        "n": np.int64(7), "x": np.float32(0.5), "ok": np.bool_(True),
        "ts": pd.Timestamp("2024-05-01 12:30:00"), "utc": pd.Timestamp("2024-05-01", tz="UTC"),
        "nat": pd.NaT, "na": pd.NA, "nan": float("nan"), "inf": np.float64("inf"),
        "d64": np.datetime64("2024-05-01T12:30:00"),
    })
    assert converted == {
        "n": 7, "x": 0.5, "ok": True,
        "ts": "2024-05-01T12:30:00", "utc": "2024-05-01T00:00:00+00:00",
        "nat": None, "na": None, "nan": None, "inf": None,
        "d64": "2024-05-01T12:30:00",
    }
    assert type(converted["n"]) is int and type(converted["x"]) is float
    assert type(converted["ok"]) is bool


def test_jsonable_containers():
    np = pytest.importorskip("numpy")
    value = {"pair": (1, 2), 3: {"inner": (np.int64(4), [dt.date(2024, 5, 1)])}, "s": "x"}
    assert records.jsonable(value) == {
        "pair": [1, 2], "3": {"inner": [4, ["2024-05-01"]]}, "s": "x",
    }


def test_jsonable_rejects_keys_that_collide():
    with pytest.raises(TypeError, match="both become '1'"):
        records.jsonable({1: "a", "1": "b"}, path="m")


def _output(data, output_type="display_data"):
    out = {"output_type": output_type, "data": data, "metadata": {}}
    if output_type == "execute_result":
        out["execution_count"] = 1
    return out


def _notebook():
    return {
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [
            {"id": "c0", "cell_type": "markdown", "metadata": {}, "source": "# title"},
            {"id": "c1", "cell_type": "code", "metadata": {}, "source": "record(a=1, b=2)", "execution_count": 1,
             "outputs": [
                 {"output_type": "stream", "name": "stdout", "text": "hello\n"},
                 _output({records.MIME: {"values": {"a": 1, "b": 2}},
                          "text/plain": "This run's numbers: a=1, b=2"}),
                 _output({"text/plain": "42"}, "execute_result"),
             ]},
            {"id": "c2", "cell_type": "code", "metadata": {}, "source": "record(b=3, c=[1])", "execution_count": 2,
             "outputs": [
                 _output({"image/png": "iVBOR..."}),
                 {"output_type": "error", "ename": "E", "evalue": "", "traceback": []},
                 _output({records.MIME: {"values": {"b": 3, "c": [1]}}, "text/plain": "..."}),
             ]},
        ],
    }


def test_read_merges_records_in_cell_order():
    assert records.read(_notebook()) == {"a": 1, "b": 3, "c": [1]}


def test_read_an_nbformat_notebook_node():
    nbformat = pytest.importorskip("nbformat")
    node = nbformat.reads(json.dumps(_notebook()), as_version=4)
    nbformat.validate(node)  # the hand-built notebook is a real one
    assert records.read(node) == {"a": 1, "b": 3, "c": [1]}


def test_read_a_notebook_without_records():
    assert records.read({"cells": []}) == {}
    assert records.read({"cells": [{"cell_type": "code", "source": "", "outputs": []}]}) == {}


def test_read_rejects_a_malformed_record():
    bad = {"cells": [{"cell_type": "code", "outputs": [_output({records.MIME: {"oops": 1}})]}]}
    with pytest.raises(ValueError, match="cell 0"):
        records.read(bad)


def test_what_record_displays_is_what_read_finds(shown):
    records.record(events=1200, max_speed=87.5)
    (bundle,), _ = shown[0]
    notebook = {"cells": [{"cell_type": "code", "outputs": [_output(bundle)]}]}
    assert records.read(notebook) == {"events": 1200, "max_speed": 87.5}
