"""labkit's layout: folders by pipeline stage, imports pointing one way, pure modules pure.
(The order is the one labkit/__init__.py's docstring gives.)"""

import ast
from pathlib import Path

import pytest

import labkit

pytestmark = pytest.mark.unit

ROOT = Path(labkit.__file__).parent
ORDER = ["config", "contract", "ops", "observe", "simulate", "store", "process", "api", "scenarios", "teach",
         "cli", "__main__"]
PURE = ["labkit.contract", "labkit.simulate.fleet", "labkit.simulate.faults", "labkit.simulate.simulator",
        "labkit.process.validation", "labkit.process.detectors", "labkit.process.windows", "labkit.process.metrics",
        "labkit.process.dlq", "labkit.process.decide", "labkit.scenarios.evaluation", "labkit.scenarios.tuning"]
CLIENT_LIBRARIES = {"kafka", "pymongo", "bson", "fastapi", "uvicorn", "httpx", "requests"}


def modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(path: Path) -> set[str]:
    """Every module `path` imports (at any level: a local import points somewhere too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def folder(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "labkit" else None


def test_every_folder_imports_only_from_the_folders_before_it():
    known = modules()
    upward = []
    for name, path in known.items():
        mine = folder(name)
        if mine not in ORDER:
            continue
        for target in imports(path):
            theirs = folder(target)
            if theirs in ORDER and ORDER.index(theirs) > ORDER.index(mine) and target in known:
                upward.append(f"{name} imports {target}")
    assert upward == []


def test_every_folder_is_in_the_order_and_in_the_index():
    folders = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders <= set(ORDER)
    index = ast.get_docstring(ast.parse((ROOT / "__init__.py").read_text()))
    assert all(f"`{name}/`" in index for name in folders)


def test_the_pure_modules_import_no_client_library_even_indirectly():
    known = modules()
    for name in PURE:
        seen, todo, clients = set(), [name], set()
        while todo:
            current = todo.pop()
            if current in seen or current not in known:
                continue
            seen.add(current)
            for target in imports(known[current]):
                clients |= {target.split(".")[0]} & CLIENT_LIBRARIES
                todo += [target, target.rsplit(".", 1)[0]]
        assert not clients, f"{name} imports {sorted(clients)}"
