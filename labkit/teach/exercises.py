"""Exercise checks for the notebooks: they say plainly whether an answer is right, and
when it is not, what is wrong with it (never what the right answer is).

Nothing here raises, whatever the student wrote (or did not write yet): a stub that still
raises NotImplementedError is "not attempted", so "Run all" keeps going; anything else the
student's function does (returns None, returns the wrong type, raises) is a wrong answer,
said in one or two lines. Solutions live in `labkit.teach.solutions` and the tests run
them through these same checks.

- `attempt(func, *args)`          call a student's function; NOT_ATTEMPTED for an untouched stub
- `attempt_async(func, *args)`    the same for an `async def` callback, awaited
- `expect_type(name, a, kind)`    is it the type the exercise asks for? if not, say so (✘ / ⏳)
- `check(name, answer, expected)` ✔ / ✘ / ⏳, with what is wrong; hints on request
- `graded(name)`                  a check's decorator: the student's error, raised inside the
                                  check, is reported as theirs
- `register_hints(table)`         a check module's hints, available from the start
- `hint(name)`                    print the hint for an exercise ("02.3" is enough)
- `predict(name, guess, actual)`  predict-then-run cells
- `answered(guess)`               show the answer's table only once the guess is written
- `describe_difference(a, e)`     the one-line "what is wrong" that `check` prints
- `same(a, e)`                    the comparison `check` uses (floats with a tolerance)
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
import numbers
import os
import re
import reprlib
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from labkit.teach import gradebook

# Set (to "1") for a headless run, whose predictions stay unanswered: `answered` shows every answer.
HEADLESS = "LAB_HEADLESS"

# Floats that differ by rounding noise count as equal: 0.1 + 0.2 == 0.3 here.
REL_TOL = 1e-9
ABS_TOL = 1e-12

# Hints by exercise name ("02.3 commit after the write"), read by `hint()`. Each check module
# registers its table on import (`register_hints`); `hint("02.3")` imports the module of
# notebook 02's checks if nothing has yet, so a hint is there before any check has run.
HINTS: dict[str, str] = {}

_LABKIT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # labkit/, above teach/

NONE_RETURNED = "your function returned None: did you forget `return`?"

# A verdict's status (as labkit.teach.gradebook records it) and the mark printed for it.
PASSED, FAILED, NOT_ATTEMPTED_YET = gradebook.PASSED, gradebook.FAILED, gradebook.NOT_ATTEMPTED
_MARKS = {PASSED: "✔", FAILED: "✘", NOT_ATTEMPTED_YET: "⏳"}


# --------------------------------------------------------------------------- attempts


class _NotAttempted:
    """What `attempt` returns for a stub that still raises NotImplementedError."""

    def __repr__(self) -> str:
        return "NOT_ATTEMPTED"


NOT_ATTEMPTED = _NotAttempted()


def attempt(func: Callable[..., Any], *args, **kwargs) -> Any:
    """Call a student's function and return what it returned, None included.

    The untouched stub (`raise NotImplementedError` in the function itself) gives
    NOT_ATTEMPTED. Any other exception, a NotImplementedError from deeper code included, is
    caught and returned wrapped in a failure object, which `check` and `expect_type` report
    (type, message and the line that raised) instead of stopping the notebook.
    """
    try:
        return func(*args, **kwargs)
    except Exception as exc:  # a bug in the attempt: report it, do not stop the notebook
        return _outcome_of(func, exc)


class _TimedOut:
    """What `attempt_within` returns for a function still running at its deadline."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def __repr__(self) -> str:
        return f"TIMED_OUT({self.seconds:g} s)"


def attempt_within(seconds: float, func: Callable[..., Any], *args, **kwargs) -> Any:
    """`attempt`, with a deadline: a function still running after `seconds` gives a
    `_TimedOut` (test it with `timed_out`) instead of a cell that never ends. The student's
    thread is left behind; the check then closes what it handed over (a consumer), which
    makes the loop fail and the thread end. What `attempt` lets through (a check's
    simulated crash, a BaseException) is raised again here, in the caller's thread."""
    outcome: list[Any] = []
    escaped: list[BaseException] = []

    def target():
        try:
            outcome.append(attempt(func, *args, **kwargs))
        except BaseException as exc:  # noqa: BLE001  (handed to the caller below)
            escaped.append(exc)

    runner = threading.Thread(target=target, name="exercise-attempt", daemon=True)
    runner.start()
    runner.join(seconds)
    if escaped:
        raise escaped[0]
    return outcome[0] if outcome else _TimedOut(seconds)


