"""Every "open it with `name??`" in a notebook's text works in the notebook's kernel.

IPython's `x??` shows the source of whatever `x` names, so the name's first part must be bound
there: by an import in the notebook's code, or by the import the text itself tells the student
to run first ("`from labkit.simulate import fleet`, then `fleet??`"). `labkit.api.routes??`
with only `from labkit.api import ...` in the notebook says "Object not found".
"""

import ast
import importlib
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
POINTER = re.compile(r"`([A-Za-z_][\w.]*)\?\?`")
TOLD_IMPORT = re.compile(r"`((?:from [\w.]+ )?import [\w., ]+)`")


def bindings(source: str) -> dict[str, str]:
    """Names an import statement binds, each with the module path it comes from."""
    bound = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def code_bindings(cells: list[dict]) -> dict[str, str]:
    bound = {}
    for cell in cells:
        if cell["cell_type"] == "code":
            lines = [line for line in "".join(cell["source"]).splitlines() if not line.lstrip().startswith(("%", "!"))]
            bound |= bindings("\n".join(lines))
    return bound


def resolve(path: str):
    """The object a dotted path names: the longest importable module, then attributes."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            thing = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            thing = getattr(thing, attr)
        return thing
    raise ImportError(path)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_every_pointer_names_something_the_kernel_has(path):
    cells = json.loads(path.read_text())["cells"]
    in_code = code_bindings(cells)
    pointers = 0
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        told = {}
        for statement in TOLD_IMPORT.findall(text):
            told |= bindings(statement)
        for pointer in POINTER.findall(text):
            pointers += 1
            root, _, rest = pointer.partition(".")
            bound = {**in_code, **told}
            assert root in bound, f"{path.name}: `{pointer}??` but nothing binds {root!r} (say which import to run)"
            resolve(bound[root] + (f".{rest}" if rest else ""))  # raises if the path names nothing
    assert pointers, f"{path.name}: no pointer found (the pattern no longer matches the notebooks' text?)"


HINT = re.compile(r"`exercises\.hint\(")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_a_notebook_that_offers_hints_imports_them(path):
    """A student who runs `exercises.hint("05.1")` as the text says gets a hint, not a NameError."""
    cells = json.loads(path.read_text())["cells"]
    offers = any(HINT.search("".join(c["source"])) for c in cells if c["cell_type"] == "markdown")
    if offers:
        assert code_bindings(cells).get("exercises") == "labkit.teach.exercises", (
            f"{path.name} tells the student to call exercises.hint(...) but never imports exercises")
