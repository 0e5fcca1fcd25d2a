"""Access tokens: RS256 with kid, published keys and their rotation, and every way a token
can be wrong."""

import contextlib
import dataclasses
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from flotilla.auth import TokenVerifier
from flotilla.errors import ApiError
from flotilla_testing.accounts import PASSWORD, bearer
from flotilla_testing.tokens import FORGED_TOKENS, access_claims, forged_token, sign
from user_service.tokens import PublicKey


@pytest.fixture
def signing_key(app):
    return app.extensions["user_service.signer"].keys()[0]


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


# --- Key rotation (API.md, "Auth"): previous keys published, removed keys dropped ----------


def public_pem(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def previous_key() -> rsa.RSAPrivateKey:
    """The key signed with before a rotation."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def rotated_client(app_with, previous_key):
    """user-service publishing previous_key as the key of the last rotation."""
    return app_with(previous_public_keys_pem=(public_pem(previous_key),)).test_client()


def test_jwks_publishes_the_previous_keys_after_the_signing_key(
    rotated_client, signing_key, previous_key
):
    keys = rotated_client.get("/.well-known/jwks.json").json["keys"]
    previous_kid = PublicKey(previous_key.public_key()).kid
    assert [key["kid"] for key in keys] == [signing_key.kid, previous_kid]
    assert all("d" not in key and key["alg"] == "RS256" for key in keys)


def test_tokens_signed_with_a_previous_key_pass_until_it_is_removed(
    client, rotated_client, claims, previous_key
):
    kid = PublicKey(previous_key.public_key()).kid
    headers = bearer(sign(claims, previous_key, kid))
    assert rotated_client.get("/api/users/me", headers=headers).status_code == 200
    # The same service configured without it (the rotation finished): no longer trusted.
    response = client.get("/api/users/me", headers=headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_token"


def test_new_tokens_are_signed_with_the_current_key_only(rotated_client, user, signing_key):
    response = rotated_client.post(
        "/api/auth/login", json={"email": user["email"], "password": PASSWORD}
    )
    assert jwt.get_unverified_header(response.json["access_token"])["kid"] == signing_key.kid


class Clock:
    """A monotonic clock that tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def published(previous_key) -> dict:
    """The keys a JWKS publishes, by kid: a test removes or adds some."""
    return {"old": previous_key.public_key()}


@pytest.fixture
def verifier(config, published) -> tuple[TokenVerifier, Clock, list[float]]:
    """A verifier refreshing every 60 s and on an unknown kid at most every 10 s; its clock;
    and when it loaded the published keys."""
    clock, loads = Clock(), []

    def load() -> dict:
        loads.append(clock.now)
        return dict(published)

    settings = dataclasses.replace(config.tokens, jwks_refresh_seconds=60)
    return TokenVerifier(settings, keys=load, refetch_seconds=10, clock=clock), clock, loads


def token_of(config, key, kid: str) -> str:
    claims = access_claims(user_id=1, issuer=config.tokens.issuer, audience=config.tokens.audience)
    return sign(claims, key, kid)


def test_a_key_removed_from_the_jwks_stops_passing_within_the_refresh_interval(
    config, verifier, published, previous_key
):
    verifier, clock, loads = verifier
    token = token_of(config, previous_key, "old")
    assert verifier.verify(token)["sub"] == "1"
    del published["old"]
    clock.now += 59  # the copy may be up to the interval old
    assert verifier.verify(token)["sub"] == "1"
    clock.now += 1
    with pytest.raises(ApiError) as refused:
        verifier.verify(token)
    assert refused.value.code == "invalid_token"
    assert loads == [1000.0, 1060.0]


def test_a_new_kid_is_fetched_at_once_but_at_most_once_per_refetch_interval(
    config, verifier, published, signing_key
):
    verifier, clock, loads = verifier
    made_up = token_of(config, signing_key.private_key, "made-up")
    for _ in range(5):  # a flood of made-up kids costs one load per interval
        with pytest.raises(ApiError):
            verifier.verify(made_up)
    assert loads == [1000.0]
    published["new"] = signing_key.public_key
    clock.now += 10
    assert verifier.verify(token_of(config, signing_key.private_key, "new"))["sub"] == "1"
    assert loads == [1000.0, 1010.0]


def test_keys_are_kept_while_the_jwks_cannot_be_loaded(config, previous_key):
    clock, answers = Clock(), [{"old": previous_key.public_key()}]

    def load() -> dict:
        if not answers:
            raise ConnectionError("user-service is down")
        return answers.pop()

    settings = dataclasses.replace(config.tokens, jwks_refresh_seconds=60)
    verifier = TokenVerifier(settings, keys=load, refetch_seconds=10, clock=clock)
    token = token_of(config, previous_key, "old")
    for _ in range(3):
        assert verifier.verify(token)["sub"] == "1"
        clock.now += 60


def test_a_verified_token_is_checked_again_only_once_it_expired(
    config, verifier, previous_key, monkeypatch
):
    verifier, _, _ = verifier
    token = token_of(config, previous_key, "old")
    checks = []
    check = verifier._check
    monkeypatch.setattr(verifier, "_check", lambda token: checks.append(token) or check(token))
    claims = [verifier.verify(token) for _ in range(3)]
    assert claims[0]["sub"] == "1" and claims.count(claims[0]) == 3
    assert len(checks) == 1  # its signature was verified once
    expired = claims[0]["exp"] + config.tokens.leeway_seconds
    monkeypatch.setattr(time, "time", lambda: expired)
    with contextlib.suppress(ApiError):  # whatever PyJWT's own clock says
        verifier.verify(token)
    assert len(checks) == 2