def not_answered(answer: Any) -> bool:
    """True for what `attempt` returns instead of an answer: NOT_ATTEMPTED (the untouched
    stub) or a failure (the function raised). `check(name, answer, ...)` reports either."""
    return answer is NOT_ATTEMPTED or isinstance(answer, _Failed)


def timed_out(answer: Any) -> bool:
    """True for what `attempt_within` returns when the deadline passed."""
    return isinstance(answer, _TimedOut)


async def attempt_async(func: Callable[..., Any], *args, **kwargs) -> Any:
    """`attempt` for an `async def` function (a callback the library awaits): what it
    returned once awaited, NOT_ATTEMPTED for the untouched stub, a failure object for an
    exception. A plain function is called as `attempt` would."""
    try:
        outcome = func(*args, **kwargs)
        return await outcome if inspect.isawaitable(outcome) else outcome
    except Exception as exc:  # a bug in the attempt: report it, do not stop the notebook
        return _outcome_of(func, exc)


def _outcome_of(func: Callable[..., Any], exc: Exception) -> Any:
    """What an attempt that raised `exc` amounts to: NOT_ATTEMPTED for the stub's own
    NotImplementedError, a failure object for anything else."""
    if isinstance(exc, NotImplementedError) and _raised_by_the_stub(func, exc):
        return NOT_ATTEMPTED
    return _Failed(exc)


def _raised_by_the_stub(func: Callable[..., Any], exc: BaseException) -> bool:
    """True when `func`'s own body raised (the stub), not code it called."""
    code = getattr(inspect.unwrap(func), "__code__", None)
    if code is None:  # a partial, a builtin, a callable object: cannot tell, so trust it
        return True
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is None or tb.tb_frame.f_code is code


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


def _student_frame(exc: BaseException, *, strict: bool = False) -> traceback.FrameSummary | None:
    """The innermost traceback frame in the student's code (not labkit, not libraries).

    Falls back to the innermost frame outside this module when every frame is library
    code (e.g. a student's bad argument blew up inside pandas with no frame of theirs);
    with `strict`, returns None then.
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
    return None if strict else frames[-1]


def _is_library_file(filename: str) -> bool:
    if filename.startswith("<") and not filename.startswith("<ipython-input"):
        return True  # generated code (<string>, <frozen ...>), not a notebook cell
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

    - NOT_ATTEMPTED (an untouched stub) is "not attempted yet" (⏳).
    - A failure object from `attempt` is reported as the exception and the line that
      raised it (✘).
    - Otherwise answers are compared with `same` (floats within a small tolerance, also
      inside lists and dicts); a wrong answer prints what is wrong
      (`describe_difference`), never the expected value. None, where something else was
      expected, asks whether a `return` is missing.
    - A `hint` is stored under `name` for `hint(name)`; a wrong answer points to it (or to
      the hint a check module registered).

    Never raises, whatever `answer` is.
    """
    try:
        if hint:
            HINTS[str(name)] = str(hint)
        if answer is NOT_ATTEMPTED:
            return say(name, NOT_ATTEMPTED_YET, "not attempted yet.")
        failure = _find_failure(answer)
        if failure is not None:
            say(name, FAILED, f"your code raised {_failure_report(failure)}")
        elif same(answer, expected):
            return say(name, PASSED, "correct!")
        elif answer is None:
            say(name, FAILED, NONE_RETURNED)
        else:
            say(name, FAILED, describe_difference(answer, expected))
    except Exception as exc:  # a check must never stop the notebook
        say(name, FAILED, f"your answer could not be checked ({type(exc).__name__}).")
    _point_to_hint(name)
    return False


