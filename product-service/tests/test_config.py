"""product-service refuses to start in production without a real service credential."""

import pytest

from flotilla.config import DEV_INTERNAL_TOKEN, ConfigError, Env
from product_service.config import Config

PRODUCTION = {"FLOTILLA_ENV": "production", "DB_PASSWORD": "a-real-database-password"}


@pytest.mark.parametrize("token", [None, "", "secret", DEV_INTERNAL_TOKEN])
def test_production_needs_a_real_internal_token(token):
    environ = dict(PRODUCTION, **({"INTERNAL_API_TOKEN": token} if token is not None else {}))
    with pytest.raises(ConfigError, match="INTERNAL_API_TOKEN"):
        Config.from_env(Env(environ))


def test_the_internal_token_may_come_from_a_secret_file(tmp_path):
    secret = tmp_path / "internal_api_token"
    secret.write_text("a-long-random-service-token\n")
    environ = dict(PRODUCTION, INTERNAL_API_TOKEN_FILE=str(secret))
    assert Config.from_env(Env(environ)).internal_token == "a-long-random-service-token"


def test_development_has_a_default():
    assert Config.from_env(Env({})).internal_token == DEV_INTERNAL_TOKEN
