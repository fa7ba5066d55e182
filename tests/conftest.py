"""Shared fixtures. Integration tiers need the real services: `make test` starts them.

A test that needs a service and finds it down FAILS with the fix (it is never skipped),
so a green run always means the real thing was exercised.
"""

from __future__ import annotations

import random

import pytest

from labkit.config import Settings
from labkit.ops import clients, preflight


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture(scope="session")
def services(settings: Settings) -> Settings:
    """Settings, after checking that Kafka and MongoDB answer (fails fast otherwise)."""
    report = preflight.check(settings, ("kafka", "mongodb"))
    down = [s.message for s in report.statuses if not s.ok]
    if down:
        pytest.fail("\n".join(down) + "\n(`make test` starts the services itself)", pytrace=False)
    return settings


#: The order the tiers run in. The notebooks' forward run starts in the background when the
#: session begins (tests/notebooks/forward_run.py) and overlaps the unit and integration tiers;
#: the browser tier runs notebooks 00 and 01 in the same sandboxes, so it comes after it.
TIERS = ("unit", "integration", "notebooks", "browser", "reliability")


def pytest_addoption(parser):
    parser.addoption("--order", choices=("files", "reverse", "shuffle"), default="files",
                     help="test order inside each tier: as in the files, reversed, or shuffled (tests must "
                          "not depend on each other; `make test` shuffles)")
    parser.addoption("--order-seed", type=int, default=None, help="seed for --order=shuffle (printed; default: random)")
    parser.addoption("--part", choices=("first", "second"), default=None,
                     help="`make test`'s split (tests/run_tiers.py): the tests of its SECOND_STACK, or all the others")


def pytest_collection_finish(session):
    """Start the notebooks' forward run now, in the background, if a collected test needs it."""
    if not session.config.option.collectonly and any("forward" in getattr(item, "fixturenames", ())
                                                     for item in session.items):
        from tests.notebooks import forward_run

        forward_run.start(Settings.from_env())


def pytest_sessionfinish(session):
    from tests.notebooks import forward_run

    if forward_run.EARLY is not None:
        forward_run.EARLY.stop()  # only if it still runs: a session that ended early


def pytest_configure(config):
    if config.getoption("order") == "shuffle" and config.getoption("order_seed") is None:
        config.option.order_seed = random.randrange(1_000_000)  # printed in the header: rerun with it


def _tier(item) -> str:
    return next((t for t in TIERS if f"/tests/{t}/" in str(item.path)), "")


def pytest_collection_modifyitems(config, items):
    """Mark each test by its folder, so `-m unit` etc. select tiers; then order the tests
    inside each tier as --order says. Tiers keep their order (services are started once),
    and tests stay grouped by module (module fixtures are set up once), modules and the tests
    inside them move."""
    for item in items:
        tier = _tier(item)
        if tier:
            item.add_marker(getattr(pytest.mark, "notebook" if tier == "notebooks" else tier))
    part = config.getoption("part")
    if part:
        from tests.run_tiers import in_second_part

        keep = [item for item in items if in_second_part(item.path) == (part == "second")]
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep
    order = config.getoption("order")
    if order == "files":
        return
    rng = random.Random(config.getoption("order_seed"))
    modules: dict = {}
    for item in items:
        modules.setdefault((TIERS.index(_tier(item)) if _tier(item) else -1, str(item.path)), []).append(item)
    by_tier: dict = {}
    for (tier, _), tests in modules.items():
        if order == "reverse":
            tests.reverse()
        else:
            rng.shuffle(tests)
        by_tier.setdefault(tier, []).append(tests)
    for groups in by_tier.values():
        if order == "reverse":
            groups.reverse()
        else:
            rng.shuffle(groups)
    items[:] = [t for tier in sorted(by_tier) for group in by_tier[tier] for t in group]


def pytest_report_header(config):
    if config.getoption("order") == "shuffle":
        return f"test order: shuffled inside each tier, --order-seed={config.getoption('order_seed')}"


_SESSION_TAGS: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def _drop_test_topics(settings: Settings):
    """Tests create topics named `labkit.test.<tag>.*`; remove this session's when it ends.

    Only this session's tags: another test session on the same services (a second terminal,
    a fresh clone's `make test`) must keep its topics."""
    yield
    if not _SESSION_TAGS or not preflight.check(settings, ("kafka",))["kafka"].ok:
        return
    admin = clients.kafka_admin(settings)
    try:
        leftovers = [t for t in admin.list_topics() if any(t.startswith(f"labkit.test.{tag}.") for tag in _SESSION_TAGS)]
        if leftovers:
            admin.delete_topics(leftovers)
    finally:
        admin.close()


@pytest.fixture
def pipeline(services: Settings):
    """Settings for an isolated pipeline: its own four topics and its own database.

    Tests that run the processor use this, so they never see each other's data (or the
    lab's). Topics go at the end of the session. The database is left in place: the local
    server (SecantusDB) deletes a database document by document, which cost ~10 s per test;
    `make reset` (or LAB_HOME in a fresh clone, as in CI) starts from nothing.
    """
    import uuid

    from labkit.config import Topics
    from labkit.ops.infra.topics import ensure_topics, topic_plan

    tag = uuid.uuid4().hex[:8]
    _SESSION_TAGS.append(tag)
    isolated = services.replace(
        topics=Topics(telemetry=f"labkit.test.{tag}.telemetry", dlq=f"labkit.test.{tag}.dlq",
                      anomaly=f"labkit.test.{tag}.anomaly", metrics=f"labkit.test.{tag}.metrics"),
        mongodb_db=f"labkit_test_{tag}",
    )
    ensure_topics(isolated, topic_plan(isolated))
    yield isolated
    # Its topics go now, not at the end of the session: a broker restarted after a SIGKILL
    # (the reliability tests) recovers every partition it holds, and hundreds add up.
    _delete_topics(services, isolated.topics.all())


def _delete_topics(settings: Settings, topics) -> None:
    """Best effort: a broker that a test left down keeps them until the session's cleanup."""
    from labkit.ops import clients

    try:
        admin = clients.kafka_admin(settings, request_timeout_ms=5000)
    except Exception:
        return
    try:
        admin.delete_topics([t for t in topics if t in set(admin.list_topics())])
    except Exception:
        pass
    finally:
        admin.close()
