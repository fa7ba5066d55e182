"""Rewrite tests/notebooks/expected_records.json from an executed run, after a deliberate
change to what a notebook records:

    python -m tests.notebooks.expected runs/<timestamp>      (or runs/tests/forward)

Every numbered notebook must be in the folder and have run to the end."""

import json
import sys
from pathlib import Path

import nbformat

from labkit.teach import notebook_runner, records
from tests.notebooks.test_notebooks import EXPECTED


def main(folder: str) -> int:
    expected = {}
    for path in notebook_runner.lab_notebooks():
        executed = Path(folder) / path.name
        if not executed.exists():
            print(f"{executed} is missing: run every notebook first (make lab)", file=sys.stderr)
            return 1
        expected[path.name] = records.read(nbformat.read(executed, as_version=4))
    EXPECTED.write_text(json.dumps(expected, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"wrote {EXPECTED} from {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "runs/tests/forward"))
