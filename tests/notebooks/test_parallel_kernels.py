"""Notebooks started at the same moment by several runs on one machine (two students' `make lab`)
each get a kernel of their own: with the default socket names the kernels could share them, and
one would never answer ("Kernel didn't respond", "Invalid Signature")."""

import subprocess
import sys
import textwrap

import nbformat
import pytest

pytestmark = pytest.mark.notebook


@pytest.mark.timeout(150)
def test_kernels_started_together_do_not_share_sockets(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    nbformat.write(notebook, tmp_path / "tiny.ipynb")
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from labkit.teach import notebook_runner
        result = notebook_runner.run_notebook(Path({str(tmp_path / 'tiny.ipynb')!r}), Path(sys.argv[1]), cell_timeout=60)
        print(result.status, result.error[:200])
    """)
    runs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / f"out{i}")], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True) for i in range(4)]
    outcomes = [run.communicate(timeout=120)[0].strip() for run in runs]
    assert outcomes == ["ok"] * 4, outcomes
    for i in range(4):
        executed = nbformat.read(tmp_path / f"out{i}" / "tiny.ipynb", as_version=4)
        assert executed.cells[0].outputs[0]["text"] == "42\n"