def say(name: str, status: str, text: str, label: str = "") -> bool:
    """Print one verdict ("✔ 02.3 ...: text", ✘ or ⏳ by `status`, `label` in place of the
    name when given) and record it for the class (labkit.teach.gradebook: only in a student's
    corner of a shared stack). Returns True for PASSED."""
    print(f"{_MARKS[status]} {label or name}: {text}")
    gradebook.record(name, status)
    return status == PASSED


def wrong(name: str, why: str) -> bool:
    """Print "✘ name: why" (and where the hint is) for a wrong answer a check describes
    itself, e.g. "your bytes are not JSON". Returns False."""
    say(name, FAILED, why)
    _point_to_hint(name)
    return False


def lab_calls(func: Callable[..., Any], names: set[str] | frozenset[str]) -> list[str]:
    """Which of `names` `func`'s own source uses as the lab's code: a name or attribute that
    resolves (through the function's globals) to an object of `labkit` or of the notebook
    itself (a helper a cell defined), or that the function imports from `labkit`. A name the
    function binds itself (an argument, a variable, `consumer.end_offsets` on its own
    consumer) is its own, whatever it is called. Empty when the source cannot be read (a
    lambda typed at a prompt, a builtin): then nothing is held against it."""
    import ast
    import builtins
    import textwrap

    target = inspect.unwrap(func)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(target)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return []
    scope = {**vars(builtins), **getattr(target, "__globals__", {})}
    closure = inspect.getclosurevars(target) if inspect.isfunction(target) else None
    if closure is not None:
        scope.update(closure.nonlocals)
    for node in ast.walk(tree):  # the function's own imports name things too
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                try:
                    scope[alias.asname or alias.name] = getattr(importlib.import_module(node.module), alias.name)
                except (ImportError, AttributeError):
                    pass
        elif isinstance(node, ast.Import):
            for alias in node.names:
                try:
                    module = importlib.import_module(alias.name)
                except ImportError:
                    continue
                scope[alias.asname or alias.name.split(".")[0]] = (
                    module if alias.asname else importlib.import_module(alias.name.split(".")[0]))
    own = {a.arg for node in ast.walk(tree) if isinstance(node, ast.arguments)
           for a in (*node.posonlyargs, *node.args, *node.kwonlyargs, node.vararg, node.kwarg) if a is not None}
    own |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("labkit"):
            found |= {alias.name for alias in node.names if alias.name in names}
        elif isinstance(node, ast.Name) and node.id in names and node.id not in own:
            if _is_the_labs(scope.get(node.id)):
                found.add(node.id)
        elif isinstance(node, ast.Attribute) and node.attr in names:
            if _is_the_labs(_resolve(node, scope, own)):
                found.add(node.attr)
    return sorted(found)


def _resolve(node: Any, scope: Mapping[str, Any], own: set[str]) -> Any:
    """The object an attribute chain (`clients.kafka_consumer`) names in `scope`; None when it
    starts at a name the function binds itself, or cannot be followed."""
    import ast

    chain = []
    while isinstance(node, ast.Attribute):
        chain.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id in own or node.id not in scope:
        return None
    obj = scope[node.id]
    for attr in reversed(chain):
        try:
            obj = getattr(obj, attr)
        except Exception:  # noqa: BLE001  (a property that fails: not the lab's function)
            return None
    return obj


def _is_the_labs(obj: Any) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return obj is not None and callable(obj) and (module.startswith("labkit") or module == "__main__")


def source_tree(func: Callable[..., Any]):
    """The parsed source (an `ast.Module`) of `func`, or None when it cannot be read: a lambda
    typed at a prompt, a builtin. Checks that look at how an answer is written start here."""
    import ast
    import textwrap

    try:
        return ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(func))))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None


def calls_method(func: Callable[..., Any], method: str, depth: int = 2) -> bool | None:
    """Whether `func`'s source calls `.method(...)` on anything (e.g. "aggregate"), itself or in a
    function of its own that it calls by name (`depth` levels down); None when its source cannot
    be read (a lambda typed at a prompt, a builtin): then nothing is held against it."""
    import ast

    target = inspect.unwrap(func)
    tree = source_tree(target)
    if tree is None:
        return None
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    if any(isinstance(c.func, ast.Attribute) and c.func.attr == method for c in calls):
        return True
    if depth > 0:  # a helper the student wrote beside it
        scope = getattr(target, "__globals__", {})
        for c in calls:
            helper = scope.get(c.func.id) if isinstance(c.func, ast.Name) else None
            if inspect.isfunction(helper) and helper is not target and calls_method(helper, method, depth - 1):
                return True
    return False


