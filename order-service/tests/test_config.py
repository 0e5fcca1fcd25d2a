"""order-service's own settings (the internal token is tested with product-service's)."""

import pytest

from flotilla.config import ConfigError, Env
from order_service.config import Config


def test_idempotency_keys_are_kept_at_least_a_day():
    with pytest.raises(ConfigError, match="IDEMPOTENCY_KEY_HOURS"):
        Config.from_env(Env({"IDEMPOTENCY_KEY_HOURS": "23"}))


def test_production_refuses_the_development_internal_token():
    env = Env({"FLOTILLA_ENV": "production", "DB_PASSWORD": "a-real-database-password"})
    with pytest.raises(ConfigError, match="INTERNAL_API_TOKEN"):
        Config.from_env(env)
