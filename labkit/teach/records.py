"""Key numbers a notebook records, so tests can compare runs.

A notebook cell calls `record(events=1200, max_speed=87.5)`. That displays one output
carrying the values under the lab's own MIME type (plus a plain-text line for people),
so they are saved in the executed notebook. A test later runs `read(notebook)` on the
executed notebook and gets `{"events": 1200, "max_speed": 87.5}` back.

- `record(**values) -> dict`   display the values (JSON-safe) and return them
- `read(notebook) -> dict`     every recorded value of an executed notebook, merged
- `jsonable(value) -> Any`     the JSON-safe conversion `record` applies
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import sys
from collections.abc import Mapping
from typing import Any

MIME = "application/vnd.telemetry-lab.records+json"


def record(**values: Any) -> dict[str, Any]:
    """Display `values` as a record output and return them converted to JSON-safe types.

    The output is one display bundle,
    `{MIME: {"values": {...}}, "text/plain": "This run's numbers: a=1, b=2"}`,
    shown with `IPython.display.display(bundle, raw=True)` (outside IPython, when it is
    not installed, the plain-text line is printed instead).

    Conversion (see `jsonable`) happens before anything is displayed: a value that
    cannot be recorded raises TypeError naming its key and nothing is shown.
    Raises TypeError when called with no values.
    """
    if not values:
        raise TypeError("record() needs at least one name=value, e.g. record(events=1200)")
    converted = {name: jsonable(value, path=name) for name, value in values.items()}
    shown = ", ".join(f"{name}={_plain(value)}" for name, value in converted.items())
    bundle = {MIME: {"values": converted}, "text/plain": f"This run's numbers: {shown}"}
    try:
        from IPython.display import display
    except ImportError:
        print(bundle["text/plain"])
    else:
        display(bundle, raw=True)
    return converted


def jsonable(value: Any, *, path: str = "value") -> Any:
    """`value` as plain JSON types: None, bool, int, float, str, list, dict with str keys.

    - numpy scalars become int/float/bool/str (via `.item()`); subclasses of int, float
      and str become the plain type; NaN and infinities become None (JSON has no
      spelling for them), as do pandas' NaT and NA.
    - datetimes, dates and times (pandas Timestamps included) become ISO 8601 strings;
      numpy datetime64 becomes its ISO string.
    - tuples and lists become lists; dict keys become strings (`3` -> `"3"`).

    Anything else (sets, timedeltas, arrays, DataFrames, objects) raises TypeError naming
    where it is, e.g. `cannot record speeds["car"][2]: a set`. Pure.
    """
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value).__name__ in ("NaTType", "NAType"):
        return None
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.generic):
        if isinstance(value, numpy.datetime64):
            return None if numpy.isnat(value) else str(value)
        if isinstance(value, numpy.timedelta64):
            raise TypeError(f"cannot record {path}: a numpy timedelta64 "
                            "(record a number, e.g. seconds)")
        return jsonable(value.item(), path=path)
    if isinstance(value, (list, tuple)):
        return [jsonable(item, path=f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = key if isinstance(key, str) else str(jsonable(key, path=f"{path} key {key!r}"))
            if name in out:
                raise TypeError(f"cannot record {path}: two keys both become {name!r}")
            out[name] = jsonable(item, path=f"{path}[{key!r}]")
        return out
    if isinstance(value, _dt.timedelta):
        raise TypeError(f"cannot record {path}: a timedelta (record .total_seconds() instead)")
    raise TypeError(f"cannot record {path}: a {type(value).__name__} "
                    "(record numbers, strings, True/False, None, dates, lists or dicts)")


def read(notebook: Mapping[str, Any]) -> dict[str, Any]:
    """Every value recorded in an executed notebook, merged in cell order.

    `notebook` is an nbformat NotebookNode or the plain dict loaded from the .ipynb
    JSON. Outputs (display_data or execute_result) carrying MIME are merged in the
    order they appear; a later record of the same name wins. Other outputs and
    non-code cells are ignored; a notebook that recorded nothing gives `{}`.
    Raises ValueError for a record output whose payload is not `{"values": {...}}`.
    Pure.
    """
    merged: dict[str, Any] = {}
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") not in ("display_data", "execute_result"):
                continue
            data = output.get("data") or {}
            if MIME not in data:
                continue
            payload = data[MIME]
            if isinstance(payload, str):  # some writers keep JSON payloads as text
                payload = json.loads(payload)
            values = payload.get("values") if isinstance(payload, Mapping) else None
            if not isinstance(values, Mapping):
                raise ValueError(f"cell {index}: a {MIME} output without a 'values' dict")
            merged.update(values)
    return merged


def _plain(value: Any) -> str:
    """A value for the plain-text line: whole when short; a long dict or list by its size (cut
    in the middle, JSON reads as broken); every value is whole in the record itself."""
    text = json.dumps(value, ensure_ascii=False)
    if len(text) <= 80:
        return text
    if isinstance(value, dict):
        return f"{{{len(value)} keys}}"
    if isinstance(value, list):
        return f"[{len(value)} items]"
    return text[:77] + "..."


__all__ = ["MIME", "record", "read", "jsonable"]
