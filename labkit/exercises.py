"""Exercise checks for the notebooks: they say plainly whether an answer is right.

A check never raises, whatever the student wrote (or did not write yet): an unattempted
exercise (`None`, or a stub that raises NotImplementedError) is reported as such, so
"Run all" keeps going. Solutions live in `labkit.solutions` and the tests run them
through these same checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def attempt(func: Callable[..., Any], *args, **kwargs) -> Any:
    """Call a student's function; a NotImplementedError means "not attempted" (None)."""
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
        return f"{type(self.exc).__name__}: {self.exc}"


def check(name: str, answer: Any, expected: Any, hint: str = "") -> bool:
    """Print ✔ / ✘ / ⏳ for `answer` against `expected` and return True only when right."""
    if answer is None:
        print(f"⏳ {name}: not attempted yet.")
        return False
    if isinstance(answer, _Failed):
        print(f"✘ {name}: your code raised {answer!r}")
        return False
    if answer == expected:
        print(f"✔ {name}: correct!")
        return True
    print(f"✘ {name}: got {answer!r}, expected something else." + (f" Hint: {hint}" if hint else ""))
    return False
