"""The sandbox's reset waits out a broker that has just started (no services: a stand-in admin)."""

import pytest
from kafka.errors import CoordinatorLoadInProgressError, GroupAuthorizationFailedError

from labkit.ops import sandbox

pytestmark = pytest.mark.unit


class Admin:
    def __init__(self, failures):
        self.failures, self.calls = list(failures), 0

    def list_groups(self):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return [{"group_id": "lab02.processor"}, {"group_id": "other"}]


def test_a_coordinator_still_loading_is_waited_out():
    admin = Admin([CoordinatorLoadInProgressError(), CoordinatorLoadInProgressError()])
    assert sandbox._group_ids(admin) == ["lab02.processor", "other"] and admin.calls == 3


def test_a_fatal_error_is_raised_at_once():
    admin = Admin([GroupAuthorizationFailedError()])
    with pytest.raises(GroupAuthorizationFailedError):
        sandbox._group_ids(admin)
    assert admin.calls == 1
