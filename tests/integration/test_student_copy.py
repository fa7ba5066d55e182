"""The students' copy of the lab (`python -m labkit class dist`): no solutions, and every check
still works in it (no services: the checks below are pure)."""

import inspect
import json
import subprocess
import sys
import textwrap

import pytest

from labkit.teach import classroom
from labkit.teach.solutions import nb08, nb09

pytestmark = pytest.mark.integration


@pytest.mark.timeout(120)
def test_the_students_copy_has_no_solutions_and_its_checks_work(tmp_path):
    out = tmp_path / "for-students"
    classroom.build_student_copy(out)
    assert not (out / "labkit" / "teach" / "solutions").exists() and not (out / "tests").exists()
    assert not (out / "notebooks" / "instructor").exists()  # the class's progress is the instructor's
    for path in (out / "notebooks").glob("*.ipynb"):
        cells = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]
        assert not any("Solutions:" in c for c in cells), path.name  # the pointers are cut
        # What still names them must survive their absence (03 falls back to its reference copier
        # only when the student's is wrong, behind `except ImportError`).
        assert all("except ImportError" in c for c in cells if "labkit.teach.solutions" in c), path.name
    # In the copy, with only its own labkit importable: the solutions are gone, every notebook's
    # check module imports, and checks given right answers (written out here) pass.
    answers = "\n".join(textwrap.dedent(inspect.getsource(f)) for f in (
        nb08.diagnose, nb09.range_assignment, nb09.hot_key, nb09.partitions_for))
    script = textwrap.dedent('''
        import importlib, pkgutil, sys
        from collections import Counter
        import labkit.teach.checks as checks
        assert checks.__file__.startswith(sys.argv[1]), checks.__file__
        try:
            import labkit.teach.solutions
        except ImportError:
            pass
        else:
            raise SystemExit("the solutions are importable")
        for module in pkgutil.iter_modules(checks.__path__):
            importlib.import_module(f"labkit.teach.checks.{module.name}")
        from labkit.ops.kafka_io import partition_for_key
        from labkit.teach.checks import nb08, nb09
    ''') + answers + textwrap.dedent('''
        assert nb08.diagnose(diagnose) and nb09.range_assignment(range_assignment)
        assert nb09.partitions_for(partitions_for)
        keys = [f"CAR_{i:03d}" for i in range(1, 11) for _ in range(60)] + ["CAR_007"] * 540
        assert nb09.hot_key(hot_key, keys, 4)
        print("checks ok")
    ''')
    done = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(out)!r}); exec({script!r})",
                           str(out)], capture_output=True, text=True, timeout=90, cwd=out)
    assert done.returncode == 0 and "checks ok" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
