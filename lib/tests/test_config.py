"""flotilla.config: settings and secrets from the environment, refused at start-up when
they cannot work."""

import pytest

from flotilla.config import (
    DEV_INTERNAL_TOKEN,
    ConfigError,
    Env,
    authenticated_redis_url,
    database_url,
    internal_api_token,
)


def test_a_required_setting_that_is_missing_or_empty_stops_the_start():
    for environ in ({}, {"NAME": ""}):
        with pytest.raises(ConfigError, match="NAME is required"):
            Env(environ).get("NAME")
    assert Env({"NAME": ""}).get("NAME", "default") == "default"


@pytest.mark.parametrize(
    "read, raw, expected",
    [
        (Env.integer, "42", 42),
        (Env.number, "0.5", 0.5),
        (Env.flag, "yes", True),
        (Env.flag, "OFF", False),
    ],
)
def test_typed_settings(read, raw, expected):
    assert read(Env({"SETTING": raw}), "SETTING", expected) == expected
    assert read(Env({}), "SETTING", expected) == expected


@pytest.mark.parametrize(
    "read, default, raw",
    [
        (Env.integer, 1, "1.5"),
        (Env.integer, 1, "soon"),
        (Env.number, 1.0, "x"),
        (Env.flag, True, "y"),
    ],
)
def test_a_setting_of_the_wrong_type_names_itself(read, default, raw):
    with pytest.raises(ConfigError, match="SETTING"):
        read(Env({"SETTING": raw}), "SETTING", default)


def test_secrets_are_read_from_files(tmp_path):
    secret = tmp_path / "db_password"
    secret.write_text("from-a-file\n")
    url = database_url(Env({"DB_PASSWORD_FILE": str(secret)}), default_name="orders")
    assert url == "postgresql://orders:from-a-file@postgres:5432/orders"


def test_an_unreadable_secret_file_is_a_clear_error():
    with pytest.raises(ConfigError, match="DB_PASSWORD_FILE"):
        Env({"DB_PASSWORD_FILE": "/nonexistent/secret"}).secret("DB_PASSWORD", "dev")


@pytest.mark.parametrize("value", ["", "change-me", "secret", "orders-dev-password"])
def test_production_refuses_placeholder_secrets(value):
    env = Env({"FLOTILLA_ENV": "production", "DB_PASSWORD": value})
    with pytest.raises(ConfigError, match="DB_PASSWORD"):
        env.secret("DB_PASSWORD", "orders-dev-password")


def test_development_falls_back_to_the_development_secret():
    assert Env({}).secret("DB_PASSWORD", "orders-dev-password") == "orders-dev-password"
    assert internal_api_token(Env({})) == DEV_INTERNAL_TOKEN
    with pytest.raises(ConfigError, match="SIGNING_KEY"):
        Env({}).secret("SIGNING_KEY")


def test_the_internal_token_may_come_from_a_secret_file(tmp_path):
    secret = tmp_path / "internal_api_token"
    secret.write_text("a-long-random-service-token\n")
    env = Env({"FLOTILLA_ENV": "production", "INTERNAL_API_TOKEN_FILE": str(secret)})
    assert internal_api_token(env) == "a-long-random-service-token"


def test_the_database_url_quotes_what_it_must():
    env = Env({"DB_USER": "a user", "DB_PASSWORD": "p@ss/word", "DB_HOST": "db", "DB_PORT": "6432"})
    assert database_url(env, default_name="orders") == (
        "postgresql://a%20user:p%40ss%2Fword@db:6432/orders"
    )


def test_the_redis_password_goes_into_the_redis_url(tmp_path):
    secret = tmp_path / "redis_password"
    secret.write_text("s3cret/with+chars\n")
    env = Env({"REDIS_PASSWORD_FILE": str(secret), "REDIS_URL": "redis://cache:6380/2"})
    assert authenticated_redis_url(env, default="redis://redis:6379/0") == (
        "redis://:s3cret%2Fwith%2Bchars@cache:6380/2"
    )
