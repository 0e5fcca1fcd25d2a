"""Every way an access token can be forged or wrong, written once for every test suite."""

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)

FORGED_TOKENS = [
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


def access_claims(*, user_id: int, issuer: str, audience: str, role: str = "customer") -> dict:
    """Return the claims of a valid five-minute access token."""
    now = int(time.time())
    return {
        "sub": str(user_id),
        "role": role,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "iss": issuer,
        "aud": audience,
        "typ": "access",
    }


def sign(claims: dict, key: Any, kid: str) -> str:
    """Return claims signed with RS256 under kid."""
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def forged_token(name: str, claims: dict, key: rsa.RSAPrivateKey, kid: str, *, leeway: int) -> str:
    """Return the token of FORGED_TOKENS called name, made from good claims and key."""
    now = int(time.time())

    def without(claim: str) -> dict:
        return {k: v for k, v in claims.items() if k != claim}

    makers = {
        "garbage": lambda: "not.a.token",
        "alg none": lambda: _hand_made(claims, kid, "none", None),
        # PyJWT refuses to HMAC with a PEM key, which is the attack: build it by hand.
        "HS256 with the public key": lambda: _hand_made(claims, kid, "HS256", _public_pem(key)),
        "unknown kid": lambda: sign(claims, key, "no-such-kid"),
        "wrong key": lambda: sign(claims, OTHER_KEY, kid),
        "wrong iss": lambda: sign({**claims, "iss": "someone-else"}, key, kid),
        "wrong aud": lambda: sign({**claims, "aud": "another-api"}, key, kid),
        "expired beyond leeway": lambda: sign({**claims, "exp": now - leeway - 30}, key, kid),
        "nbf in the future": lambda: sign({**claims, "nbf": now + 600}, key, kid),
        "missing exp": lambda: sign(without("exp"), key, kid),
        "refresh typ": lambda: sign({**claims, "typ": "refresh"}, key, kid),
        "missing typ": lambda: sign(without("typ"), key, kid),
        "non-numeric sub": lambda: sign({**claims, "sub": "admin"}, key, kid),
    }
    return makers[name]()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _hand_made(claims: dict, kid: str, alg: str, secret: bytes | None) -> str:
    header = {"alg": alg, "typ": "JWT", "kid": kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if secret is None:
        return signing_input + "."
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"
