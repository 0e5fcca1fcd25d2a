"""order-service passes the OpenAPI checks (flotilla_testing.openapi), and every bound its
document gives a request is where the endpoint draws it."""

import pytest

from flotilla_testing.openapi import DocumentChecks, bound_cases, check_bound, request_views
from order_service import routes, schemas

# Every operation that reads a request: its view, and the answer to a valid request.
OPERATIONS = {
    "GET /api/orders": (routes.list_orders, 200),
    "POST /api/orders": (routes.create_order, 201),
}
VIEWS = {operation: view for operation, (view, _) in OPERATIONS.items()}


class TestDocument(DocumentChecks):
    """The checks every service's document passes (flotilla_testing.openapi)."""


def test_the_table_holds_every_operation_that_reads_a_request(app):
    assert request_views(app) == VIEWS


@pytest.fixture(scope="session")
def product_ids(catalog) -> list[int]:
    """As many products as an order may have lines, each with stock for any quantity."""
    return [catalog.create(stock=10**6)["id"] for _ in range(schemas.MAX_LINES)]


def _lines(product_ids: list[int], count: int) -> list[dict]:
    # Past the most lines allowed the list is refused whole: its entries are never read.
    return [{"product_id": product_ids[n % len(product_ids)], "quantity": 1} for n in range(count)]


@pytest.mark.parametrize("operation, bound", bound_cases(VIEWS), ids=str)
def test_every_documented_bound_is_where_the_endpoint_draws_it(
    client, alice, product_ids, operation, bound
):
    valid = {} if bound.location == "query" else {"items": _lines(product_ids, 1)}
    value = bound.value("x".__mul__, entries=lambda count: _lines(product_ids, count))
    # Product ids are looked up once valid: one that no product has is refused for that alone.
    looked_up = bound.inside and bound.field.endswith("product_id")
    accepted = None if looked_up else OPERATIONS[operation][1]
    response = check_bound(
        client, operation, bound, value, valid=valid, accepted=accepted, headers=alice["headers"]
    )
    if looked_up and response.status_code != 201:
        assert response.json["error"]["fields"] == {bound.field: "no such product"}
