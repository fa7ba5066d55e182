"""The one place that builds Kafka and MongoDB clients, so every part of the lab talks to the
services with the same settings.

    producer = clients.kafka_producer(settings)            # acks="all", idempotent
    consumer = clients.kafka_consumer(settings)            # no group, read_committed, no auto-commit
    admin = clients.kafka_admin(settings)
    mongo = clients.mongo_client(settings)                 # tz_aware, short timeouts

Each takes keyword overrides for what a caller needs differently (a group id, a longer
timeout), and the Kafka ones `bootstrap=` to talk to another cluster than the settings'
(labkit.scenarios.failover), or to a cluster the settings do not know, with no settings at
all (`clients.kafka_admin(bootstrap="localhost:19092")`, labkit.ops.infra.cluster).
The defaults, and why:

- producers wait for every in-sync replica (`acks="all"`) and are idempotent, set here
  because the client's default differs between the kafka-python versions the lab allows;
- consumers read only committed transactions (`read_committed`: the processor writes in
  transactions) and never commit on their own (offsets are committed after the data is safe);
- on a broker that asks who is calling (a class's stack), the Kafka clients sign in as the
  settings' user (KAFKA_USERNAME, KAFKA_PASSWORD: `Settings.kafka_auth`);
- MongoDB clients return aware UTC datetimes (`tz_aware=True`), and fail within seconds
  when the server is down, so a notebook cell or a request says so instead of hanging.

Student-facing notebook cells and exercise solutions build bare clients on purpose: seeing
every argument is the lesson there.
"""

from __future__ import annotations

from labkit.config import Settings

#: How long a MongoDB client looks for a server before it gives up (ms).
MONGO_TIMEOUT_MS = 3000


def kafka_producer(settings: Settings | None = None, bootstrap: str | None = None, **overrides):
    """A producer that waits for every in-sync replica (acks=all), idempotent, batching briefly."""
    from kafka import KafkaProducer

    config = dict(bootstrap_servers=_bootstrap(settings, bootstrap), acks="all",
                  enable_idempotence=True, linger_ms=5, retries=5, request_timeout_ms=15000, max_block_ms=10000)
    return KafkaProducer(**{**config, **_auth(settings, bootstrap), **overrides})


def kafka_consumer(settings: Settings | None = None, bootstrap: str | None = None, **overrides):
    """A consumer without a group (unless `group_id=` is given) that reads only committed
    transactions and never commits on its own."""
    from kafka import KafkaConsumer

    config = dict(bootstrap_servers=_bootstrap(settings, bootstrap), group_id=None,
                  enable_auto_commit=False, isolation_level="read_committed")
    return KafkaConsumer(**{**config, **_auth(settings, bootstrap), **overrides})


def kafka_admin(settings: Settings | None = None, bootstrap: str | None = None, **overrides):
    """An admin client (topics, groups, cluster metadata)."""
    from kafka import KafkaAdminClient

    config = dict(bootstrap_servers=_bootstrap(settings, bootstrap), request_timeout_ms=10000)
    return KafkaAdminClient(**{**config, **_auth(settings, bootstrap), **overrides})


def _bootstrap(settings: Settings | None, bootstrap: str | None) -> str:
    """The Kafka servers to bootstrap from: `bootstrap` when given, else the settings'."""
    if bootstrap:
        return bootstrap
    if settings is None:
        raise ValueError("a Kafka client needs settings or bootstrap=")
    return settings.kafka_bootstrap_servers


def _auth(settings: Settings | None, bootstrap: str | None) -> dict[str, str]:
    """The settings' Kafka sign-in (SASL/SCRAM on a class's broker), for the settings' own
    cluster only: another one given by `bootstrap` (notebook 11's own brokers) is open."""
    if settings is None or not settings.is_own_cluster(bootstrap):
        return {}
    return settings.kafka_auth


def mongo_client(settings: Settings, **overrides):
    """A MongoDB client with aware UTC datetimes that gives up within seconds when the server
    is down. It connects lazily: building one never waits."""
    from pymongo import MongoClient

    config = dict(tz_aware=True, serverSelectionTimeoutMS=MONGO_TIMEOUT_MS, connectTimeoutMS=MONGO_TIMEOUT_MS,
                  socketTimeoutMS=15000)
    return MongoClient(settings.mongodb_uri, **{**config, **overrides})
