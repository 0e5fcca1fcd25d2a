"""OpenAPI checks every service with public routes passes. A service's tests collect them with

from flotilla_testing.openapi import *  # noqa: F403

and check its table of requests, bound by bound, with bound_cases and check_bound.
"""

from collections.abc import Callable, Mapping
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flotilla.openapi import (
    documented_operations,
    request_bounds,
    request_mismatches,
    routed_operations,
)
from flotilla.schema import Bound


def test_openapi_documents_every_public_route_and_nothing_else(app, client):
    document = client.get("/openapi.json").json
    assert document["openapi"].startswith("3.")
    assert documented_operations(document) == routed_operations(app)


def test_every_operation_has_an_id_and_its_success_response(client):
    document = client.get("/openapi.json").json
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["operationId"], (method, path)
            assert any(status.startswith("2") for status in operation["responses"]), (method, path)


def test_request_schemas_are_what_the_views_validate(app, client):
    assert request_mismatches(app, client.get("/openapi.json").json) == []


def bound_cases(views: Mapping[str, Callable]) -> list[tuple[str, Bound]]:
    """Return (operation, bound) for every bound documented for the views, by operation."""
    return [
        (operation, bound) for operation, view in views.items() for bound in request_bounds(view)
    ]


def check_bound(
    client: FlaskClient,
    operation: str,
    bound: Bound,
    value: Any,
    *,
    valid: dict,
    accepted: int | None,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    """Send operation ("METHOD path") the valid request with value at bound's field; assert
    that a value at the bound gets accepted (the status accepted; None: the caller checks)
    and one beyond it API.md's error naming the field. Return the response."""
    method, path = operation.split()
    if bound.location == "query":
        sent = {"query_string": {**valid, bound.field: value}}
    else:
        sent = {"json": bound.placed(valid, value)}
    response = client.open(path, method=method, headers=headers or {}, **sent)
    if bound.inside:
        assert accepted is None or response.status_code == accepted, response.json
    elif bound.location == "query":
        assert response.status_code == 400, response.json
        assert response.json["error"]["message"].startswith(f"{bound.field} "), response.json
    else:
        assert response.status_code == 422, response.json
        assert bound.field in response.json["error"]["fields"], response.json
    return response