def uses_the_lab_version(name: str, func: Callable[..., Any], lab_names: Mapping[str, str]) -> bool:
    """True (and says so, as a wrong answer) when `func` calls one of `lab_names` as the lab's
    own code (`lab_calls`) for what exercise `name` asks the student to write. `lab_names` maps
    each name to what to use instead, e.g. {"describe_topics": "a KafkaConsumer of your own"}."""
    used = lab_calls(func, frozenset(lab_names))
    if not used:
        return False
    wrong(name, f"your function calls {used[0]}, the lab's own version of what this exercise asks you to "
                f"write: use {lab_names[used[0]]} instead")
    return True


def _point_to_hint(name: str) -> None:
    try:
        if _find_hint(str(name)) is not None:
            print(f'Need a hint? Run exercises.hint("{name}")')
    except Exception:
        pass


def graded(name: str) -> Callable[[Callable[..., bool]], Callable[..., bool]]:
    """Decorate a check of exercise `name`: an exception raised by the student's code while
    the check runs (an endpoint that fails inside TestClient, a generator that fails when
    read) is reported like `attempt` reports one, and the check returns False.

    Exceptions with no frame of the student's in their traceback, the check's own or the
    services', propagate: a broken check must never pass for a wrong answer.
    """
    def decorate(check_function: Callable[..., bool]) -> Callable[..., bool]:
        @functools.wraps(check_function)
        def run(*args, **kwargs) -> bool:
            try:
                return check_function(*args, **kwargs)
            except Exception as exc:
                if _student_frame(exc, strict=True) is None:
                    raise
                return wrong(name, f"your code raised {_failure_report(_Failed(exc))}")
        return run
    return decorate


# --------------------------------------------------------------------------- types


class Kind:
    """A type of answer, and the words that name it for the student.

    `test(x)` says whether x has the right type; `inside(x)`, for containers, returns what is
    wrong inside (e.g. "a list of 3 items whose item 0 is a FutureRecordMetadata") or None.
    Make them with `of_type`, `list_of`, `dict_of`, `pair`, or `Kind(what, test)`.
    """

    def __init__(self, what: str, test: Callable[[Any], bool],
                 inside: Callable[[Any], str | None] | None = None):
        self.what, self._test, self._inside = what, test, inside

    def problem(self, x: Any) -> str | None:
        """None when `x` is of this kind; otherwise what `x` is, as a noun phrase."""
        try:
            if not self._test(x):
                return _type_of(x)
            return self._inside(x) if self._inside is not None else None
        except Exception:  # a test that cannot look at x: x is not of this kind
            return _type_of(x)

    def __repr__(self) -> str:
        return f"Kind({self.what!r})"


def of_type(*types: type, what: str = "") -> Kind:
    """Instances of `types`; `int` and `float` never take True/False, and `float` takes any
    real number (an int included)."""
    def test(x: Any) -> bool:
        if _is_bool(x):
            return bool in types
        if float in types and _is_number(x):
            return True
        if int in types and isinstance(x, numbers.Integral):
            return True
        return isinstance(x, types)

    return Kind(what or " or ".join(_name_of_type(t) for t in types), test)


def _as_kind(kind: Kind | type | tuple[type, ...]) -> Kind:
    if isinstance(kind, Kind):
        return kind
    return of_type(*(kind if isinstance(kind, tuple) else (kind,)))


def list_of(item: Kind | type, what: str = "") -> Kind:
    """A list (or plain tuple, or range) whose every item is of kind `item`."""
    item = _as_kind(item)

    def inside(x: Any) -> str | None:
        for i, value in enumerate(x):
            wrong_here = item.problem(value)
            if wrong_here is not None:
                return f"{_type_of(x)} whose item {i} is {wrong_here}"
        return None

    return Kind(what or f"a list of {item.what}", lambda x: type(x) in (list, tuple, range), inside)


