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


def test_production_refuses_fault_injection():
    env = Env(
        {
            "FLOTILLA_ENV": "production",
            "DB_PASSWORD": "a-real-database-password",
            "INTERNAL_API_TOKEN": "a-real-service-token",
            "FAULT_INJECTION": "true",
        }
    )
    with pytest.raises(ConfigError, match="FAULT_INJECTION"):
        Config.from_env(env)


def test_the_recovery_bound_must_leave_room_for_the_timeouts():
    # Settling starts after connect + read timeout (+1 s) and runs every 5 s.
    assert Config.from_env(Env({})).settle_after_seconds == 8
    assert Config.from_env(Env({"ORDER_RECOVERY_SECONDS": "18"})).recovery_seconds == 18
    with pytest.raises(ConfigError, match="ORDER_RECOVERY_SECONDS"):
        Config.from_env(Env({"ORDER_RECOVERY_SECONDS": "17"}))
    with pytest.raises(ConfigError, match="ORDER_RECOVERY_SECONDS"):
        Config.from_env(Env({"PRODUCT_SERVICE_READ_TIMEOUT": "60"}))
