"""Exercise checks for the notebooks: they say plainly whether an answer is right, and
when it is not, what is wrong with it (never what the right answer is).

Nothing here raises, whatever the student wrote (or did not write yet): an unattempted
exercise (`None`, or a stub that raises NotImplementedError) is reported as such, so
"Run all" keeps going. Solutions live in `labkit.teach.solutions` and the tests run them
through these same checks.

- `attempt(func, *args)`          call a student's function; None if not attempted
- `check(name, answer, expected)` ✔ / ✘ / ⏳, with what is wrong; hints on request
- `hint(name)`                    print the hint a check registered under that name
- `predict(name, guess, actual)`  predict-then-run cells
- `describe_difference(a, e)`     the one-line "what is wrong" that `check` prints
- `same(a, e)`                    the comparison `check` uses (floats with a tolerance)
"""

from __future__ import annotations

import math
import numbers
import os
import reprlib
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import Any

# Floats that differ by rounding noise count as equal: 0.1 + 0.2 == 0.3 here.
REL_TOL = 1e-9
ABS_TOL = 1e-12

# Hints registered by `check(..., hint=...)`, keyed by exercise name; read by `hint()`.
HINTS: dict[str, str] = {}

_LABKIT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # labkit/, above teach/


# --------------------------------------------------------------------------- attempts


def attempt(func: Callable[..., Any], *args, **kwargs) -> Any:
    """Call a student's function; a NotImplementedError means "not attempted" (None).

    Any other exception is caught and returned wrapped in a failure object, which
    `check` reports (type, message and the line that raised) instead of stopping the
    notebook.
    """
    try:
        return func(*args, **kwargs)
    except NotImplementedError:
        return None
    except Exception as exc:  # a bug in the attempt: report it, do not stop the notebook
        return _Failed(exc)


class _Failed:
    def __init__(self, exc: Exception):
        self.exc = exc

    def __repr__(self) -> str:
        return f"{type(self.exc).__name__}: {_safe_str(self.exc)}"


def _failure_report(failed: _Failed) -> str:
    """`ZeroDivisionError: division by zero`, then where the student's code raised."""
    text = repr(failed)
    frame = _student_frame(failed.exc)
    if frame is not None:
        where = f"{frame.filename}:{frame.lineno}"
        line = (frame.line or "").strip()
        text += f"\n   at {where}" + (f":  {_clip(line, 100)}" if line else "")
    return text


