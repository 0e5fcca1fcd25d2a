"""Access tokens: RS256 with kid, published keys, and every way a token can be wrong."""

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import bearer


@pytest.fixture
def signing_key(app):
    return app.extensions["signer"].keys()[0]


@pytest.fixture
def claims(config, user):
    now = int(time.time())
    return {
        "sub": str(user["id"]),
        "role": "customer",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "iss": config.tokens.issuer,
        "aud": config.tokens.audience,
        "typ": "access",
    }


def sign(claims, key, kid, algorithm="RS256"):
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def unsigned(claims, kid):
    header = {"alg": "none", "typ": "JWT", "kid": kid}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


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


OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _bad_tokens(claims, key):
    now = int(time.time())
    rsa_key, kid = key.private_key, key.kid
    return {
        "garbage": "not.a.token",
        "alg none": unsigned(claims, kid),
        "HS256 with the public key": _hs256_with_public_key(claims, rsa_key, kid),
        "unknown kid": sign(claims, rsa_key, "no-such-kid"),
        "wrong key": sign(claims, OTHER_KEY, kid),
        "wrong iss": sign({**claims, "iss": "someone-else"}, rsa_key, kid),
        "wrong aud": sign({**claims, "aud": "another-api"}, rsa_key, kid),
        "expired beyond leeway": sign({**claims, "exp": now - 120}, rsa_key, kid),
        "nbf in the future": sign({**claims, "nbf": now + 600}, rsa_key, kid),
        "missing exp": sign({k: v for k, v in claims.items() if k != "exp"}, rsa_key, kid),
        "refresh typ": sign({**claims, "typ": "refresh"}, rsa_key, kid),
        "missing typ": sign({k: v for k, v in claims.items() if k != "typ"}, rsa_key, kid),
        "non-numeric sub": sign({**claims, "sub": "admin"}, rsa_key, kid),
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256_with_public_key(claims, rsa_key, kid):
    # PyJWT refuses to HMAC with a PEM key, which is the attack; build the token by hand.
    part = _b64

    signing_input = (
        part(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        + "."
        + part(json.dumps(claims).encode())
    )
    mac = hmac.new(_public_pem(rsa_key), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(mac)}"


BAD_TOKEN_NAMES = [
    "garbage",
    "alg none",
    "HS256 with the public key",
    "unknown kid",
    "wrong key",
    "wrong iss",
    "wrong aud",
    "expired beyond leeway",
    "nbf in the future",
    "missing exp",
    "refresh typ",
    "missing typ",
    "non-numeric sub",
]


@pytest.mark.parametrize("name", BAD_TOKEN_NAMES)
def test_bad_tokens_are_401(client, claims, signing_key, name):
    token = _bad_tokens(claims, signing_key)[name]
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
