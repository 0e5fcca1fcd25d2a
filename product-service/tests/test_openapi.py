"""product-service passes the OpenAPI checks (flotilla_testing.openapi), and every bound its
document gives a request is where the endpoint draws it."""

import pytest

from flotilla_testing.openapi import DocumentChecks, bound_cases, check_bound, request_views
from product_service import routes

# Every operation that reads a request: its view, a valid request and the answer to it.
OPERATIONS = {
    "GET /api/products": (routes.list_products, {}, 200),
    "POST /api/products": (
        routes.create_product,
        {"sku": "BOUNDS-1", "name": "Probe", "price_cents": 250, "stock": 10},
        201,
    ),
    "PATCH /api/products/{product_id}": (routes.update_product, {"name": "Probe"}, 200),
}
VIEWS = {operation: view for operation, (view, *_) in OPERATIONS.items()}


class TestDocument(DocumentChecks):
    """The checks every service's document passes (flotilla_testing.openapi)."""


def test_the_table_holds_every_operation_that_reads_a_request(app):
    assert request_views(app) == VIEWS


@pytest.mark.parametrize("operation, bound", bound_cases(VIEWS), ids=str)
def test_every_documented_bound_is_where_the_endpoint_draws_it(
    client, admin_headers, make_product, operation, bound
):
    _, valid, accepted = OPERATIONS[operation]
    operation = operation.format(product_id=make_product()["id"])
    value = bound.value("x".__mul__, entries=list)
    check_bound(
        client, operation, bound, value, valid=valid, accepted=accepted, headers=admin_headers
    )
