"""Signing access tokens (RS256 with kid), publishing the JWKS, minting refresh tokens."""

import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, current_app
from jwt.algorithms import RSAAlgorithm

from flotilla import auth
from flotilla.auth import TokenSettings, TokenVerifier
from flotilla.db import Database
from user_service import repository
from user_service.config import Config


def thumbprint(public_jwk: dict) -> str:
    """Return the RFC 7638 thumbprint of an RSA public JWK, used as its kid."""
    canonical = json.dumps(
        {"e": public_jwk["e"], "kty": "RSA", "n": public_jwk["n"]}, separators=(",", ":")
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_private_key_pem() -> str:
    """Return a new 2048-bit RSA private key as PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


class PublicKey:
    """An RSA public key with its kid and public JWK: what verifies a token."""

    def __init__(self, public_key: rsa.RSAPublicKey) -> None:
        self.public_key = public_key
        self.jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
        self.kid = thumbprint(self.jwk)
        self.jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})

    @classmethod
    def from_pem(cls, pem: str) -> "PublicKey":
        """Load a PEM RSA public key (user_service.config checked that it is one)."""
        return cls(serialization.load_pem_public_key(pem.encode()))


class SigningKey(PublicKey):
    """A private RSA key: signs tokens, and its public part verifies them."""

    def __init__(self, pem: str) -> None:
        self.private_key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(self.private_key, rsa.RSAPrivateKey):
            raise ValueError("the signing key must be an RSA private key")
        super().__init__(self.private_key.public_key())


class Signer:
    """Issues access tokens; the key comes from configuration or, in development, the database.

    It publishes (and verifies with) the signing keys and the previous public keys of a
    rotation, which are configured until every token signed with them has expired.
    """

    def __init__(
        self,
        settings: TokenSettings,
        db: Database,
        *,
        pem: str | None,
        access_seconds: int,
        previous_pems: tuple[str, ...] = (),
    ) -> None:
        self.settings = settings
        self.db = db
        self.configured_pem = pem
        self.access_seconds = access_seconds
        self.previous = [PublicKey.from_pem(pem) for pem in previous_pems]
        self._keys: list[SigningKey] = []
        self._lock = threading.Lock()

    def keys(self) -> list[SigningKey]:
        """Return the signing keys, current first, loading them once per process."""
        with self._lock:
            if not self._keys:
                pems = [self.configured_pem] if self.configured_pem else self._stored_pems()
                self._keys = [SigningKey(pem) for pem in pems]
        return self._keys

    def verification_keys(self) -> list[PublicKey]:
        """Return every key a valid token may be signed with: signing keys, then previous ones."""
        signing = self.keys()
        kids = {key.kid for key in signing}
        return [*signing, *(key for key in self.previous if key.kid not in kids)]

    def _stored_pems(self) -> list[str]:
        with self.db.transaction() as cursor:
            repository.lock_signing_keys(cursor)
            stored = repository.signing_keys(cursor)
            if not stored:
                pem = new_private_key_pem()
                repository.insert_signing_key(cursor, kid=SigningKey(pem).kid, private_key_pem=pem)
                stored = repository.signing_keys(cursor)
        return [row["private_key_pem"] for row in stored]

    def access_token(self, *, user_id: int, role: str) -> str:
        """Return a signed access token for a user."""
        key = self.keys()[0]
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "role": role,
            "iat": now,
            "nbf": now,
            "exp": now + self.access_seconds,
            "iss": self.settings.issuer,
            "aud": self.settings.audience,
            "typ": "access",
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})

    def jwks(self) -> dict:
        """Return the public keys as a JWKS document."""
        return {"keys": [key.jwk for key in self.verification_keys()]}

    def public_keys(self) -> dict[str, Any]:
        """Return the public keys by kid, for verifying tokens locally."""
        return {key.kid: key.public_key for key in self.verification_keys()}


def new_refresh_token() -> str:
    """Return a new opaque refresh token."""
    return secrets.token_urlsafe(32)


def refresh_token_hash(token: str) -> bytes:
    """Return what is stored of a refresh token: its SHA-256."""
    return hashlib.sha256(token.encode()).digest()


def init_app(app: Flask, config: Config) -> None:
    """Sign with the configured (or stored development) key and verify tokens locally."""
    signer = Signer(
        config.tokens,
        app.extensions["flotilla.db"],
        pem=config.private_key_pem,
        access_seconds=config.access_token_seconds,
        previous_pems=config.previous_public_keys_pem,
    )
    app.extensions["user_service.signer"] = signer
    # Local keys need no refetch interval: they change only with a restart.
    auth.init_app(app, TokenVerifier(config.tokens, keys=signer.public_keys, refetch_seconds=0))


def signer() -> Signer:
    """Return the current app's signer."""
    return current_app.extensions["user_service.signer"]
