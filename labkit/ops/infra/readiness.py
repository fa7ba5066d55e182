"""Is a server ready to serve? Protocol-level answers, not just an open port."""

from __future__ import annotations

import socket

from labkit.config import Settings
from labkit.ops import clients


def kafka_ready(settings: Settings, timeout_ms: int = 2000) -> bool:
    """True when any listed bootstrap server answers a metadata request (a listening port is
    not enough). They are asked in order; one is enough, as it is for every client."""
    return any(broker_answers(settings, address, timeout_ms) for address in settings.kafka_addresses)


def broker_answers(settings: Settings, address: tuple[str, int], timeout_ms: int = 2000) -> bool:
    """True when the one server at `address` (host, port) answers a metadata request."""
    # A closed port answers "no" at once; the client would retry for half a minute.
    try:
        socket.create_connection(address, timeout=1).close()
    except OSError:
        return False

    host, port = address
    try:
        # Bootstrapped from this server alone, so the answer is this server's.
        admin = clients.kafka_admin(settings, bootstrap=f"{host}:{port}", request_timeout_ms=timeout_ms)
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
    client = clients.mongo_client(settings, serverSelectionTimeoutMS=timeout_ms, connect=False)
    try:
        client.admin.command("ping")
        return True
    except Exception:
        return False
    finally:
        client.close()


def service_versions(settings: Settings) -> dict[str, str]:
    """What each server says it is: Kafka's API version as the client detects it, the MongoDB
    version the server reports, and which server that is (SecantusDB reports the MongoDB version
    it follows, and its own in `secantusVersion`; mongo-java-server reports 4.4)."""
    consumer = clients.kafka_consumer(settings)
    try:
        consumer.topics()  # forces a connection so the version is detected
        kafka_api = ".".join(map(str, consumer.config["api_version"]))
    finally:
        consumer.close()
    client = clients.mongo_client(settings)
    try:
        info = client.server_info()
    finally:
        client.close()
    server = (f"SecantusDB {info['secantusVersion']} (a MongoDB-compatible server)" if "secantusVersion" in info
              else "mongo-java-server (a MongoDB-compatible server)" if info.get("version", "").startswith("4.4")
              else "MongoDB")
    return {"kafka (API level)": kafka_api, "mongodb (version it reports)": info.get("version", "?"),
            "mongodb server": server}
