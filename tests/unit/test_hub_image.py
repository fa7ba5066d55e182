"""The hub image's recipe (infra/hub/Dockerfile), read as text: no Docker engine builds it
where these tests run, so what is checked is what it promises: the lab's own packages, the
jars fetched while building (nothing downloaded when a student's server starts), the kernel
where the image's Jupyter looks, and none of this machine's files copied in."""

import os
import re

import pytest

from labkit.config import REPO_ROOT

pytestmark = pytest.mark.unit

HUB = REPO_ROOT / "infra" / "hub"
DOCKERFILE = (HUB / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments left out."""
    text = re.sub(r"\\\n", " ", "\n".join(line for line in DOCKERFILE.splitlines() if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in text.splitlines() if line.strip()]


def runs() -> str:
    return "\n".join(args for op, args in instructions() if op == "RUN")


def test_the_base_image_is_a_jupyter_single_user_image_with_a_fixed_tag():
    base = next(args for op, args in instructions() if op == "FROM")
    assert base.startswith("quay.io/jupyter/") and ":" in base and not base.endswith(":latest")


def test_the_jdk_maven_and_the_lean_environment_are_installed_while_building():
    assert "openjdk-17" in runs() and "maven" in runs()
    assert "make env" in runs() and ".[dev]" not in DOCKERFILE  # the lab's packages, not the tests'


def test_the_jars_are_fetched_while_building_not_when_a_student_starts():
    assert "ensure_jars()" in runs()


def test_the_kernel_is_registered_where_the_image_s_jupyter_looks():
    assert re.search(r"ipykernel install --prefix /opt/conda --name telemetry-lab", runs())


def test_students_data_and_notebooks_live_in_their_home():
    env = " ".join(args for op, args in instructions() if op == "ENV")
    assert "LAB_HOME=/home/jovyan/" in env and "LAB_MEMORY=small" in env
    hook = HUB / "copy-notebooks.sh"
    assert "before-notebook.d" in DOCKERFILE and os.access(hook, os.X_OK)
    assert "${HOME}/telemetry-lab-notebooks" in hook.read_text()


def test_none_of_this_machine_s_files_go_into_the_image():
    ignored = set((HUB / "Dockerfile.dockerignore").read_text().split())
    assert {".venv", ".lab", ".env", "runs", "infra/local/target"} <= ignored
