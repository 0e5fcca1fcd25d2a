"""Each credential is refused what its holder must not do (Redis ACL users per client).

Run inside the Redis containers with each user's own password from that container's
environment, as the client holding it would connect."""

import pytest

from conftest import service_of


def redis_cli(container, user: str, password_variable: str, *command: str) -> str:
    """Run one command as an ACL user; return what redis-cli printed."""
    script = f'redis-cli --no-auth-warning --user {user} --pass "${password_variable}" "$@"'
    _, output = container.exec_run(["sh", "-c", script, "redis-cli", *command])
    return output.decode().strip()


@pytest.fixture(scope="module")
def redis(stack):
    return next(c for c in stack if service_of(c) == "redis")


@pytest.fixture(scope="module")
def session_store(stack):
    return next(c for c in stack if service_of(c) == "session-store")


def gateway(redis, *command: str) -> str:
    return redis_cli(redis, "gateway", "REDIS_GATEWAY_PASSWORD", *command)


def products(redis, *command: str) -> str:
    return redis_cli(redis, "products", "REDIS_PRODUCTS_PASSWORD", "-n", "1", *command)


def storefront(session_store, *command: str) -> str:
    return redis_cli(session_store, "storefront", "REDIS_STOREFRONT_PASSWORD", *command)


def test_the_gateway_counts_its_limits_and_nothing_else(redis):
    assert gateway(redis, "PING") == "PONG"
    assert gateway(redis, "INCR", "ratelimit:credentials-test").isdigit()
    assert "NOPERM" in gateway(redis, "GET", "ratelimit:credentials-test")  # only its script's
    assert "NOPERM" in gateway(redis, "INCR", "product:1:version")
    for command in (["FLUSHALL"], ["KEYS", "*"], ["CONFIG", "GET", "*"], ["DEL", "ratelimit:x"]):
        assert "NOPERM" in gateway(redis, *command), command


def test_the_product_cache_touches_product_keys_only(redis):
    assert products(redis, "SET", "product:credentials-test", "{}", "EX", "5") == "OK"
    assert "NOPERM" in products(redis, "SET", "ratelimit:anyone", "0")  # wipe someone's limit
    assert "NOPERM" in products(redis, "DEL", "ratelimit:anyone")
    for command in (["FLUSHDB"], ["KEYS", "*"], ["CONFIG", "SET", "maxmemory", "1"]):
        assert "NOPERM" in products(redis, *command), command


def test_the_storefront_reaches_its_sessions_only(session_store):
    key = "storefront:session:credentials-test"
    assert storefront(session_store, "SET", key, "{}", "EX", "5") == "OK"
    assert "NOPERM" in storefront(session_store, "SET", "ratelimit:x", "0")
    for command in (["FLUSHALL"], ["KEYS", "*"], ["SCAN", "0"], ["CONFIG", "GET", "*"]):
        assert "NOPERM" in storefront(session_store, *command), command


def test_the_session_store_never_evicts_and_the_cache_does(redis, session_store):
    admin = 'redis-cli --no-auth-warning -a "$REDIS_PASSWORD" CONFIG GET maxmemory-policy'
    assert b"noeviction" in session_store.exec_run(["sh", "-c", admin]).output
    assert b"volatile-lru" in redis.exec_run(["sh", "-c", admin]).output


def test_the_storefront_cannot_reach_the_cache_nor_the_limits(stack):
    storefront_container = next(c for c in stack if service_of(c) == "storefront")
    probe = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('redis', 6379), timeout=3)\n"
        "    print('reached')\n"
        "except OSError:\n"
        "    print('refused')\n"
    )
    output = storefront_container.exec_run(["python", "-c", probe]).output
    assert output.strip() == b"refused"
