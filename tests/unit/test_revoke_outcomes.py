"""03.2's check judges what the student's listener did: a refused commit in a later revoke
(kafka-python calling the listener again while it leaves or rejoins a group) is left out once
a first revoke returned; any other error, or a refusal on the first revoke, is judged."""

import pytest
from kafka.errors import RebalanceInProgressError

from labkit.teach.checks.nb03 import _Recorded
from labkit.teach.exercises import _Failed

pytestmark = pytest.mark.unit


def _recorded(*outcomes):
    recorded = _Recorded(listener=None)
    recorded.outcomes = list(outcomes)
    return recorded


def test_a_refused_commit_after_a_first_revoke_is_left_out():
    refused = _Failed(RebalanceInProgressError("rebalancing"))
    assert _recorded(("revoked", None), ("assigned", None), ("revoked", refused)).judged() == [None, None]


def test_a_refusal_on_the_first_revoke_and_any_other_error_are_judged():
    refused, bug = _Failed(RebalanceInProgressError("rebalancing")), _Failed(KeyError("tp"))
    assert _recorded(("revoked", refused)).judged() == [refused]
    assert _recorded(("revoked", None), ("revoked", bug)).judged() == [None, bug]
