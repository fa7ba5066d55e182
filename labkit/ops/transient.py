"""Which errors are worth waiting out: the client libraries' own classification, not names.

kafka-python marks every error that a retry can cure with the class attribute `retriable`
(connection lost, leader moving, request timed out, ...); PyMongo raises `ConnectionFailure`
(and its subclasses: `AutoReconnect`, `NetworkTimeout`, `ServerSelectionTimeoutError`,
`NotPrimaryError`) when the server cannot be reached, and labels other retryable write
failures `RetryableWriteError`. Anything else (a bad document, an authorisation error, a
programming error) is fatal: retrying would only repeat it.
"""

from __future__ import annotations


def is_transient(exc: BaseException) -> bool:
    """True when waiting and trying again can succeed."""
    from kafka.errors import KafkaError, UnknownBrokerIdError
    from pymongo.errors import ConnectionFailure, PyMongoError

    if isinstance(exc, UnknownBrokerIdError):
        # Not marked retriable, but it only means the client's metadata does not list a broker
        # that the cluster just named (a coordinator or leader on a node that joined after the
        # client's last metadata refresh); the next refresh lists it.
        return True
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False))
    if isinstance(exc, ConnectionFailure):
        return True
    if isinstance(exc, PyMongoError):
        return exc.has_error_label("RetryableWriteError")
    return False
