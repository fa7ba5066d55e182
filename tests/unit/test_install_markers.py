"""Which machines install SecantusDB (the local MongoDB server with indexes and explain): every
platform and Python its 0.7.0b3 release has a wheel for, and none it has not (pip would then try
to build it from source). The list below was read from the package registry."""

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]

#: (sys_platform, platform_machine, python_version) -> a wheel exists on the registry.
WHEELS = {
    ("linux", "x86_64", "3.11"): True, ("linux", "x86_64", "3.12"): True, ("linux", "x86_64", "3.13"): True,
    ("linux", "aarch64", "3.11"): True, ("linux", "aarch64", "3.13"): True,
    ("darwin", "arm64", "3.11"): True, ("darwin", "arm64", "3.12"): True, ("darwin", "arm64", "3.13"): True,
    ("win32", "AMD64", "3.11"): True, ("win32", "AMD64", "3.12"): True,
    ("darwin", "x86_64", "3.11"): False,  # Intel Macs: no wheel, mongo-java-server instead
    ("linux", "x86_64", "3.14"): False,
    ("win32", "ARM64", "3.12"): False,
}


def _secantus() -> Requirement:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return Requirement(next(d for d in deps if d.lower().startswith("secantusdb")))


@pytest.mark.parametrize(("platform", "machine", "python"), list(WHEELS))
def test_secantusdb_is_installed_exactly_where_it_has_a_wheel(platform, machine, python):
    env = {"sys_platform": platform, "platform_machine": machine, "python_version": python}
    assert _secantus().marker.evaluate(env) is WHEELS[(platform, machine, python)]
