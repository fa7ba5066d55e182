"""Shared by the benchmarks: describe the machine and print/record a results table."""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from pathlib import Path


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count() or 0} CPUs, Python {platform.python_version()}"


def table(title: str, command: str, header: tuple[str, ...], rows: list[tuple], record: Path | None) -> str:
    """A markdown section (title with UTC time, command and machine, then the table).
    Printed; appended to `record` when given."""
    lines = [f"### {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {title}", f"`{command}` on {machine()}", "",
             "| " + " | ".join(header) + " |", "|" + "|".join("------" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    text = "\n".join(lines)
    print(text)
    if record is not None:
        with record.open("a") as out:
            out.write("\n" + text + "\n")
    return text
