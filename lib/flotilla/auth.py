"""Access-token verification shared by the gateway and every service."""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

import jwt
from flask import Flask, current_app, g, request

from flotilla.clients import ServiceClient
from flotilla.config import ConfigError, Env
from flotilla.errors import ApiError

log = logging.getLogger(__name__)

ALGORITHMS = ["RS256"]
REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud"]
# API.md: a key removed from the JWKS stops being accepted everywhere within 5 minutes.
MAX_JWKS_AGE_SECONDS = 300.0
# Tokens verified already, kept per process: a client sends the same token with every
# request for 15 minutes, and checking its RS256 signature again costs about a quarter of
# a millisecond each time (docs/performance.md).
VERIFIED_CACHE_SIZE = 4096
KeySource = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class TokenSettings:
    """Where the public keys are and which claims a valid token carries."""

    jwks_url: str
    issuer: str
    audience: str
    leeway_seconds: int
    jwks_refresh_seconds: float = MAX_JWKS_AGE_SECONDS

    @classmethod
    def from_env(cls, env: Env) -> "TokenSettings":
        """Read the token settings from the environment."""
        refresh = env.number("JWKS_REFRESH_SECONDS", MAX_JWKS_AGE_SECONDS)
        if not 0 < refresh <= MAX_JWKS_AGE_SECONDS:
            raise ConfigError(
                f"JWKS_REFRESH_SECONDS must be over 0 and at most {MAX_JWKS_AGE_SECONDS:g}"
            )
        return cls(
            # Only a verifier that downloads its keys needs it (TokenVerifier checks).
            jwks_url=env.get("JWKS_URL", ""),
            issuer=env.get("JWT_ISSUER", "flotilla"),
            audience=env.get("JWT_AUDIENCE", "flotilla-api"),
            leeway_seconds=min(env.integer("JWT_LEEWAY_SECONDS", 30), 60),
            jwks_refresh_seconds=refresh,
        )


def jwks_keys(document: dict) -> dict[str, Any]:
    """Return the RSA public keys of a JWKS document by kid."""
    keys = {}
    for entry in document.get("keys", []):
        if entry.get("kty") == "RSA" and entry.get("kid"):
            keys[entry["kid"]] = jwt.PyJWK(entry, algorithm="RS256").key
    return keys


def fetch_jwks(url: str, timeout: float = 3.0) -> KeySource:
    """Return a key source that downloads a JWKS document."""
    # The service client bounds the name lookup too: with the signing service stopped, Docker's
    # DNS can take ~10 s to say so, and a token check must not wait that long.
    client = ServiceClient(url, name="jwks", connect_timeout=timeout, read_timeout=timeout)

    def load() -> dict[str, Any]:
        response = client.request("GET", "")
        if response.status_code != 200:
            raise ValueError(f"JWKS answered {response.status_code}")
        return jwks_keys(response.json())

    return load


class TokenVerifier:
    """Verify RS256 access tokens against cached public keys, reloaded when they get old."""

    def __init__(
        self,
        settings: TokenSettings,
        *,
        keys: KeySource | None = None,
        refetch_seconds: float = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if keys is None and not settings.jwks_url:
            raise ConfigError("JWKS_URL is required: where the signing service publishes its keys")
        self.settings = settings
        self.load_keys = keys or fetch_jwks(settings.jwks_url)
        self.clock = clock
        # The least time between two attempts to load (unknown kids, failures): short, so
        # that tokens of a new signing key pass within seconds of its first use.
        self.refetch_seconds = min(refetch_seconds, settings.jwks_refresh_seconds)
        self._keys: dict[str, Any] = {}
        self._loaded_at = float("-inf")
        self._tried_at = float("-inf")
        self._lock = threading.Lock()
        # token -> (claims, its kid, the key that verified it); emptied when full.
        self._verified: dict[str, tuple[dict, str, Any]] = {}

    def _key(self, kid: str) -> Any:
        if kid not in self._keys or self._stale():
            self._refresh()
        return self._keys.get(kid)

    def _stale(self) -> bool:
        # Reloaded when old, so that a key removed from the JWKS stops working here too.
        return self.clock() - self._loaded_at >= self.settings.jwks_refresh_seconds

    def _refresh(self) -> None:
        # An unknown kid may mean a new key; asking again at most once per interval
        # keeps a flood of made-up kids (or a JWKS that is down) from becoming a flood
        # of JWKS requests.
        with self._lock:
            if self.clock() - self._tried_at < self.refetch_seconds:
                return
            self._tried_at = self.clock()
            try:
                self._keys = self.load_keys()
                self._loaded_at = self._tried_at
            except Exception as error:  # keep the old keys; the next interval retries
                log.warning("cannot load token keys", extra={"error": str(error)})

    def verify(self, token: str) -> dict:
        """Return the claims of a valid access token; raise 401 otherwise."""
        known = self._verified.get(token)
        if known is not None:
            claims, kid, key = known
            # Still signed by a key the JWKS publishes (a reload makes new key objects, so
            # a removed or replaced key is noticed), and not expired since.
            if self._key(kid) is key and time.time() < claims["exp"] + self.settings.leeway_seconds:
                return claims
            self._verified.pop(token, None)
        claims, kid, key = self._check(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (claims, kid, key)
        return claims

    def _check(self, token: str) -> tuple[dict, str, Any]:
        """Return a valid access token's claims, kid and the key that signed it; raise 401."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise _invalid("Malformed token") from None
        if header.get("alg") not in ALGORITHMS or not isinstance(header.get("kid"), str):
            raise _invalid("Token algorithm or key id not accepted")
        key = self._key(header["kid"])
        if key is None:
            raise _invalid("Token signed with an unknown key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise ApiError(401, "token_expired", "Token has expired") from None
        except jwt.InvalidTokenError:
            raise _invalid("Token is not valid") from None
        if claims.get("typ") != "access" or not str(claims["sub"]).isdigit():
            raise _invalid("Not an access token")
        return claims, header["kid"], key


def _invalid(message: str) -> ApiError:
    return ApiError(401, "invalid_token", message, headers={"WWW-Authenticate": "Bearer"})


def init_app(app: Flask, verifier: TokenVerifier) -> None:
    """Make the token verifier available to require_user."""
    app.extensions["flotilla.tokens"] = verifier


def bearer_token() -> str:
    """Return the bearer token of the request, or raise 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401, "unauthorized", "Missing bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    return token.strip()


def authenticate() -> dict:
    """Verify the request's token and return the caller as {id, role}."""
    claims = current_app.extensions["flotilla.tokens"].verify(bearer_token())
    g.user = {"id": int(claims["sub"]), "role": claims.get("role", "customer")}
    return g.user


def require_user(view: Callable) -> Callable:
    """Let only callers with a valid access token in."""
    return _require(view, "user")


def require_admin(view: Callable) -> Callable:
    """Let only admins in."""
    return _require(view, "admin")


def _require(view: Callable, caller: str) -> Callable:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if authenticate()["role"] != "admin" and caller == "admin":
            raise ApiError(403, "forbidden", "Admins only")
        return view(*args, **kwargs)

    wrapper.caller = caller  # flotilla.openapi documents who may call it
    return wrapper
