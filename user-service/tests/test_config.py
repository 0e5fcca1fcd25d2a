"""Configuration fails fast, with a clear message, when it cannot work."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from flotilla.config import ConfigError, Env
from user_service.config import Config
from user_service.tokens import new_private_key_pem

BASE = {"DB_PASSWORD": "a-real-db-password", "ADMIN_PASSWORD": "a-real-admin-password"}


def test_development_runs_with_no_settings_at_all():
    config = Config.from_env(Env({}))
    assert config.database_url.startswith("postgresql://users:")
    assert config.private_key_pem is None


def test_production_requires_a_signing_key():
    env = Env({**BASE, "FLOTILLA_ENV": "production"})
    with pytest.raises(ConfigError, match="JWT_PRIVATE_KEY_FILE"):
        Config.from_env(env)


@pytest.mark.parametrize(
    "name, value",
    [
        ("ADMIN_PASSWORD", "admin-dev-password"),
        ("ADMIN_PASSWORD", "change-me"),
        ("DB_PASSWORD", "users-dev-password"),
        ("DB_PASSWORD", ""),
    ],
)
def test_production_refuses_placeholder_secrets(tmp_path, name, value):
    key = tmp_path / "key.pem"
    key.write_text("unused")
    env = Env({**BASE, name: value, "FLOTILLA_ENV": "production", "JWT_PRIVATE_KEY_FILE": str(key)})
    with pytest.raises(ConfigError, match=name):
        Config.from_env(env)


@pytest.mark.parametrize("name", ["ACCESS_TOKEN_SECONDS", "DB_PORT"])
def test_numbers_must_be_numbers(name):
    with pytest.raises(ConfigError, match=name):
        Config.from_env(Env({name: "soon"}))


def test_token_keys_are_refreshed_every_five_minutes_by_default():
    assert Config.from_env(Env({})).tokens.jwks_refresh_seconds == 300


@pytest.mark.parametrize("value", ["0", "-1", "301", "soon"])
def test_the_jwks_refresh_interval_is_at_most_five_minutes(value):
    with pytest.raises(ConfigError, match="JWKS_REFRESH_SECONDS"):
        Config.from_env(Env({"JWKS_REFRESH_SECONDS": value}))


def _public_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode()


def test_previous_public_keys_are_read_from_one_file(tmp_path):
    pems = [_public_pem(), _public_pem()]
    keys = tmp_path / "previous"
    keys.write_text("\n".join(pems))
    config = Config.from_env(Env({"JWT_PREVIOUS_PUBLIC_KEYS_FILE": str(keys)}))
    assert [pem.strip() for pem in config.previous_public_keys_pem] == [p.strip() for p in pems]


def test_an_empty_previous_keys_file_means_none(tmp_path):
    keys = tmp_path / "previous"
    keys.write_text("")
    config = Config.from_env(Env({"JWT_PREVIOUS_PUBLIC_KEYS_FILE": str(keys)}))
    assert config.previous_public_keys_pem == ()


@pytest.mark.parametrize(
    "content",
    [
        "not a key",
        new_private_key_pem(),  # only the public part is ever needed: refuse the secret
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    ],
    ids=["garbage", "private key", "broken key"],
)
def test_previous_keys_must_be_rsa_public_keys(tmp_path, content):
    keys = tmp_path / "previous"
    keys.write_text(content)
    with pytest.raises(ConfigError, match="JWT_PREVIOUS_PUBLIC_KEYS_FILE"):
        Config.from_env(Env({"JWT_PREVIOUS_PUBLIC_KEYS_FILE": str(keys)}))


def test_an_unreadable_previous_keys_file_is_a_clear_error():
    with pytest.raises(ConfigError, match="JWT_PREVIOUS_PUBLIC_KEYS_FILE"):
        Config.from_env(Env({"JWT_PREVIOUS_PUBLIC_KEYS_FILE": "/nonexistent/keys"}))
