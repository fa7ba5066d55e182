"""Shared fixtures. Integration tiers need the real services: `make test` starts them.

A test that needs a service and finds it down FAILS with the fix (it is never skipped),
so a green run always means the real thing was exercised.
"""

from __future__ import annotations

import pytest

from labkit import preflight
from labkit.config import Settings


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


def pytest_collection_modifyitems(items):
    """Mark each test by its folder, so `-m unit` etc. select tiers."""
    for item in items:
        for tier in ("unit", "integration", "notebooks", "reliability", "browser"):
            if f"/tests/{tier}/" in str(item.path):
                item.add_marker(getattr(pytest.mark, "notebook" if tier == "notebooks" else tier))


_SESSION_TAGS: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def _drop_test_topics(settings: Settings):
    """Tests create topics named `labkit.test.<tag>.*`; remove this session's when it ends.

    Only this session's tags: another test session on the same services (a second terminal,
    a fresh clone's `make test`) must keep its topics."""
    yield
    if not _SESSION_TAGS or not preflight.check(settings, ("kafka",))["kafka"].ok:
        return
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
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
    from labkit.infra.topics import ensure_topics, topic_plan

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
    from labkit import clients

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
