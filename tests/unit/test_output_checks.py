"""The notebook output checks, on real plotly figures serialised as a notebook stores them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import nbformat
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tests.notebooks.output_checks import decode_array, figure_problems, notebook_figure_problems, output_problems, plotly_figures

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def as_output(fig: go.Figure) -> dict:
    """The figure as an executed notebook holds it (what papermill writes)."""
    return json.loads(fig.to_json())


def notebook(*outputs: dict, leading_markdown: bool = False) -> dict:
    cells = [{"cell_type": "markdown", "source": "# intro", "metadata": {}}] if leading_markdown else []
    cells += [{"cell_type": "code", "source": "", "metadata": {}, "execution_count": 1, "outputs": [out]}
              for out in outputs]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def display(fig: go.Figure, output_type: str = "display_data") -> dict:
    out = {"output_type": output_type, "data": {"application/vnd.plotly.v1+json": as_output(fig)}, "metadata": {}}
    if output_type == "execute_result":
        out["execution_count"] = 1
    return out


def speed_frame(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame({"time": pd.date_range(T0, periods=n, freq="10s"), "speed": [50.0 + i for i in range(n)]})


def good_line() -> go.Figure:
    return px.line(speed_frame(), x="time", y="speed", title="Speed of car-01",
                   labels={"time": "time (UTC)", "speed": "speed (km/h)"})


# --- figures -----------------------------------------------------------------------------

def test_good_time_series_passes():
    fig = as_output(good_line())
    assert figure_problems(fig) == []
    assert figure_problems(fig, window=(T0, T0 + timedelta(minutes=5))) == []


def test_seconds_read_as_milliseconds_land_in_1970_and_fail():
    seconds = pd.Series([int((T0 + timedelta(seconds=10 * i)).timestamp()) for i in range(3)])
    per_bucket = pd.DataFrame({"bucket": pd.to_datetime(seconds, unit="ms"), "anomalies": [3, 1, 2]})
    fig = px.bar(per_bucket, x="bucket", y="anomalies", title="Anomalies per 10 seconds",
                 labels={"bucket": "time (UTC)", "anomalies": "anomalies"})
    problems = figure_problems(as_output(fig))
    assert len(problems) == 1, problems
    assert problems[0].startswith("figure 'Anomalies per 10 seconds': trace 0: x value 1970-01-20T")
    assert "before 2000" in problems[0]


def test_numbers_on_a_date_axis_are_milliseconds():
    fig = go.Figure(go.Bar(x=[1_714_564_800, 1_714_564_810], y=[1, 2], name="speeding"))
    fig.update_layout(title="Anomalies", xaxis_title="time (UTC)", yaxis_title="anomalies", xaxis_type="date")
    problems = figure_problems(as_output(fig))
    assert problems == ["figure 'Anomalies': trace 0 'speeding': x value 1714564800 (1970-01-20T20:16:04.800000) "
                        "is before 2000 (seconds read as milliseconds, or a missing time?)"]


def test_empty_figure_fails():
    empty = pd.DataFrame({"time": pd.Series(dtype="datetime64[ns, UTC]"), "anomalies": pd.Series(dtype="int64")})
    fig = px.bar(empty, x="time", y="anomalies", title="Anomalies", labels={"time": "time (UTC)"})
    assert figure_problems(as_output(fig)) == ["figure 'Anomalies': has only empty traces: nothing is drawn"]
    assert figure_problems(as_output(go.Figure(layout={"title": "Nothing"}))) == ["figure 'Nothing': has no traces"]


def test_untitled_figure_fails():
    fig = px.line(speed_frame(), x="time", y="speed", labels={"time": "time (UTC)", "speed": "speed (km/h)"})
    assert figure_problems(as_output(fig)) == ["figure (untitled): has no title"]


def test_meaningless_axis_titles_fail():
    frame = speed_frame().rename(columns={"time": "t"})
    problems = figure_problems(as_output(px.line(frame, x="t", y="speed", title="Speed")))
    assert problems == ["figure 'Speed': xaxis title 't' says nothing: name the quantity (and unit)"]

    wide = frame.assign(low=frame.speed - 5)
    problems = figure_problems(as_output(px.line(wide, x="t", y=["speed", "low"], title="Speed",
                                                 labels={"t": "time (UTC)"})))
    assert problems == ["figure 'Speed': yaxis title 'value' says nothing: name the quantity (and unit)"]


def test_missing_axis_title_fails_even_for_categorical_bars():
    fig = go.Figure(go.Bar(x=["0", "1", "2"], y=[10, 12, 9]))
    fig.update_layout(title="Where the batch landed", yaxis_title="messages")
    assert figure_problems(as_output(fig)) == ["figure 'Where the batch landed': xaxis has no title"]


def test_window_excludes_values_outside_it():
    fig = as_output(good_line())
    problems = figure_problems(fig, window=(T0 + timedelta(seconds=15), T0 + timedelta(minutes=5)))
    assert len(problems) == 1, problems
    assert "trace 0: x value 2024-05-01T12:00:00" in problems[0]
    assert "outside the window 2024-05-01T12:00:15+00:00 .. 2024-05-01T12:05:00+00:00" in problems[0]
    # Naive window bounds are read as UTC.
    assert figure_problems(fig, window=(datetime(2024, 5, 1, 12), datetime(2024, 5, 1, 13))) == []


def test_typed_array_traces_are_decoded_and_counted():
    fig = as_output(px.line(x=[1, 2, 3], y=[4.5, 5.5, 6.5], title="Three points",
                            labels={"x": "second", "y": "speed (km/h)"}))
    trace = fig["data"][0]
    assert isinstance(trace["y"], dict) and "bdata" in trace["y"], "plotly should send a typed array"
    assert list(decode_array(trace["x"])) == [1, 2, 3]
    assert list(decode_array(trace["y"])) == [4.5, 5.5, 6.5]
    assert figure_problems(fig) == []


def test_map_figure_needs_no_axis_titles():
    fig = px.scatter_map(lat=[52.52, 52.53, 52.54], lon=[13.40, 13.41, 13.42], title="car-01 through Berlin")
    assert figure_problems(as_output(fig)) == []


def test_subplot_titles_name_the_panels():
    panels = ["speed (km/h)", "rpm"]
    frame = speed_frame().assign(rpm=2000)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, subplot_titles=panels)
    fig.add_scatter(x=frame["time"], y=frame["speed"], name="speed", row=1, col=1)
    fig.add_scatter(x=frame["time"], y=frame["rpm"], name="rpm", row=2, col=1)
    fig.update_layout(title="What the car's sensors report")
    assert figure_problems(as_output(fig)) == []

    bare = make_subplots(rows=2, cols=1)
    bare.add_scatter(x=frame["time"], y=frame["speed"], row=1, col=1)
    bare.add_scatter(x=frame["time"], y=frame["rpm"], row=2, col=1)
    bare.update_layout(title="Sensors", yaxis_title="speed (km/h)")
    assert figure_problems(as_output(bare)) == [
        "figure 'Sensors': yaxis2 has no title and its subplot has no subplot title"]


def test_plotly_figures_and_cell_prefixes():
    bad = px.line(speed_frame(), x="time", y="speed", labels={"time": "time (UTC)", "speed": "speed (km/h)"})
    nb = notebook(display(good_line()), {"output_type": "stream", "name": "stdout", "text": "hello\n"},
                  display(bad, "execute_result"), leading_markdown=True)
    node = nbformat.from_dict(nb)
    found = plotly_figures(node)
    assert [index for index, _ in found] == [1, 3]
    assert found[0][1]["layout"]["title"]["text"] == "Speed of car-01"
    assert notebook_figure_problems(node) == ["cell 3: figure (untitled): has no title"]


# --- other outputs -----------------------------------------------------------------------

def test_output_problems_finds_what_puzzles_students():
    nb = notebook(
        {"output_type": "error", "ename": "KeyError", "evalue": "'speed'", "traceback": []},
        {"output_type": "stream", "name": "stderr", "text": ["INFO connecting to kafka\n", "done\n"]},
        {"output_type": "stream", "name": "stdout",
         "text": "loaded 10 rows\n/x.py:3: UserWarning: Boolean Series key will be reindexed\n"},
        {"output_type": "display_data", "metadata": {},
         "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2},
                  "text/plain": "  0%|          | 0/1500 [00:00<?, ?it/s]"}},
        {"output_type": "execute_result", "execution_count": 1, "metadata": {},
         "data": {"text/plain": "Traceback (most recent call last):\n  File ...\nValueError: bad\n"}},
    )
    problems = output_problems(nbformat.from_dict(nb))
    assert problems[0] == "cell 0: raised KeyError: 'speed'"
    assert problems[1] == "cell 1: text on stderr: 'INFO connecting to kafka\\ndone'"
    assert problems[2] == ("cell 2: a warning in printed output: "
                           "'/x.py:3: UserWarning: Boolean Series key will be reindexed'")
    assert problems[3].startswith("cell 3: ipywidgets output (shows '0%|          | 0/1500")
    assert "plain text progress line" in problems[3]
    assert problems[4] == "cell 4: a traceback in displayed text: 'ValueError: bad'"
    assert len(problems) == 5


def test_stderr_is_cut_to_120_characters():
    nb = notebook({"output_type": "stream", "name": "stderr", "text": "x" * 500})
    [problem] = output_problems(nb)
    assert problem == f"cell 0: text on stderr: {'x' * 120!r}"


def test_clean_outputs_give_no_problems():
    nb = notebook(
        {"output_type": "stream", "name": "stdout", "text": "loaded 1,500 readings\n"},
        {"output_type": "stream", "name": "stderr", "text": "  \n"},
        {"output_type": "execute_result", "execution_count": 1, "metadata": {},
         "data": {"text/plain": "   speed\n0   50.0", "text/html": "<table></table>"}},
        display(good_line()),
    )
    assert output_problems(nbformat.from_dict(nb)) == []
    assert output_problems({"cells": []}) == []