def dict_of(key: Kind | type, value: Kind | type, what: str = "") -> Kind:
    """A dict (any Mapping) whose keys are of kind `key` and values of kind `value`."""
    key, value = _as_kind(key), _as_kind(value)

    def inside(x: Mapping) -> str | None:
        for k, v in x.items():
            wrong_key = key.problem(k)
            if wrong_key is not None:
                return f"{_type_of(x)} whose key {_show(k)} is {wrong_key}"
            wrong_value = value.problem(v)
            if wrong_value is not None:
                return f"{_type_of(x)} whose value for key {_show(k)} is {wrong_value}"
        return None

    return Kind(what or f"a dict {{{key.what}: {value.what}}}", lambda x: isinstance(x, Mapping), inside)


def pair(first: Kind | type, second: Kind | type, what: str = "") -> Kind:
    """A tuple or list of exactly two items, of kinds `first` and `second`."""
    kinds = (_as_kind(first), _as_kind(second))

    def inside(x: Any) -> str | None:
        for i, (kind, value) in enumerate(zip(kinds, x)):
            wrong_here = kind.problem(value)
            if wrong_here is not None:
                return f"{_type_of(x)} whose item {i} is {wrong_here}"
        return None

    return Kind(what or f"a pair ({kinds[0].what}, {kinds[1].what})",
                lambda x: type(x) in (tuple, list) and len(x) == 2, inside)


NUMBER = of_type(float, what="a number")
INTEGER = of_type(int, what="a whole number")
TEXT = of_type(str, what="a string")
DICT = Kind("a dict", lambda x: isinstance(x, Mapping))
ANYTHING = Kind("anything", lambda x: True)  # for exercises whose return value is not graded


def optional(kind: Kind | type) -> Kind:
    """`kind`, or None."""
    kind = _as_kind(kind)
    return Kind(f"{kind.what} or None", lambda x: True, lambda x: None if x is None else kind.problem(x))


def expect_type(name: str, answer: Any, kind: Kind | type | tuple[type, ...], *, case: str = "") -> bool:
    """True when `answer` is of the type the exercise asks for, so the check can go on.

    Otherwise prints the verdict and returns False: ⏳ for NOT_ATTEMPTED; the student's
    exception and its line for a failure from `attempt`; "your function returned None: did
    you forget `return`?" for None (unless `kind` takes None); and for any other type what
    came and what was expected ("you returned a RecordMetadata (a named tuple of 9 fields);
    expected a list of (partition, offset) pairs"). `case` says which call, when a check
    calls the student's function several times ("for target 0.95"). Never raises.
    """
    label = f"{name} ({case})" if case else str(name)
    try:
        if answer is NOT_ATTEMPTED:
            return say(name, NOT_ATTEMPTED_YET, "not attempted yet.")
        if isinstance(answer, _Failed):
            return _wrong_with_pointer(name, label, f"your code raised {_failure_report(answer)}")
        kind = _as_kind(kind)
        what = kind.problem(answer)
        if what is None:
            return True
        if answer is None:
            return _wrong_with_pointer(name, label, NONE_RETURNED)
        text = f"you returned {what}; expected {kind.what}"
        if isinstance(answer, Iterator) and kind.what.startswith("a list"):
            text += " (wrap it in list(...))"
        return _wrong_with_pointer(name, label, text)
    except Exception as exc:  # never stop the notebook
        return say(name, FAILED, f"your answer could not be checked ({type(exc).__name__}).", label)


def _wrong_with_pointer(name: str, label: str, text: str) -> bool:
    say(name, FAILED, text, label)
    _point_to_hint(name)
    return False


