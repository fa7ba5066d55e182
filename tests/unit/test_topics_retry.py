"""ensure_topics tries again when the cluster is still settling, and only then."""

import pytest
from kafka.errors import TopicAuthorizationFailedError, UnknownBrokerIdError

from labkit.config import Settings
from labkit.ops.infra import topics


def test_a_controller_unknown_to_the_first_client_is_tried_again(monkeypatch):
    calls = []

    def create(settings, plan, bootstrap, configs):
        calls.append(plan)
        if len(calls) == 1:
            raise UnknownBrokerIdError(3)  # the cluster named a broker the client had not heard of yet
        return sorted(plan)

    monkeypatch.setattr(topics, "_create_missing", create)
    monkeypatch.setattr(topics.time, "sleep", lambda s: None)
    assert topics.ensure_topics(Settings(), {"a": 1, "b": 2}) == ["a", "b"]
    assert len(calls) == 2


def test_a_fatal_error_is_not_tried_again(monkeypatch):
    calls = []

    def create(settings, plan, bootstrap, configs):
        calls.append(plan)
        raise TopicAuthorizationFailedError()

    monkeypatch.setattr(topics, "_create_missing", create)
    with pytest.raises(TopicAuthorizationFailedError):
        topics.ensure_topics(Settings(), {"a": 1})
    assert len(calls) == 1
