"""notification-service passes the OpenAPI checks (flotilla_testing.openapi), and every bound
its document gives a request is where the endpoint draws it."""

import pytest

from flotilla_testing.openapi import DocumentChecks, bound_cases, check_bound, request_views
from notification_service import routes

VIEWS = {"GET /api/notifications": routes.list_notifications}


class TestDocument(DocumentChecks):
    """The checks every service's document passes (flotilla_testing.openapi)."""


def test_the_table_holds_every_operation_that_reads_a_request(app):
    assert request_views(app) == VIEWS


@pytest.mark.parametrize("operation, bound", bound_cases(VIEWS), ids=str)
def test_every_documented_bound_is_where_the_endpoint_draws_it(
    client, customer_headers, operation, bound
):
    value = bound.value("x".__mul__, entries=lambda count: [])
    check_bound(client, operation, bound, value, valid={}, accepted=200, headers=customer_headers)
