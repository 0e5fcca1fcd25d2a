"""user-service settings, read once from the environment."""

import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import current_app

from flotilla.auth import TokenSettings
from flotilla.config import ConfigError, Env, database_url
from flotilla.schemas import normalise_email

PEM_PUBLIC_KEY = re.compile(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL)


@dataclass(frozen=True)
class Config:
    """Everything user-service needs to start."""

    log_level: str
    tokens: TokenSettings
    database_url: str
    access_token_seconds: int
    refresh_token_seconds: int
    private_key_pem: str | None
    # Public keys signed with before the last rotation: published until their tokens expire.
    previous_public_keys_pem: tuple[str, ...]
    admin_email: str
    admin_password: str

    @classmethod
    def from_env(cls, env: Env | None = None) -> "Config":
        """Read the settings; raise ConfigError when one cannot work."""
        env = env or Env()
        key_path = env.get("JWT_PRIVATE_KEY_FILE", "")
        if env.production and not key_path:
            # Production signs with a key it is given, never with one it made up.
            raise ConfigError("JWT_PRIVATE_KEY_FILE is required in production (RSA key, PEM)")
        return cls(
            log_level=env.get("LOG_LEVEL", "INFO"),
            tokens=TokenSettings.from_env(env),
            database_url=database_url(env, default_name="users"),
            access_token_seconds=env.integer("ACCESS_TOKEN_SECONDS", 900),
            refresh_token_seconds=env.integer("REFRESH_TOKEN_SECONDS", 14 * 24 * 3600),
            private_key_pem=read_key("JWT_PRIVATE_KEY_FILE", key_path) if key_path else None,
            previous_public_keys_pem=previous_public_keys(env),
            admin_email=normalise_email(env.get("ADMIN_EMAIL", "admin@flotilla.local")),
            admin_password=env.secret("ADMIN_PASSWORD", "admin-dev-password"),
        )


def settings() -> Config:
    """Return the current app's settings."""
    return current_app.config["SETTINGS"]


def read_key(setting: str, path: str) -> str:
    """Return the PEM text of the key file a setting names."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as error:
        raise ConfigError(f"{setting}={path} cannot be read: {error}") from None


def previous_public_keys(env: Env) -> tuple[str, ...]:
    """Return each PEM public key of JWT_PREVIOUS_PUBLIC_KEYS_FILE (none when unset or empty)."""
    path = env.get("JWT_PREVIOUS_PUBLIC_KEYS_FILE", "")
    if not path:
        return ()
    text = read_key("JWT_PREVIOUS_PUBLIC_KEYS_FILE", path)
    keys = tuple(PEM_PUBLIC_KEY.findall(text))
    if PEM_PUBLIC_KEY.sub("", text).strip() or not all(map(_is_rsa_public_key, keys)):
        raise ConfigError(
            f"JWT_PREVIOUS_PUBLIC_KEYS_FILE={path} may hold only RSA public keys (PEM, PUBLIC KEY)"
        )
    return keys


def _is_rsa_public_key(pem: str) -> bool:
    try:
        return isinstance(serialization.load_pem_public_key(pem.encode()), rsa.RSAPublicKey)
    except ValueError:
        return False
