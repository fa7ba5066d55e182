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
        for tier in ("unit", "integration", "notebooks", "reliability"):
            if f"/tests/{tier}/" in str(item.path):
                item.add_marker(getattr(pytest.mark, "notebook" if tier == "notebooks" else tier))


@pytest.fixture(scope="session", autouse=True)
def _drop_test_topics(settings: Settings):
    """Tests create topics named `labkit.test.*`; remove them when the session ends."""
    yield
    if not preflight.check(settings, ("kafka",))["kafka"].ok:
        return
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        leftovers = [t for t in admin.list_topics() if t.startswith("labkit.test.")]
        if leftovers:
            admin.delete_topics(leftovers)
    finally:
        admin.close()
