"""The sandbox's reset waits out a broker that has just started (no services: a stand-in admin),
and the databases a class's student is granted are every one the notebooks make."""

import ast
import json
import re

import pytest
from kafka.errors import CoordinatorLoadInProgressError, GroupAuthorizationFailedError

from labkit.config import REPO_ROOT, Settings
from labkit.ops import sandbox

pytestmark = pytest.mark.unit


class Admin:
    def __init__(self, failures):
        self.failures, self.calls = list(failures), 0

    def list_groups(self):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return [{"group_id": "lab02.processor"}, {"group_id": "other"}]


def test_a_coordinator_still_loading_is_waited_out():
    admin = Admin([CoordinatorLoadInProgressError(), CoordinatorLoadInProgressError()])
    assert sandbox._group_ids(admin) == ["lab02.processor", "other"] and admin.calls == 3


def test_a_fatal_error_is_raised_at_once():
    admin = Admin([GroupAuthorizationFailedError()])
    with pytest.raises(GroupAuthorizationFailedError):
        sandbox._group_ids(admin)
    assert admin.calls == 1


def _sources(name: str) -> str:
    notebook = json.loads((REPO_ROOT / "notebooks" / name).read_text())
    return "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code")


def test_a_corner_holds_each_notebooks_database_and_its_extras():
    ann = sandbox.corner_databases(Settings.from_env({"LAB_STUDENT": "ann"}))
    assert len(ann) == len(set(ann)) == 12 + 1 + 1 + 8
    assert {"ann_lab00_telemetry", "ann_lab00_scratch", "ann_lab06_practice", "ann_lab09_w1", "ann_lab09_w8",
            "ann_lab11_telemetry"} <= set(ann)
    assert all(name.startswith("ann_lab") for name in ann)


def test_every_database_a_notebook_makes_is_in_its_corner():
    """A class's student may use only the databases of `corner_databases`: a notebook that made
    another would be refused on a class's MongoDB, and only there."""
    ann = Settings.from_env({"LAB_STUDENT": "ann"})
    granted = set(sandbox.corner_databases(ann))
    seen = []
    for path in sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        number, code = path.name[:2], _sources(path.name)
        opened = re.findall(r'sandbox\.open\(Settings\.from_env\(\), "(\w+)"\)', code)
        assert opened in ([number], []), f"{path.name} opens the sandbox {opened}"
        if opened:
            seen.append(sandbox.database_prefix(ann, number) + ann.mongodb_db)
        seen += [sandbox.database_prefix(ann, n) + role
                 for n, role in re.findall(r'database_prefix\(settings, "(\d\d)"\) \+ "(\w+)"', code)]
        seen += [sandbox.database_prefix(ann, number) + role for role in re.findall(r'lab\.database\("(\w+)"\)', code)]
        if 'lab.database(f"w{n}")' in code:  # one database per worker count, counts from the parameters
            counts = re.search(r"^worker_counts = (.*?)(?:#|$)", code, re.M).group(1)
            seen += [sandbox.database_prefix(ann, number) + f"w{n}" for n in ast.literal_eval(counts.strip())]
    assert len(seen) >= 12 and set(seen) <= granted, sorted(set(seen) - granted)
