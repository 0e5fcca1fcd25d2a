"""What a stolen token can do (API.md, "Auth"): logout ends a session, a password change
needs the current password and ends every session, and no cache keeps a token."""

import pytest

from flotilla_testing.accounts import PASSWORD, bearer

NEW_PASSWORD = "a much better password"


def refresh(client, token: str):
    return client.post("/api/auth/refresh", json={"refresh_token": token})


def test_login_and_refresh_answers_are_never_cached(client, user, login):
    answers = [client.post("/api/auth/login", json={"email": user["email"], "password": PASSWORD})]
    answers.append(refresh(client, answers[0].json["refresh_token"]))
    for response in answers:
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Pragma"] == "no-cache"


def test_logout_ends_the_session(client, user, login):
    pair = login(user["email"])
    response = client.post("/api/auth/logout", json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 204
    assert response.get_data() == b""
    assert refresh(client, pair["refresh_token"]).status_code == 401


@pytest.mark.parametrize("logged_out", ["first", "latest"])
def test_logout_with_any_token_of_a_chain_ends_every_token_rotated_from_it(
    client, user, login, logged_out
):
    first = login(user["email"])["refresh_token"]
    second = refresh(client, first).json["refresh_token"]
    latest = refresh(client, second).json["refresh_token"]
    token = first if logged_out == "first" else latest
    assert client.post("/api/auth/logout", json={"refresh_token": token}).status_code == 204
    for token in (first, second, latest):
        assert refresh(client, token).status_code == 401


def test_logout_leaves_other_sessions_alone(client, user, login):
    laptop, phone = login(user["email"]), login(user["email"])
    client.post("/api/auth/logout", json={"refresh_token": laptop["refresh_token"]})
    assert refresh(client, phone["refresh_token"]).status_code == 200


@pytest.mark.parametrize("token", ["never issued", "x" * 1024])
def test_logout_with_an_unknown_token_is_204_too(client, token):
    assert client.post("/api/auth/logout", json={"refresh_token": token}).status_code == 204


def test_logout_twice_is_204_both_times(client, user, login):
    token = login(user["email"])["refresh_token"]
    for _ in range(2):
        assert client.post("/api/auth/logout", json={"refresh_token": token}).status_code == 204


@pytest.mark.parametrize("body", [{}, {"refresh_token": ""}, {"refresh_token": 1}, {"x": "y"}])
def test_logout_without_a_token_string_is_422(client, body):
    response = client.post("/api/auth/logout", json=body)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_error"


def patch_me(client, headers: dict, **body):
    return client.patch("/api/users/me", json=body, headers=headers)


def password_works(client, email: str, password: str) -> bool:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    return response.status_code == 200


def test_changing_the_password_needs_the_current_one(client, user, auth_headers):
    response = patch_me(client, auth_headers, password=NEW_PASSWORD)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_error"
    assert response.json["error"]["fields"] == {"current_password": "is required with password"}
    assert password_works(client, user["email"], PASSWORD)


@pytest.mark.parametrize("wrong", ["not the password", "", PASSWORD.upper(), NEW_PASSWORD])
def test_a_wrong_current_password_is_403_and_changes_nothing(client, user, auth_headers, wrong):
    response = patch_me(
        client, auth_headers, name="Mallory", password=NEW_PASSWORD, current_password=wrong
    )
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    assert client.get("/api/users/me", headers=auth_headers).json["name"] == user["name"]
    assert password_works(client, user["email"], PASSWORD)
    assert not password_works(client, user["email"], NEW_PASSWORD)


def test_a_password_change_ends_every_session(client, user, login):
    sessions = [login(user["email"]) for _ in range(3)]
    headers = bearer(sessions[0]["access_token"])
    response = patch_me(client, headers, password=NEW_PASSWORD, current_password=PASSWORD)
    assert response.status_code == 200
    for session in sessions:
        assert refresh(client, session["refresh_token"]).status_code == 401
    assert password_works(client, user["email"], NEW_PASSWORD)


def test_the_current_password_may_confirm_a_name_change(client, auth_headers):
    response = patch_me(client, auth_headers, name="Grace", current_password=PASSWORD)
    assert response.status_code == 200
    assert response.json["name"] == "Grace"


def test_a_name_change_needs_no_password_and_ends_no_session(client, user, login):
    pair = login(user["email"])
    response = patch_me(client, bearer(pair["access_token"]), name="Grace")
    assert response.status_code == 200
    assert refresh(client, pair["refresh_token"]).status_code == 200
