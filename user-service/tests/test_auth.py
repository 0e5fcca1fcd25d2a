"""Register, login and refresh (API.md, "Auth")."""

import pytest
from argon2 import extract_parameters

from flotilla_testing.accounts import PASSWORD, bearer
from user_service import passwords


def test_register_returns_the_user_without_secrets(client):
    response = client.post(
        "/api/auth/register",
        json={"email": "  Ada@Example.COM ", "password": PASSWORD, "name": " Ada "},
    )
    assert response.status_code == 201
    body = response.json
    assert set(body) == {"id", "email", "name", "role", "created_at"}
    assert body["email"] == "ada@example.com"
    assert body["name"] == "Ada"
    assert body["role"] == "customer"
    assert body["created_at"].endswith("Z")


def _stored_hash(db, user_id: int) -> str:
    with db.transaction() as cursor:
        cursor.execute("SELECT password_hash FROM users WHERE id = %s", (user_id,))
        return cursor.fetchone()["password_hash"]


def test_password_is_stored_as_argon2id(db, user):
    stored = _stored_hash(db, user["id"])
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_login_upgrades_a_weaker_hash_to_the_production_parameters(
    db, user, login, production_hasher, monkeypatch
):
    assert extract_parameters(_stored_hash(db, user["id"])).memory_cost == 8
    monkeypatch.setattr(passwords, "_hasher", production_hasher)
    login(user["email"])
    upgraded = extract_parameters(_stored_hash(db, user["id"]))
    # RFC 9106's low-memory profile: Argon2id, t=3, m=64 MiB, p=4.
    assert (upgraded.type.name, upgraded.time_cost, upgraded.memory_cost) == ("ID", 3, 65536)
    assert upgraded.parallelism == 4
    login(user["email"])  # the upgraded hash still verifies


@pytest.mark.parametrize("email", ["taken@example.com", "TAKEN@example.com", " taken@example.com"])
def test_register_twice_is_409_email_taken(client, register, email):
    register("taken@example.com")
    response = client.post(
        "/api/auth/register", json={"email": email, "password": PASSWORD, "name": "B"}
    )
    assert response.status_code == 409
    assert response.json["error"]["code"] == "email_taken"


VALID = {"email": "new@example.com", "password": PASSWORD, "name": "New"}


@pytest.mark.parametrize(
    "change, field",
    [
        ({"email": None}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"email": 12}, "email"),
        ({"email": "x" * 250 + "@example.com"}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "x" * 129}, "password"),
        ({"password": 12345678}, "password"),
        ({"password": True}, "password"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "x" * 10_000}, "name"),
        ({"name": ["Ada"]}, "name"),
        ({"role": "admin"}, "role"),
        ({"id": 1}, "id"),
    ],
)
def test_register_rejects_invalid_fields_with_422(client, db, change, field):
    body = {**VALID, **change}
    response = client.post("/api/auth/register", json=body)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    with db.transaction() as cursor:
        cursor.execute("SELECT count(*) AS n FROM users WHERE role = 'customer'")
        assert cursor.fetchone()["n"] == 0


@pytest.mark.parametrize(
    "name", ["Ada\nLovelace", "Ada\tL", "Ada\u2028L", "Ada\u2029", "A\x85da", "\x1bAda"]
)
def test_a_name_is_one_line_without_control_characters(client, name):
    response = client.post("/api/auth/register", json={**VALID, "name": name})
    assert response.status_code == 422
    assert "name" in response.json["error"]["fields"]


@pytest.mark.parametrize("missing", ["email", "password", "name"])
def test_register_requires_every_field(client, missing):
    body = {key: value for key, value in VALID.items() if key != missing}
    response = client.post("/api/auth/register", json=body)
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {missing: "is required"}


@pytest.mark.parametrize(
    "data, content_type, status, code",
    [
        ("{not json", "application/json", 400, "malformed_json"),
        ("", "application/json", 400, "malformed_json"),
        ('{"email": NaN}', "application/json", 400, "malformed_json"),
        (b"\xff\xfe", "application/json", 400, "malformed_json"),
        ('["a", "b"]', "application/json", 422, "validation_error"),
        ("null", "application/json", 422, "validation_error"),
        ("email=a@b.c", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ('{"email": "a@b.c"}', "text/plain", 415, "unsupported_media_type"),
    ],
)
def test_register_rejects_bodies_that_are_not_a_json_object(
    client, data, content_type, status, code
):
    response = client.post("/api/auth/register", data=data, content_type=content_type)
    assert response.status_code == status
    assert response.json["error"]["code"] == code


def test_body_over_one_mebibyte_is_413(client):
    response = client.post(
        "/api/auth/register",
        data='{"name": "' + "x" * (1024 * 1024) + '"}',
        content_type="application/json",
    )
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"


def test_login_returns_a_bearer_token_pair(user, login):
    pair = login(user["email"])
    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] == 900
    assert pair["access_token"] and pair["refresh_token"]


def test_login_normalises_the_email(user, login):
    assert login(user["email"].upper())["access_token"]


@pytest.mark.parametrize(
    "email, password",
    [("user1@example.com", "wrong password"), ("nobody@example.com", PASSWORD)],
)
def test_login_mismatch_is_the_same_401(client, register, email, password):
    register("user1@example.com")
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.json["error"]["message"] == "Email or password is incorrect"


@pytest.mark.parametrize(
    "body", [{}, {"email": "a@example.com"}, {"email": 1, "password": "x"}, {"password": None}]
)
def test_login_with_a_malformed_body_is_422(client, body):
    response = client.post("/api/auth/login", json=body)
    assert response.status_code == 422


def test_refresh_rotates_and_the_old_token_stops_working(client, user, login):
    first = login(user["email"])
    response = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200
    second = response.json
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get("/api/users/me", headers=bearer(second["access_token"])).status_code == 200

    again = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 401
    assert again.json["error"]["code"] == "invalid_token"


def test_replaying_a_rotated_token_revokes_its_whole_chain(client, user, login):
    first = login(user["email"])
    second = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]}).json
    client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    response = client.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert response.status_code == 401


def test_other_logins_survive_a_replay_in_one_chain(client, user, login):
    laptop, phone = login(user["email"]), login(user["email"])
    client.post("/api/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    client.post("/api/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    response = client.post("/api/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert response.status_code == 200


@pytest.mark.parametrize("token", ["garbage", "x" * 512, ""])
def test_refresh_with_an_unknown_token_is_rejected(client, token):
    response = client.post("/api/auth/refresh", json={"refresh_token": token})
    assert response.status_code in {401, 422}
    assert response.status_code == (422 if token == "" else 401)


def test_refresh_token_is_not_an_access_token(client, user, login):
    pair = login(user["email"])
    response = client.get("/api/users/me", headers=bearer(pair["refresh_token"]))
    assert response.status_code == 401


def test_access_token_is_not_a_refresh_token(client, user, login):
    pair = login(user["email"])
    response = client.post("/api/auth/refresh", json={"refresh_token": pair["access_token"]})
    assert response.status_code == 401