def _type_of(x: Any) -> str:
    """What `x` is, for "you returned ...": "None", "a list of 3 items", "a RecordMetadata
    (a named tuple of 9 fields)", "an int"."""
    if x is None:
        return "None"
    if _is_bool(x):
        return "True/False"
    if isinstance(x, tuple) and hasattr(type(x), "_fields"):
        return f"{_a(type(x).__name__)} (a named tuple of {len(x)} fields)"
    if isinstance(x, Mapping):
        return "a dict"
    if type(x) in (list, tuple, set, frozenset):
        return f"{_kind(x)} of {len(x)} item{'' if len(x) == 1 else 's'}"
    if isinstance(x, str):
        return "a string"
    if isinstance(x, bytes):
        return "bytes"
    return _a(type(x).__name__)


def _name_of_type(t: type) -> str:
    return {str: "a string", bytes: "bytes", bool: "True or False", int: "a whole number",
            float: "a number", dict: "a dict", list: "a list", tuple: "a tuple"}.get(t, _a(t.__name__))


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


# --------------------------------------------------------------------------- hints


def register_hints(table: Mapping[str, str]) -> dict[str, str]:
    """Make a check module's hints available to `hint()` now; returns the table.

    Exercise names start with the notebook's number ("02.3 commit after the write"): that is
    how `hint("02.3")` finds the module to import when none of its checks has run yet.
    """
    table = {str(k): str(v) for k, v in table.items()}
    HINTS.update(table)
    return table


def _find_hint(name: str) -> tuple[str, str] | None:
    """(exercise name, hint) for `name` or a unique prefix of one; loads the notebook's
    check module when its hints are not known yet."""
    found = _lookup_hint(name)
    if found is None:
        _load_notebook_hints(name)
        found = _lookup_hint(name)
    return found


def _lookup_hint(key: str) -> tuple[str, str] | None:
    if key in HINTS:
        return key, HINTS[key]
    matches = [known for known in HINTS if known.startswith(key)]
    return (matches[0], HINTS[matches[0]]) if len(matches) == 1 else None


def _load_notebook_hints(name: str) -> None:
    """Import `labkit.teach.checks.nbNN` for an exercise name "NN.x ..." and add its HINTS."""
    number = re.match(r"\s*(\d{2})\b", name)
    if number is None:
        return
    try:
        module = importlib.import_module(f"labkit.teach.checks.nb{number.group(1)}")
    except Exception:  # no such notebook, or its checks cannot load here: no hint, no crash
        return
    for key, text in dict(getattr(module, "HINTS", None) or {}).items():
        HINTS.setdefault(key, text)  # a hint given by a notebook's own check() call stays


def hint(name: str) -> None:
    """Print the hint for exercise `name`: "02.3" is enough (a unique prefix).

    Hints are there before any check has run. An unknown name prints the names that do
    have hints. Never raises.
    """
    try:
        key = str(name)
        found = _find_hint(key)
        if found is not None:
            print(f"💡 {found[0]}: {found[1]}")
            return
        if HINTS:
            known = ", ".join(repr(k) for k in sorted(HINTS))
            print(f"No hint for {key!r}. Exercises with hints: {known}.")
        else:
            print(f"No hint for {key!r}: exercises are named by notebook and number, "
                  'e.g. exercises.hint("02.3").')
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
        if _unwritten(guess):
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


def answered(*guesses: Any) -> bool:
    """Whether a cell may show a prediction's answer (a table, a chart): once every one of
    `guesses` is written (not `...` or None), and always in a headless run (`make lab`, the
    tests: LAB_HEADLESS=1 from `labkit.teach.notebook_runner`), whose executed copy is read,
    not answered. There it says so, once, so that a reader of the copy knows why the answer shows."""
    if not any(map(_unwritten, guesses)):
        return True
    if os.environ.get(HEADLESS) == "1":
        print("(This copy ran without a student: no prediction was written, and the answer shows anyway.)")
        return True
    return False


def _unwritten(guess: Any) -> bool:
    """A prediction left as the notebook gives it: `...`, or None."""
    return guess is Ellipsis or guess is None


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


__all__ = ["attempt", "NOT_ATTEMPTED", "check", "wrong", "graded", "expect_type", "Kind", "of_type", "list_of",
           "dict_of", "pair", "optional", "NUMBER", "INTEGER", "TEXT", "DICT", "ANYTHING",
           "register_hints", "hint", "predict", "describe_difference", "same", "HINTS"]

