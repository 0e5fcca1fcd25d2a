"""user-service passes the OpenAPI checks (flotilla_testing.openapi); flotilla.openapi
finds a request documented otherwise than validated; every documented bound holds."""

import pytest

from flotilla.openapi import describe_requests, request_mismatches, request_views
from flotilla_testing.accounts import PASSWORD
from flotilla_testing.openapi import *  # noqa: F403
from flotilla_testing.openapi import bound_cases, check_bound
from user_service import routes


def test_a_request_documented_otherwise_than_validated_is_found(app, client):
    document = client.get("/openapi.json").json
    document["components"]["schemas"]["RegisterRequest"]["properties"]["name"]["maxLength"] = 99
    del document["paths"]["/api/users/me"]["patch"]["requestBody"]
    found = "\n".join(request_mismatches(app, document))
    assert "POST /api/auth/register name: documented" in found
    assert "PATCH /api/users/me password: documented None" in found
    assert "email" not in found


def test_openapi_json_may_not_describe_a_request_itself(app):
    document = {"paths": {"/api/auth/login": {"post": {"requestBody": {}, "responses": {}}}}}
    with pytest.raises(ValueError, match="POST /api/auth/login"):
        describe_requests(app, document)
    # Nor may it leave out the operationId that names a request's schema.
    with pytest.raises(ValueError, match="operationId"):
        describe_requests(app, {"paths": {"/api/auth/login": {"post": {"responses": {}}}}})


# Every operation that reads a request: its view, a valid body and the answer to it.
OPERATIONS = {
    "POST /api/auth/register": (
        routes.register,
        {"email": "bounds@example.com", "password": PASSWORD, "name": "Ada"},
        201,
    ),
    "POST /api/auth/login": (
        routes.login,
        {"email": "nobody@example.com", "password": ""},
        401,
    ),
    "POST /api/auth/refresh": (routes.refresh, {"refresh_token": "unknown"}, 401),
    "POST /api/auth/logout": (routes.logout, {"refresh_token": "unknown"}, 204),
    # Like login's: valid in shape, refused for its content, so every field's bounds count.
    "PATCH /api/users/me": (
        routes.patch_me,
        {"name": "Ada", "password": "a new password", "current_password": "not the password"},
        403,
    ),
}
VIEWS = {operation: view for operation, (view, *_) in OPERATIONS.items()}


def test_the_table_holds_every_operation_that_reads_a_request(app):
    assert request_views(app) == VIEWS


def _email(length: int) -> str:
    domain = "@example.com"
    return "a" * (length - len(domain)) + domain


@pytest.mark.parametrize("operation, bound", bound_cases(VIEWS), ids=str)
def test_every_documented_bound_is_where_the_endpoint_draws_it(request, client, operation, bound):
    _, valid, accepted = OPERATIONS[operation]
    value = bound.value(_email if bound.field == "email" else "x".__mul__, entries=list)
    headers = request.getfixturevalue("auth_headers") if operation.startswith("PATCH") else {}
    check_bound(client, operation, bound, value, valid=valid, accepted=accepted, headers=headers)
