"""Checks on what an executed notebook SHOWS, not merely that its cells ran.

A notebook can run green and still show a student an empty chart, a time axis stuck in
1970, an axis called "t", a red stderr box or a progress bar frozen at 0/1500. These
functions read an executed notebook (an `nbformat` NotebookNode or the plain JSON dict)
and return human-readable problems; an empty list means nothing puzzling was found.

Contract:

* Pure: no kernel, no services, no files; the inputs are never modified.
* `plotly_figures(nb)` -> `[(cell_index, figure_dict), ...]` for every output carrying
  `application/vnd.plotly.v1+json` (display_data or execute_result).
* `figure_problems(fig, window=None)` -> problems of one figure dict, each starting with
  `figure '<title>': `. Checked: it has traces and at least one is non-empty; it has a
  title; the cartesian axes it uses have meaningful titles (map, pie and other
  non-cartesian traces are exempt; a subplot figure may title a y axis with its subplot
  title instead); every datetime value is >= 2000-01-01 and, when `window=(start, end)`
  is given, inside it (naive datetimes count as UTC).
* `notebook_figure_problems(nb, window=None)` -> the same for every figure of a
  notebook, each prefixed `cell <index>: `.
* `output_problems(nb)` -> error outputs, stderr text, tracebacks or warnings in
  printed text, and ipywidgets outputs, each prefixed `cell <index>: `.

Cell indices count every cell (markdown too), as `nb.cells[index]` does. Numeric arrays
may be plotly>=6 typed arrays (`{"dtype": "f8", "bdata": "<base64>", "shape": "2, 3"}`);
they are decoded, never taken as empty.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

#: Axis titles that name a column, not a quantity: they tell a student nothing.
MEANINGLESS_TITLES = frozenset({"t", "x", "y", "value", "count", "index", "variable", "ms", "bucket"})

#: Telemetry in this lab is never older than this; earlier means a unit mistake (s vs ms).
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)

#: Trace keys that hold the data points; a trace with none of them filled draws nothing.
DATA_KEYS = ("x", "y", "z", "lat", "lon", "values", "labels", "r", "theta", "a", "b", "c",
             "locations", "open", "high", "low", "close", "dimensions", "cells")

#: Trace keys whose values may be times.
TIME_KEYS = ("x", "y", "z")

#: Trace types drawn on x/y axes. Any trace naming `xaxis`/`yaxis` is cartesian as well.
CARTESIAN_TYPES = frozenset({"scatter", "scattergl", "bar", "histogram", "histogram2d", "histogram2dcontour",
                             "box", "violin", "heatmap", "contour", "candlestick", "ohlc", "waterfall",
                             "funnel", "image"})

_NULL_STRINGS = frozenset({"", "NaT", "nan", "NaN", "None", "null"})
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")
_WARNING = re.compile(r"\b\w*Warning:")
_TRACEBACK = "Traceback (most recent call last)"
_SNIPPET = 120


# --- notebooks ------------------------------------------------------------------------

def _cells(nb: Mapping) -> list:
    return list(nb.get("cells", []))


def _outputs(nb: Mapping) -> Iterator[tuple[int, Mapping]]:
    for index, cell in enumerate(_cells(nb)):
        for output in cell.get("outputs", None) or []:
            yield index, output


def _text(value: Any) -> str:
    # Raw .ipynb JSON may split multi-line text into a list of lines.
    if value is None:
        return ""
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return str(value)


def plotly_figures(nb: Mapping) -> list[tuple[int, dict]]:
    """(cell index, figure dict) for every plotly output, in notebook order."""
    found = []
    for index, output in _outputs(nb):
        if output.get("output_type") not in ("display_data", "execute_result"):
            continue
        fig = (output.get("data") or {}).get(PLOTLY_MIME)
        if fig is None:
            continue
        if isinstance(fig, (str, list)):  # stored as JSON text by some writers
            fig = json.loads(_text(fig))
        found.append((index, fig))
    return found


def notebook_figure_problems(nb: Mapping, window: tuple[datetime, datetime] | None = None) -> list[str]:
    """`figure_problems` for every figure of the notebook, prefixed with its cell index."""
    return [f"cell {index}: {problem}"
            for index, fig in plotly_figures(nb)
            for problem in figure_problems(fig, window)]


def _marked_line(text: str) -> str:
    # Show the line that makes the point: the warning itself, or a traceback's last line
    # (the exception), not whatever happened to come first.
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if _TRACEBACK in text:
        return lines[-1][:_SNIPPET]
    return next((line for line in lines if _WARNING.search(line)), text.strip())[:_SNIPPET]


def _alarm(text: str) -> str | None:
    if _TRACEBACK in text:
        return "a traceback"
    if _WARNING.search(text):
        return "a warning"
    return None


def output_problems(nb: Mapping) -> list[str]:
    """Outputs a student would be puzzled by, each prefixed with its cell index."""
    problems = []
    for index, output in _outputs(nb):
        kind = output.get("output_type")
        data = output.get("data") or {}
        if kind == "error":
            problems.append(f"cell {index}: raised {output.get('ename', 'an error')}: "
                            f"{_text(output.get('evalue')).strip()[:_SNIPPET]}")
        elif kind == "stream":
            text = _text(output.get("text"))
            alarm = _alarm(text)
            if output.get("name") == "stderr":
                # Jupyter paints stderr red: even a harmless log line looks like a failure.
                if text.strip():
                    problems.append(f"cell {index}: {alarm or 'text'} on stderr: {text.strip()[:_SNIPPET]!r}")
            elif alarm:
                problems.append(f"cell {index}: {alarm} in printed output: {_marked_line(text)!r}")
        if WIDGET_MIME in data:
            # The executed copy has no live kernel: a tqdm/ipywidgets bar stays frozen at
            # whatever it showed first (often 0/N), which reads as "it never ran".
            frozen = _text(data.get("text/plain")).strip()[:_SNIPPET]
            shown = f" (shows {frozen!r})" if frozen else ""
            problems.append(f"cell {index}: ipywidgets output{shown} is frozen in an executed copy; "
                            "print a plain text progress line instead")
        elif "text/plain" in data:
            text = _text(data["text/plain"])
            alarm = _alarm(text)
            if alarm:
                problems.append(f"cell {index}: {alarm} in displayed text: {_marked_line(text)!r}")
    return problems


# --- figures --------------------------------------------------------------------------

def decode_array(value: Any) -> list | np.ndarray:
    """A trace array as a flat sequence: plain lists as they are, typed arrays decoded."""
    if isinstance(value, Mapping) and "bdata" in value:
        # plotly>=6 sends numpy arrays as little-endian base64 buffers (what plotly.js reads).
        dtype = np.dtype(str(value.get("dtype", "f8"))).newbyteorder("<")
        return np.frombuffer(base64.b64decode(value["bdata"] or ""), dtype=dtype)  # shape-free: flat is enough
    if isinstance(value, (list, tuple, np.ndarray)):
        return value
    return []


def _drawn(trace: Mapping) -> bool:
    """Does the trace draw anything: data points, or (an indicator: a stat panel's big number) a value?"""
    if trace.get("type") == "indicator":
        return isinstance(trace.get("value"), (int, float))
    return max((_size(trace.get(key)) for key in DATA_KEYS), default=0) > 0


def _size(value: Any) -> int:
    if isinstance(value, Mapping) and "values" in value:  # table cells: {"values": [...]}
        return _size(value["values"])
    return len(decode_array(value))


def _title_text(title: Any) -> str:
    # Old-style layouts store a bare string; current ones a {"text": ...} dict.
    if isinstance(title, Mapping):
        title = title.get("text")
    return "" if title is None else str(title).strip()


def _is_meaningless(title: str) -> bool:
    return title.strip().lower() in MEANINGLESS_TITLES


def _is_cartesian(trace: Mapping) -> bool:
    return "xaxis" in trace or "yaxis" in trace or trace.get("type", "scatter") in CARTESIAN_TYPES


def _axis_key(ref: str) -> str:
    """Trace reference to layout key: "x" -> "xaxis", "y2" -> "yaxis2"."""
    return f"{ref[0]}axis{ref[1:]}"


def _trace_label(index: int, trace: Mapping) -> str:
    name = str(trace.get("name") or "").strip()
    return f"trace {index} {name!r}" if name else f"trace {index}"


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _parse_time(text: str) -> datetime | None:
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        return _as_utc(datetime.fromisoformat(text))
    except ValueError:
        pass
    try:  # pandas writes nanoseconds; keep the microseconds Python understands
        return _as_utc(datetime.fromisoformat(_LONG_FRACTION.sub(r"\1", text)))
    except ValueError:
        return None


def _from_epoch_ms(number: float) -> datetime | None:
    # A plotly date axis reads numbers as milliseconds since 1970.
    if not math.isfinite(number):
        return None
    try:
        return _EPOCH + timedelta(milliseconds=number)
    except OverflowError:
        return None


def _times(values: Any, date_axis: bool) -> list[tuple[Any, datetime]] | None:
    """(raw value, UTC time) for each value, or None when the array does not hold times."""
    values = decode_array(values)
    if isinstance(values, np.ndarray):
        if not date_axis or values.dtype.kind not in "iuf":
            return None
        return [(v, t) for v in values.tolist() if (t := _from_epoch_ms(v)) is not None]
    present = [v for v in values if v is not None and not (isinstance(v, str) and v.strip() in _NULL_STRINGS)]
    if not present:
        return None
    if all(isinstance(v, str) for v in present):
        parsed = [(v, _parse_time(v)) for v in present]
        if date_axis:
            return [(v, t) for v, t in parsed if t is not None]
        # Without a date axis, strings count as times only if all of them are (not "3", "b").
        return parsed if all(t is not None for _, t in parsed) else None
    if date_axis:
        numbers = [v for v in present if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return [(v, t) for v in numbers if (t := _from_epoch_ms(v)) is not None]
    return None


def _show(raw: Any, moment: datetime) -> str:
    if isinstance(raw, str):
        return raw
    return f"{raw} ({moment.replace(tzinfo=None).isoformat()})"


def _time_problems(traces: list, layout: Mapping, window: tuple[datetime, datetime] | None) -> list[str]:
    if window is not None:
        start, end = (_as_utc(w) for w in window)
    problems = []
    for index, trace in enumerate(traces):
        cartesian = _is_cartesian(trace)
        for key in TIME_KEYS:
            if key not in trace:
                continue
            date_axis = False
            if cartesian and key in ("x", "y"):
                axis = layout.get(_axis_key(str(trace.get(f"{key}axis", key)))) or {}
                date_axis = axis.get("type") == "date"
            times = _times(trace[key], date_axis)
            if not times:
                continue
            label = _trace_label(index, trace)
            early = next(((raw, t) for raw, t in times if t < EARLIEST), None)
            if early:
                problems.append(f"{label}: {key} value {_show(*early)} is before 2000 "
                                "(seconds read as milliseconds, or a missing time?)")
                continue
            if window is not None:
                outside = next(((raw, t) for raw, t in times if not start <= t <= end), None)
                if outside:
                    problems.append(f"{label}: {key} value {_show(*outside)} is outside the window "
                                    f"{start.isoformat()} .. {end.isoformat()}")
    return problems


def _subplot_titled(annotations: list, x_domain: list, y_domain: list) -> bool:
    """Whether a make_subplots-style title sits just above the subplot with these domains."""
    for note in annotations:
        if note.get("xref", "paper") != "paper" or note.get("yref", "paper") != "paper":
            continue
        text = _title_text(note.get("text"))
        x, y = note.get("x"), note.get("y")
        if not text or _is_meaningless(text) or not isinstance(x, (int, float)) or not isinstance(y, (int, float)):
            continue
        if x_domain[0] - 0.01 <= x <= x_domain[1] + 0.01 and y_domain[1] - 0.02 <= y <= y_domain[1] + 0.2:
            return True
    return False


def _axis_problems(traces: list, layout: Mapping) -> list[str]:
    pairs = sorted({(str(t.get("xaxis", "x")), str(t.get("yaxis", "y"))) for t in traces if _is_cartesian(t)})
    if not pairs:
        return []  # maps, pies, ...: nothing on x/y axes to name
    x_refs = sorted({x for x, _ in pairs})
    y_refs = sorted({y for _, y in pairs})
    subplots = len(x_refs) > 1 or len(y_refs) > 1

    def axis(ref: str) -> Mapping:
        return layout.get(_axis_key(ref)) or {}

    def domain(ref: str) -> list:
        # An overlaying axis (secondary y) shares the domain of the axis it overlays.
        spec = axis(ref)
        if spec.get("overlaying"):
            spec = axis(str(spec["overlaying"]))
        return list(spec.get("domain") or [0.0, 1.0])

    problems = []
    annotations = list(layout.get("annotations") or [])
    for ref in x_refs + y_refs:
        name = _axis_key(ref)
        title = _title_text(axis(ref).get("title"))
        if title:
            if _is_meaningless(title):
                problems.append(f"{name} title {title!r} says nothing: name the quantity (and unit)")
            continue
        if not subplots:
            problems.append(f"{name} has no title")
        elif ref.startswith("y"):
            # make_subplots titles each panel with an annotation; that names its y values too.
            panels = [(x, y) for x, y in pairs if y == ref]
            if not any(_subplot_titled(annotations, domain(x), domain(y)) for x, y in panels):
                problems.append(f"{name} has no title and its subplot has no subplot title")
    return problems


def figure_problems(fig: Mapping, window: tuple[datetime, datetime] | None = None) -> list[str]:
    """Problems of one plotly figure dict; empty when it reads fine. See the module doc."""
    traces = list(fig.get("data") or [])
    layout = fig.get("layout") or {}
    title = _title_text(layout.get("title"))
    where = f"figure {title!r}" if title else "figure (untitled)"

    problems = []
    if not traces:
        problems.append("has no traces")
    elif not any(_drawn(trace) for trace in traces):
        problems.append("has only empty traces: nothing is drawn")
    if not title:
        problems.append("has no title")
    problems += _axis_problems(traces, layout)
    problems += _time_problems(traces, layout, window)
    return [f"{where}: {p}" for p in problems]
