"""__SERVICE__ passes the OpenAPI checks (flotilla_testing.openapi), and every bound its
document gives a request is where the endpoint draws it."""

import pytest

from flotilla_testing.openapi import DocumentChecks, bound_cases, check_bound, request_views
from __PACKAGE__ import routes

# Every operation that reads a request: its view, and the answer to a valid request.
OPERATIONS = {
    "GET __PREFIX__": (routes.list_entries, 200),
    "POST __PREFIX__": (routes.create_entry, 201),
}
VIEWS = {operation: view for operation, (view, _) in OPERATIONS.items()}


class TestDocument(DocumentChecks):
    """The checks every service's document passes (flotilla_testing.openapi)."""


def test_the_table_holds_every_operation_that_reads_a_request(app):
    assert request_views(app) == VIEWS


@pytest.mark.parametrize("operation, bound", bound_cases(VIEWS), ids=str)
def test_every_documented_bound_is_where_the_endpoint_draws_it(
    client, customer_headers, operation, bound
):
    valid = {} if bound.location == "query" else {"name": "Entry"}
    value = bound.value("x".__mul__, entries=lambda count: [])
    accepted = OPERATIONS[operation][1]
    check_bound(
        client, operation, bound, value, valid=valid, accepted=accepted, headers=customer_headers
    )
