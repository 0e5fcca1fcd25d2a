"""product-service refuses to start in production without a real service credential, and
with a tombstone retention too short to be safe."""

import pytest

from flotilla.config import DEV_INTERNAL_TOKEN, ConfigError, Env
from product_service.config import Config

PRODUCTION = {
    "FLOTILLA_ENV": "production",
    "DB_PASSWORD": "a-real-database-password",
    "REDIS_PASSWORD": "a-real-redis-password",
}


@pytest.mark.parametrize("token", [None, "", "secret", DEV_INTERNAL_TOKEN])
def test_production_needs_a_real_internal_token(token):
    environ = dict(PRODUCTION, **({"INTERNAL_API_TOKEN": token} if token is not None else {}))
    with pytest.raises(ConfigError, match="INTERNAL_API_TOKEN"):
        Config.from_env(Env(environ))


def test_development_has_a_default():
    assert Config.from_env(Env({})).internal_token == DEV_INTERNAL_TOKEN


def test_production_refuses_the_development_redis_password():
    environ = {**PRODUCTION, "INTERNAL_API_TOKEN": "a-real-token", "REDIS_PASSWORD": ""}
    with pytest.raises(ConfigError, match="REDIS_PASSWORD"):
        Config.from_env(Env(environ))


def test_production_refuses_fault_injection():
    environ = {**PRODUCTION, "INTERNAL_API_TOKEN": "a-real-token", "FAULT_INJECTION": "true"}
    with pytest.raises(ConfigError, match="FAULT_INJECTION"):
        Config.from_env(Env(environ))
    assert Config.from_env(Env({"FAULT_INJECTION": "true"})).fault_injection
    assert not Config.from_env(Env({})).fault_injection


@pytest.mark.parametrize("seconds", ["0", "3599", "soon"])
def test_tombstones_are_kept_at_least_an_hour(seconds):
    with pytest.raises(ConfigError, match="RESERVATION_TOMBSTONE_SECONDS"):
        Config.from_env(Env({"RESERVATION_TOMBSTONE_SECONDS": seconds}))
    assert Config.from_env(Env({})).tombstone_seconds == 86400
