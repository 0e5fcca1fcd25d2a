"""flotilla.redis_client's connections: a name lookup bounded by the connect timeout, and
made once per connection, not once per command."""

import time

import pytest
import redis

import flotilla.redis_client
from flotilla.redis_client import fail_fast_redis


def test_a_name_that_does_not_resolve_in_time_fails_at_once(a_lookup_that_hangs):
    client = fail_fast_redis(f"redis://{a_lookup_that_hangs}:6379/0", timeout=0.3)
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    assert time.monotonic() - started < 2


def test_a_connection_looks_its_name_up_once(redis_url, monkeypatch):
    lookups = []
    resolves = flotilla.redis_client.resolves

    def counted(*args):
        lookups.append(args)
        return resolves(*args)

    monkeypatch.setattr(flotilla.redis_client, "resolves", counted)
    client = fail_fast_redis(redis_url, timeout=1.0)
    assert all(client.ping() for _ in range(3))
    assert len(lookups) == 1