def _student_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The innermost traceback frame in the student's code (not labkit, not libraries).

    Falls back to the innermost frame outside this module when every frame is library
    code (e.g. a student's bad argument blew up inside pandas with no frame of theirs).
    """
    try:
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if os.path.abspath(f.filename) != os.path.abspath(__file__)]
    except Exception:
        return None
    if not frames:
        return None
    for frame in reversed(frames):
        if not _is_library_file(frame.filename):
            return frame
    return frames[-1]


def _is_library_file(filename: str) -> bool:
    path = os.path.abspath(filename)
    if path.startswith(_LABKIT_DIR + os.sep):
        return True
    if "site-packages" in path or "dist-packages" in path:
        return True
    stdlib = os.path.dirname(os.__file__)
    return path.startswith(stdlib + os.sep)


def _find_failure(answer: Any) -> _Failed | None:
    """A failure object at the top level or one level inside a list, tuple or dict."""
    if isinstance(answer, _Failed):
        return answer
    if isinstance(answer, (list, tuple)):
        items = answer
    elif isinstance(answer, dict):
        items = list(answer.values())
    else:
        return None
    return next((item for item in items if isinstance(item, _Failed)), None)


# --------------------------------------------------------------------------- checks


def check(name: str, answer: Any, expected: Any, hint: str = "") -> bool:
    """Print ✔ / ✘ / ⏳ for `answer` against `expected` and return True only when right.

    - `None` is "not attempted yet" (⏳).
    - A failure object from `attempt` is reported as the exception and the line that
      raised it (✘).
    - Otherwise answers are compared with `same` (floats within a small tolerance, also
      inside lists and dicts); a wrong answer prints what is wrong
      (`describe_difference`), never the expected value.
    - A `hint` is stored under `name` for `hint(name)`; a wrong answer points to it.

    Never raises, whatever `answer` is.
    """
    try:
        if hint:
            HINTS[str(name)] = str(hint)
        if answer is None:
            print(f"⏳ {name}: not attempted yet.")
            return False
        failure = _find_failure(answer)
        if failure is not None:
            print(f"✘ {name}: your code raised {_failure_report(failure)}")
        elif same(answer, expected):
            print(f"✔ {name}: correct!")
            return True
        else:
            print(f"✘ {name}: {describe_difference(answer, expected)}")
    except Exception as exc:  # a check must never stop the notebook
        print(f"✘ {name}: your answer could not be checked ({type(exc).__name__}).")
    if hint or str(name) in HINTS:
        print(f'Need a hint? Run exercises.hint("{name}")')
    return False


def hint(name: str) -> None:
    """Print the hint registered for exercise `name` (by a `check(..., hint=...)` call).

    An unknown name prints the names that do have hints. A unique prefix is enough
    (`hint("01.3")` finds "01.3 stopped share"). Never raises.
    """
    try:
        key = str(name)
        if key not in HINTS:
            matches = [known for known in HINTS if known.startswith(key)]
            if len(matches) == 1:
                key = matches[0]
        if key in HINTS:
            print(f"💡 {key}: {HINTS[key]}")
            return
        if HINTS:
            known = ", ".join(repr(k) for k in sorted(HINTS))
            print(f"No hint for {key!r}. Exercises with hints: {known}.")
        else:
            print(f"No hint for {key!r}: no exercise has registered a hint yet "
                  "(run the exercise's check cell first).")
    except Exception as exc:
        print(f"No hint available ({type(exc).__name__}).")


def predict(name: str, guess: Any, actual: Any, *, tolerance: float = 0.0, why: str = "") -> bool:
    """Predict-then-run: compare the student's `guess` with what the code produced.

    `guess` left as `...` (or None) prints a reminder to predict first, without showing
    `actual`, and returns False. Otherwise numbers match when within `tolerance`
    (absolute; float rounding noise always counts as a match) and anything else by `==`;
    prints "you predicted X, and it is Y" (✔) or "you predicted X; it is Y" (✘), then
    `why` when given. Returns True on a match. Never raises.
    """
    try:
        if guess is Ellipsis or guess is None:
            print(f"⏳ {name}: write your prediction first (replace the ...), "
                  "then run this cell again.")
            return False
        right = _predicted(guess, actual, tolerance)
        if right:
            print(f"✔ {name}: you predicted {_show(guess)}, and it is {_show(actual)}.")
        else:
            print(f"✘ {name}: you predicted {_show(guess)}; it is {_show(actual)}.")
        if why:
            print(f"Why: {why}")
        return right
    except Exception as exc:
        print(f"✘ {name}: your prediction could not be compared ({type(exc).__name__}).")
        return False


def _predicted(guess: Any, actual: Any, tolerance: Any) -> bool:
    if _is_number(guess) and _is_number(actual):
        try:
            g, a = float(guess), float(actual)
            return abs(g - a) <= abs(float(tolerance or 0.0)) or _close(guess, actual)
        except (OverflowError, TypeError, ValueError):
            return _safe_eq(guess, actual)
    if _is_bool(guess) and _is_bool(actual):
        return bool(guess) == bool(actual)
    return _safe_eq(guess, actual)


# --------------------------------------------------------------------------- comparing


def same(answer: Any, expected: Any) -> bool:
    """True when `answer` is right: `==`, except that numbers match within a small
    tolerance (REL_TOL, ABS_TOL), also inside dicts, lists and tuples; True/False only
    match booleans; NaN matches NaN. Never raises (anything uncomparable is False).
    """
    try:
        return _same(answer, expected)
    except Exception:  # including RecursionError on self-containing lists
        return False


def _same(answer: Any, expected: Any) -> bool:
    if _is_bool(answer) or _is_bool(expected):
        return _is_bool(answer) and _is_bool(expected) and bool(answer) == bool(expected)
    if _is_number(answer) and _is_number(expected):
        return _close(answer, expected)
    if isinstance(expected, Mapping) and isinstance(answer, Mapping):
        if set(answer.keys()) != set(expected.keys()):
            return False
        return all(_same(answer[k], expected[k]) for k in expected)
    if isinstance(expected, (list, tuple)) and isinstance(answer, (list, tuple)):
        if _kind(answer) != _kind(expected) or len(answer) != len(expected):
            return False
        return all(_same(a, e) for a, e in zip(answer, expected))
    return _safe_eq(answer, expected)


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, numbers.Integral) and isinstance(b, numbers.Integral):
        return int(a) == int(b)
    try:
        x, y = float(a), float(b)
    except (OverflowError, TypeError, ValueError):
        return _safe_eq(a, b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _safe_eq(a: Any, b: Any) -> bool:
    try:
        result = a == b
        if _is_bool(result):
            return bool(result)
        return False  # arrays, Series, or anything else that is not a plain yes/no
    except Exception:
        return False


def _is_bool(x: Any) -> bool:
    if isinstance(x, bool):
        return True
    cls = type(x)
    return cls.__module__ == "numpy" and cls.__name__ in ("bool", "bool_")


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not _is_bool(x)


# --------------------------------------------------------------------------- describing


def describe_difference(answer: Any, expected: Any) -> str:
    """What is wrong with `answer`, in a line or two, without giving `expected` away.

    Examples: "you returned a list; expected a dict", "about 2x too high",
    "missing keys: ['b']", "wrong value for key 3: yours is too high",
    "you returned 4 items; expected 6", "first difference at position 2: yours is too
    low", "first difference at position 0, key 'speed': yours is too low",
    "expected a different value". Returns "it matches" when `same` holds.
    Pure; never raises.
    """
    try:
        if same(answer, expected):
            return "it matches"
        steps: list[str] = []
        wrong_keys = 0
        # Walk down while both sides are containers of the same shape, to the first
        # place they differ; describe that place.
        while len(steps) < 20:  # a bound: self-containing lists would descend forever
            kind = _kind(expected)
            if _kind(answer) != kind:
                break
            if kind == "a dict" and set(answer.keys()) == set(expected.keys()):
                wrong = [k for k in expected.keys() if not same(answer[k], expected[k])]
                if not wrong:
                    break
                if not steps:
                    wrong_keys = len(wrong)
                steps.append(f"key {_clip(repr(wrong[0]), 40)}")
                answer, expected = answer[wrong[0]], expected[wrong[0]]
            elif kind in ("a list", "a tuple") and len(answer) == len(expected):
                position = next((i for i, (a, e) in enumerate(zip(answer, expected))
                                 if not same(a, e)), None)
                if position is None:
                    break
                steps.append(f"position {position}")
                answer, expected = answer[position], expected[position]
            else:
                break
        text = _describe_here(answer, expected, nested=bool(steps))
        if not steps:
            return text
        where = ", ".join(steps)
        lead = f"wrong value for {where}" if steps[0].startswith("key") else f"first difference at {where}"
        more = f" ({wrong_keys} keys have wrong values)" if wrong_keys > 1 else ""
        return f"{lead}: {text}{more}"
    except Exception:
        return "expected a different value"


def _describe_here(answer: Any, expected: Any, *, nested: bool) -> str:
    """The difference between two values, not looking inside containers further."""
    kind_a, kind_e = _kind(answer), _kind(expected)
    if kind_a != kind_e:
        text = f"{'yours is' if nested else 'you returned'} {kind_a}; expected {kind_e}"
        if isinstance(answer, Iterator) and kind_e in ("a list", "a tuple"):
            text += f" (wrap it in {kind_e[2:]}(...))"
        return text
    if kind_e == "a number":
        return _describe_number(answer, expected, nested=nested)
    if kind_e == "a dict":
        return _describe_keys(answer, expected)
    if kind_e in ("a list", "a tuple") and len(answer) != len(expected):
        n = len(answer)
        return f"{'yours has' if nested else 'you returned'} {n} item{'' if n == 1 else 's'}; expected {len(expected)}"
    if kind_e == "a set":
        return _describe_set(answer, expected)
    if kind_e == "a string":
        return _describe_string(answer, expected)
    return "expected a different value"


def _kind(x: Any) -> str:
    """A student-friendly name for the kind of value: 'a number', 'a list', ..."""
    if x is None:
        return "None"
    if _is_bool(x):
        return "True/False"
    if _is_number(x):
        return "a number"
    if isinstance(x, str):
        return "a string"
    if isinstance(x, Mapping):
        return "a dict"
    if isinstance(x, list):
        return "a list"
    if isinstance(x, tuple):
        return "a tuple"
    if isinstance(x, (set, frozenset)):
        return "a set"
    name = type(x).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _describe_number(answer: Any, expected: Any, *, nested: bool) -> str:
    prefix = "yours is " if nested else ""
    try:
        a, e = float(answer), float(expected)
    except (OverflowError, TypeError, ValueError):
        return "expected a different value"
    if math.isnan(a):
        return f"{prefix}NaN (not a number): look for a 0/0 or an empty input"
    if math.isnan(e):
        return "expected a different value"
    direction = "too high" if a > e else "too low"
    if not (math.isfinite(a) and math.isfinite(e)):
        return f"{prefix}{direction}"
    if a * e < 0:
        return f"{prefix}{direction} (and of the wrong sign)"
    if a == 0 or e == 0:
        return f"{prefix}{direction}"
    ratio = max(abs(a), abs(e)) / min(abs(a), abs(e))  # how many times too big/small
    off = abs(a - e) / abs(e)  # relative error
    if ratio >= 10:  # order of magnitude only: "about 987654x" would give it away
        size = f"at least {10 ** math.floor(math.log10(ratio)):,}x "
    elif ratio >= 1.5:
        size = f"about {ratio:.1f}".rstrip("0").rstrip(".") + "x "
    elif off >= 0.01:
        size = f"about {off * 100:.0f}% "
    else:
        size = "slightly "
        direction += " (less than 1% off: check rounding)"
    return f"{prefix}{size}{direction}"


def _describe_keys(answer: Mapping, expected: Mapping) -> str:
    missing = [k for k in expected.keys() if k not in answer]
    extra = [k for k in answer.keys() if k not in expected]
    parts = []
    if missing:
        parts.append(f"missing keys: {_short_list(missing)}")
    if extra:
        parts.append(f"unexpected keys: {_short_list(extra)}")
    return "; ".join(parts) or "expected a different value"


def _describe_set(answer: Any, expected: Any) -> str:
    extra = [x for x in answer if x not in expected]
    missing = sum(1 for x in expected if x not in answer)
    parts = []
    if extra:
        parts.append(f"unexpected items: {_short_list(extra)}")
    if missing:
        parts.append(f"{missing} expected item{'s are' if missing > 1 else ' is'} missing")
    if parts:
        return "; ".join(parts)
    return "expected a different value"


def _describe_string(answer: str, expected: str) -> str:
    if answer.strip() == expected.strip():
        return "expected a different value (it differs only in spaces at the ends)"
    if answer.casefold() == expected.casefold():
        return "expected a different value (it differs only in upper/lower case)"
    return "expected a different value"


# --------------------------------------------------------------------------- showing


_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 6


def _short_list(items: list) -> str:
    try:
        items = sorted(items, key=repr)
    except Exception:
        pass
    return _clip(_repr.repr(items), 120)


def _show(x: Any) -> str:
    """A short, readable rendering of a value for messages (floats to 12 digits)."""
    try:
        if _is_bool(x):
            return str(bool(x))
        if isinstance(x, numbers.Integral):
            return str(int(x))
        if _is_number(x):
            return format(float(x), ".12g")
        return _clip(_repr.repr(x), 120)
    except Exception:
        return f"<{type(x).__name__}>"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _safe_str(x: Any) -> str:
    try:
        return _clip(str(x), 300)
    except Exception:
        return f"<unprintable {type(x).__name__}>"


__all__ = ["attempt", "check", "hint", "predict", "describe_difference", "same", "HINTS"]


def gave_up(answer: Any) -> bool:
    """True when `attempt` got no answer: a stub not attempted yet, or code that raised."""
    return answer is None or isinstance(answer, _Failed)
