"""Retry decisions come from the client libraries' own error classes."""

import pytest
from kafka import errors as kafka_errors
from pymongo import errors as mongo_errors

from labkit.ops.transient import is_transient


@pytest.mark.parametrize("exc", [
    kafka_errors.KafkaConnectionError("broker gone"), kafka_errors.KafkaTimeoutError("slow"),
    kafka_errors.NotLeaderForPartitionError(), kafka_errors.RequestTimedOutError(),
    kafka_errors.UnknownBrokerIdError(3),  # a broker newer than the client's metadata
    mongo_errors.AutoReconnect("reset"), mongo_errors.ServerSelectionTimeoutError("no server"),
    mongo_errors.NetworkTimeout("timeout"), mongo_errors.NotPrimaryError("stepped down"),
])
def test_outages_are_transient(exc):
    assert is_transient(exc)


@pytest.mark.parametrize("exc", [
    kafka_errors.TopicAuthorizationFailedError(), kafka_errors.CommitFailedError("rebalanced"),
    mongo_errors.DuplicateKeyError("dup"), mongo_errors.OperationFailure("bad $group"),
    ValueError("a bug"), KeyError("speed"),
])
def test_everything_else_is_fatal(exc):
    assert not is_transient(exc)
