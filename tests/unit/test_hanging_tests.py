"""A test that hangs fails on its own, named, and the run goes on: `make test` never hangs.

pytest-timeout does it, configured in pyproject.toml ([tool.pytest.ini_options]: a default
`timeout`, and tests that need longer say so with `@pytest.mark.timeout(N)`). Here a
pytest of its own runs a hanging test with the project's configuration and a 1 s timeout.
"""

import re
import subprocess
import sys
import tomllib
from importlib.metadata import version

import pytest

from labkit.config import REPO_ROOT

pytestmark = pytest.mark.unit

HANGS = '''
import time

def test_hangs():
    time.sleep(8)

def test_after_it():
    pass
'''


def test_a_hanging_test_fails_by_name_and_the_run_goes_on(tmp_path):
    (tmp_path / "test_hang.py").write_text(HANGS)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO_ROOT / "pyproject.toml"), "--rootdir", str(tmp_path),
         "-p", "no:cacheprovider", "-o", "timeout=1", "-q", str(tmp_path / "test_hang.py")],
        capture_output=True, text=True, timeout=60,
    )
    out = result.stdout
    assert "FAILED" in out and "test_hang.py::test_hangs" in out and "Timeout" in out, out
    assert "1 failed, 1 passed" in out, "the tests after the hanging one still ran\n" + out


def test_pytest_timeout_is_a_dev_dependency_pinned_at_the_installed_version():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert any(dep.startswith("pytest-timeout") for dep in project["project"]["optional-dependencies"]["dev"])
    config = project["tool"]["pytest"]["ini_options"]
    assert config["timeout_method"] == "signal", "fails only the test that hangs; `thread` ends the whole run"
    assert 200 <= config["timeout"] <= 900, "above the slowest test (~200 s), well below forever"
    lock = (REPO_ROOT / "requirements.lock").read_text()
    assert re.search(rf"^pytest-timeout=={re.escape(version('pytest-timeout'))}$", lock, re.MULTILINE)
