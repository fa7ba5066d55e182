"""Property-based fuzzing of the API from its own OpenAPI schema (schemathesis + hypothesis):
whatever the parameters, no response is a server error. Runs against a real server on a
socket, over seeded data. (Driven directly rather than through schemathesis' pytest plugin,
which does not support this pytest version.)"""

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from labkit.api.runner import ApiServer
from tests.api_seed import seed

EXAMPLES_PER_ROUTE = 20


def test_no_generated_request_makes_the_api_fail(pipeline):
    seed(pipeline)
    with ApiServer(pipeline, port=18766) as api:
        schema = schemathesis.openapi.from_url(api.url + "/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) == 18  # /series/speed is /series/{metric}; /windows, /pipeline/lag(/now, /broker), /class/* included
        calls = {"n": 0}
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, suppress_health_check=list(HealthCheck),
                      database=None)
            def fuzz(case):
                response = case.call(timeout=30)
                calls["n"] += 1
                case.validate_response(response, checks=[not_a_server_error])

            fuzz()
        assert calls["n"] >= len(operations) * 5  # it really sent requests
