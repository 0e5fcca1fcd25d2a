"""Settings are parsed once at start-up and refuse what cannot work."""

import pytest

from flotilla.config import ConfigError, Env
from gateway.config import Config, Limit, TrustedProxies


@pytest.mark.parametrize(
    "raw, limit", [("600/60", Limit(600, 60)), (" 20/1 ", Limit(20, 1)), ("1/3600", Limit(1, 3600))]
)
def test_limits_are_requests_per_seconds(raw, limit):
    assert Limit.parse("X", raw) == limit


@pytest.mark.parametrize("raw", ["600", "600/", "/60", "0/60", "10/0", "-1/60", "ten/60", "5/60s"])
def test_a_bad_limit_fails_fast(raw):
    with pytest.raises(ConfigError, match="RATE_LIMIT_AUTH"):
        Config.from_env(Env({"RATE_LIMIT_AUTH": raw}))


@pytest.mark.parametrize(
    "environ",
    [
        {"TRUSTED_PROXIES": "10.0.0.0/8,not a name"},
        {"TRUSTED_PROXIES": "10.0.0.1/8"},
        {"TRUSTED_PROXIES": "nginx,999.1.2.3"},
        {"TRUSTED_PROXIES": "-nginx"},
        {"BREAKER_FAILURES": "0"},
        {"BREAKER_OPEN_SECONDS": "-1"},
        {"UPSTREAM_READ_TIMEOUT": "soon"},
        # The gateway forwards the request's own path: a base URL's path would be lost.
        {"USER_SERVICE_URL": "http://user-service:8000/v1"},
        {"ORDER_SERVICE_URL": "order-service:8000"},
        {"PRODUCT_SERVICE_URL": "ftp://product-service"},
        {"NOTIFICATION_SERVICE_URL": "http://"},
    ],
)
def test_other_bad_settings_fail_fast(environ):
    with pytest.raises(ConfigError):
        Config.from_env(Env(environ))


def test_the_defaults():
    config = Config.from_env(Env({}))
    assert config.upstreams["order-service"] == "http://order-service:8000"
    assert config.rate_limits.default == Limit(600, 60)
    assert config.rate_limits.auth == Limit(20, 60)
    # In development any container may play NGINX (the tests do).
    assert [str(n) for n in config.rate_limits.trusted_proxies.networks][:3] == [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
    ]


PRODUCTION = {
    "FLOTILLA_ENV": "production",
    "REDIS_PASSWORD": "a-real-redis-password",
}


def test_production_trusts_only_nginx_and_the_storefront_by_default():
    proxies = Config.from_env(Env(PRODUCTION)).rate_limits.trusted_proxies
    assert proxies == TrustedProxies(networks=(), names=("nginx", "storefront"))


@pytest.mark.parametrize(
    "raw", ["10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fd00::/8", "nginx,10.0.0.0/15", "change-me"]
)
def test_production_refuses_trusted_proxies_broader_than_the_edge(raw):
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        Config.from_env(Env({**PRODUCTION, "TRUSTED_PROXIES": raw}))


def test_production_takes_an_edge_subnet_or_names():
    environ = {**PRODUCTION, "TRUSTED_PROXIES": "172.20.0.0/16, edge-proxy.internal"}
    proxies = Config.from_env(Env(environ)).rate_limits.trusted_proxies
    assert [str(n) for n in proxies.networks] == ["172.20.0.0/16"]
    assert proxies.names == ("edge-proxy.internal",)
