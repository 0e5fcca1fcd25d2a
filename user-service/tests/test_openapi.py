"""user-service passes the OpenAPI checks (flotilla_testing.openapi); its document says what
the models check; every documented bound holds."""

import pytest

from flotilla_testing.accounts import PASSWORD
from flotilla_testing.openapi import DocumentChecks, bound_cases, check_bound, request_views
from user_service import routes


class TestDocument(DocumentChecks):
    """The checks every service's document passes (flotilla_testing.openapi)."""


def test_the_document_is_made_from_the_routes_and_their_models(client):
    document = client.get("/openapi.json").json
    assert document["openapi"] == "3.1.0"
    patch = document["paths"]["/api/users/me"]["patch"]
    assert patch["security"] == [{"bearerAuth": []}]
    assert patch["summary"].startswith("Change the caller's name")
    assert {"200", "400", "401", "403", "415", "422"} <= patch["responses"].keys()
    change = document["components"]["schemas"]["ChangeMe"]
    assert change["allOf"] == [
        {"anyOf": [{"not": {"required": ["password"]}}, {"required": ["current_password"]}]}
    ]
    assert change["minProperties"] == 1 and change["additionalProperties"] is False
    assert "default" not in change["properties"]["name"]  # left out, never null
    register = document["paths"]["/api/auth/register"]["post"]
    assert register["security"] == []
    assert register["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/User"
    }


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
