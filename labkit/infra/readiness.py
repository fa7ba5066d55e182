"""Is a server ready to serve? Protocol-level answers, not just an open port."""

from __future__ import annotations

from labkit.config import Settings


def kafka_ready(settings: Settings, timeout_ms: int = 2000) -> bool:
    """True when the broker answers a metadata request (a listening port is not enough)."""
    import socket

    from kafka import KafkaAdminClient

    # A closed port answers "no" at once; the client would retry for half a minute.
    try:
        socket.create_connection(settings.kafka_host_port, timeout=1).close()
    except OSError:
        return False

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            request_timeout_ms=timeout_ms,
        )
    except Exception:
        return False
    try:
        admin.describe_cluster()
        return True
    except Exception:
        return False
    finally:
        admin.close()


def mongodb_ready(settings: Settings, timeout_ms: int = 1000) -> bool:
    """True when the server answers `ping`."""
    from pymongo import MongoClient

    client = MongoClient(settings.mongodb_uri, serverSelectionTimeoutMS=timeout_ms, connect=False)
    try:
        client.admin.command("ping")
        return True
    except Exception:
        return False
    finally:
        client.close()


def service_versions(settings: Settings) -> dict[str, str]:
    """What each server says it is: Kafka's API version as the client detects it, and the
    MongoDB server's version string (the local server answers as 4.4)."""
    from kafka import KafkaConsumer
    from pymongo import MongoClient

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        consumer.topics()  # forces a connection so the version is detected
        kafka_api = ".".join(map(str, consumer.config["api_version"]))
    finally:
        consumer.close()
    client = MongoClient(settings.mongodb_uri, serverSelectionTimeoutMS=2000)
    try:
        info = client.server_info()
    finally:
        client.close()
    return {"kafka (API level)": kafka_api, "mongodb": info.get("version", "?")}
