"""Configuration fails fast, with a clear message, when it cannot work."""

import pytest

from flotilla.config import ConfigError, Env
from user_service.config import Config

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


def test_secrets_are_read_from_files(tmp_path):
    secret = tmp_path / "db_password"
    secret.write_text("from-a-file\n")
    config = Config.from_env(Env({"DB_PASSWORD_FILE": str(secret)}))
    assert ":from-a-file@" in config.database_url


def test_an_unreadable_secret_file_is_a_clear_error():
    with pytest.raises(ConfigError, match="DB_PASSWORD_FILE"):
        Config.from_env(Env({"DB_PASSWORD_FILE": "/nonexistent/secret"}))


@pytest.mark.parametrize("name", ["ACCESS_TOKEN_SECONDS", "DB_PORT"])
def test_numbers_must_be_numbers(name):
    with pytest.raises(ConfigError, match=name):
        Config.from_env(Env({name: "soon"}))
