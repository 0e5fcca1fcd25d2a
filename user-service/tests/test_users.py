"""/api/users/me and /api/users/{id} (API.md, "Auth")."""

import pytest

from flotilla_testing.accounts import PASSWORD, bearer


def test_me_returns_the_caller(client, user, auth_headers):
    response = client.get("/api/users/me", headers=auth_headers)
    assert response.status_code == 200
    assert response.json == {key: user[key] for key in response.json}
    assert "password_hash" not in response.json


def test_me_without_a_token_is_401(client):
    response = client.get("/api/users/me")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_patch_me_changes_the_name(client, auth_headers):
    response = client.patch("/api/users/me", json={"name": "  Grace  "}, headers=auth_headers)
    assert response.status_code == 200
    assert response.json["name"] == "Grace"
    assert client.get("/api/users/me", headers=auth_headers).json["name"] == "Grace"


def test_patch_me_changes_the_password(client, user, auth_headers, login):
    new_password = "a much better password"
    response = client.patch(
        "/api/users/me",
        json={"password": new_password, "current_password": PASSWORD},
        headers=auth_headers,
    )
    assert response.status_code == 200
    old = client.post("/api/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert old.status_code == 401
    assert login(user["email"], new_password)["access_token"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"role": "admin"}, "role"),
        ({"id": 1}, "id"),
        ({"email": "other@example.com"}, "email"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": None}, "name"),
        ({"password": "short"}, "password"),
        ({"password": 123456789}, "password"),
    ],
)
def test_patch_me_rejects_unknown_or_invalid_fields(client, auth_headers, body, field):
    before = client.get("/api/users/me", headers=auth_headers).json
    response = client.patch("/api/users/me", json=body, headers=auth_headers)
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]
    assert client.get("/api/users/me", headers=auth_headers).json == before


def test_patch_me_with_nothing_is_422(client, auth_headers):
    assert client.patch("/api/users/me", json={}, headers=auth_headers).status_code == 422


def test_a_user_can_read_itself_by_id(client, user, auth_headers):
    response = client.get(f"/api/users/{user['id']}", headers=auth_headers)
    assert response.status_code == 200
    assert response.json["email"] == user["email"]


def test_another_users_account_is_404(client, register, auth_headers):
    other = register()
    response = client.get(f"/api/users/{other['id']}", headers=auth_headers)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_an_admin_can_read_any_user(client, user, admin_headers):
    response = client.get(f"/api/users/{user['id']}", headers=admin_headers)
    assert response.status_code == 200
    assert response.json["id"] == user["id"]


@pytest.mark.parametrize("user_id", ["999999", str(2**63), str(2**70), "abc", "-1", "1.5"])
def test_unknown_or_impossible_ids_are_404(client, admin_headers, user_id):
    response = client.get(f"/api/users/{user_id}", headers=admin_headers)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_the_configured_admin_exists_with_the_admin_role(client, admin_headers):
    assert client.get("/api/users/me", headers=admin_headers).json["role"] == "admin"


def test_users_reject_tokens_after_the_account_is_gone(client, db, user, auth_headers):
    with db.transaction() as cursor:
        cursor.execute("DELETE FROM users WHERE id = %s", (user["id"],))
    assert client.get("/api/users/me", headers=auth_headers).status_code == 404


def test_wrong_method_is_405_with_allow(client, auth_headers):
    response = client.delete("/api/users/me", headers=auth_headers)
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"
    assert "PATCH" in response.headers["Allow"]


def test_unknown_path_is_404_json(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert response.json["error"]["request_id"] == response.headers["X-Request-ID"]


def test_refresh_after_password_change_still_needs_a_live_token(client, user, login):
    pair = login(user["email"])
    headers = bearer(pair["access_token"])
    changed = client.patch(
        "/api/users/me",
        json={"password": "another password", "current_password": PASSWORD},
        headers=headers,
    )
    assert changed.status_code == 200
    response = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 401
