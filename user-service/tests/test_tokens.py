"""Access tokens: RS256 with kid, published keys, and every way a token can be wrong."""

import time

import jwt
import pytest

from flotilla_testing.accounts import bearer
from flotilla_testing.tokens import FORGED_TOKENS, access_claims, forged_token, sign
from user_service.tokens import SIGNER


@pytest.fixture
def signing_key(app):
    return SIGNER.get(app).keys()[0]


@pytest.fixture
def claims(config, user):
    return access_claims(
        user_id=user["id"], issuer=config.tokens.issuer, audience=config.tokens.audience
    )


def test_jwks_publishes_the_signing_key(client, signing_key):
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    [key] = response.json["keys"]
    assert key["kid"] == signing_key.kid
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
    assert "d" not in key  # never the private part


def test_access_token_header_and_claims(client, config, user, login):
    token = login(user["email"])["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    keys = {k["kid"]: k for k in client.get("/.well-known/jwks.json").json["keys"]}
    public = jwt.PyJWK(keys[header["kid"]]).key
    claims = jwt.decode(
        token,
        public,
        algorithms=["RS256"],
        audience=config.tokens.audience,
        issuer=config.tokens.issuer,
    )
    assert claims["sub"] == str(user["id"])
    assert claims["role"] == "customer"
    assert claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == 900


def test_a_well_formed_token_passes(client, claims, signing_key):
    token = sign(claims, signing_key.private_key, signing_key.kid)
    assert client.get("/api/users/me", headers=bearer(token)).status_code == 200


def test_a_token_expired_within_the_leeway_passes(client, claims, signing_key, config):
    claims["exp"] = int(time.time()) - config.tokens.leeway_seconds + 10
    token = sign(claims, signing_key.private_key, signing_key.kid)
    assert client.get("/api/users/me", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("name", FORGED_TOKENS)
def test_bad_tokens_are_401(client, config, claims, signing_key, name):
    leeway = config.tokens.leeway_seconds
    token = forged_token(name, claims, signing_key.private_key, signing_key.kid, leeway=leeway)
    response = client.get("/api/users/me", headers=bearer(token))
    assert response.status_code == 401, name
    assert response.json["error"]["code"] in {"invalid_token", "token_expired"}


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "bearer"]
)
def test_missing_or_odd_authorization_headers_are_401(client, header):
    response = client.get("/api/users/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
