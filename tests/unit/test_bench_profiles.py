"""The benchmarks' profile summary: py-spy's raw stacks summed by function (pure)."""

import sys

import pytest

from labkit.config import REPO_ROOT

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def profiles():
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    try:
        import profiles

        yield profiles
    finally:
        sys.path.remove(str(REPO_ROOT / "bench"))


def test_own_time_counts_the_innermost_frame_by_function_whatever_the_line(profiles):
    pymongo = "/v/lib/python3.11/site-packages/pymongo/collection.py"
    raw = "\n".join([
        f"<module> (bench.py:10);run (/r/labkit/process/processor.py:100);insert_many ({pymongo}:55) 7",
        f"<module> (bench.py:10);run (/r/labkit/process/processor.py:120);insert_many ({pymongo}:60) 3",
        "<module> (bench.py:10);decide (/r/labkit/process/processor.py:200) 5",
        "",
        "a line py-spy would not write",
    ])
    counts = profiles.own_time(raw)
    assert counts == {("insert_many", "pymongo/collection.py"): 10, ("decide", "labkit/process/processor.py"): 5}


def test_a_process_that_cannot_be_sampled_is_reported_not_raised(profiles):
    with profiles.Profiles({"nobody": None}) as sampled:
        pass
    assert sampled.top() == {} and sampled.problems == {"nobody": "no process"}
