"""Fixtures the integration tests share."""

import pytest

from labkit.ops import clients
from labkit.store.mongo import ensure_indexes


@pytest.fixture
def db(pipeline):
    """The isolated pipeline's database, with the lab's indexes (a test module may override
    this fixture to seed it, and ask for this one by the same name)."""
    client = clients.mongo_client(pipeline)
    database = client[pipeline.mongodb_db]
    ensure_indexes(database, pipeline)
    yield database
    client.close()
