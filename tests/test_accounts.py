"""User accounts end to end: NGINX -> api-gateway -> user-service -> PostgreSQL."""

import pytest

from conftest import PASSWORD, bearer


def test_register_login_me_patch_refresh(api, new_email):
    email = new_email()
    registered = api.post(
        "/api/auth/register", json={"email": email.upper(), "password": PASSWORD, "name": "Ada"}
    )
    assert registered.status_code == 201
    assert registered.json()["email"] == email

    tokens = api.post("/api/auth/login", json={"email": email, "password": PASSWORD}).json()
    me = api.get("/api/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json() == registered.json()

    patched = api.patch(
        "/api/users/me", json={"name": "Ada L."}, headers=bearer(tokens["access_token"])
    )
    assert patched.status_code == 200 and patched.json()["name"] == "Ada L."

    rotated = api.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    assert api.get("/api/users/me", headers=bearer(rotated.json()["access_token"])).ok
    reused = api.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reused.status_code == 401


@pytest.mark.parametrize(
    "path, body, status, code",
    [
        (
            "/api/auth/register",
            {"email": "bad", "password": PASSWORD, "name": "A"},
            422,
            "validation_error",
        ),
        (
            "/api/auth/register",
            {"email": "a@b.cd", "password": "short", "name": "A"},
            422,
            "validation_error",
        ),
        (
            "/api/auth/register",
            {"email": "a@b.cd", "password": PASSWORD, "name": ""},
            422,
            "validation_error",
        ),
        ("/api/auth/register", {"email": "a@b.cd", "password": PASSWORD}, 422, "validation_error"),
        (
            "/api/auth/login",
            {"email": "nobody@example.com", "password": PASSWORD},
            401,
            "unauthorized",
        ),
        ("/api/auth/refresh", {"refresh_token": "nope"}, 401, "invalid_token"),
        ("/api/auth/refresh", {}, 422, "validation_error"),
    ],
)
def test_bad_auth_input_gets_its_json_error(api, path, body, status, code):
    response = api.post(path, json=body)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["request_id"] == response.headers["X-Request-ID"]


def test_email_taken_is_409(api, account):
    response = api.post(
        "/api/auth/register",
        json={"email": account["email"], "password": PASSWORD, "name": "Again"},
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "email_taken"


@pytest.mark.parametrize(
    "data, content_type, status",
    [("{oops", "application/json", 400), ("a=b", "application/x-www-form-urlencoded", 415)],
)
def test_unparsable_or_non_json_bodies(api, data, content_type, status):
    response = api.post("/api/auth/register", data=data, headers={"Content-Type": content_type})
    assert response.status_code == status


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer garbage", "Bearer a.b.c", "Basic YTpi"],
)
def test_wrong_tokens_are_401_at_the_gateway(api, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = api.get("/api/users/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"unauthorized", "invalid_token"}


def test_refresh_token_is_not_an_access_token(api, account):
    response = api.get("/api/users/me", headers=bearer(account["refresh_token"]))
    assert response.status_code == 401


def test_a_customer_cannot_read_another_user(api, account, auth_headers, new_email):
    other = api.post(
        "/api/auth/register", json={"email": new_email(), "password": PASSWORD, "name": "B"}
    ).json()
    assert api.get(f"/api/users/{other['id']}", headers=auth_headers).status_code == 404
    assert api.get(f"/api/users/{account['id']}", headers=auth_headers).status_code == 200


def test_the_configured_admin_can_read_any_user(api, account):
    import os

    admin = api.post(
        "/api/auth/login",
        json={"email": os.environ["ADMIN_EMAIL"], "password": os.environ["ADMIN_PASSWORD"]},
    )
    assert admin.status_code == 200
    response = api.get(f"/api/users/{account['id']}", headers=bearer(admin.json()["access_token"]))
    assert response.status_code == 200
    assert response.json()["email"] == account["email"]
