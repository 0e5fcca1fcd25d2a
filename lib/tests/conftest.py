"""Fixtures of flotilla's own tests: a real PostgreSQL and Redis of the test stack, reached
with the settings a service reads (DB_*, REDIS_URL and REDIS_PASSWORD)."""

import socket
import threading
from collections.abc import Iterator

import pytest

from flotilla.config import Env, authenticated_redis_url, database_url
from flotilla.db import Database


@pytest.fixture(scope="session")
def db_url() -> str:
    """The libpq URL of the database the tests borrow (order-service's in the test stack)."""
    return database_url(Env(), default_name="orders")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of the stack's Redis, with its password."""
    return authenticated_redis_url(Env(), default="redis://redis:6379/3")


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A Database of its own, closed after the test."""
    database = Database(db_url)
    yield database
    database.close()


@pytest.fixture
def a_lookup_that_hangs(monkeypatch) -> Iterator[str]:
    """A name whose lookup hangs, as a stopped container's can on a Compose network."""
    released = threading.Event()
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == "stopped-service":
            released.wait(10)
            raise socket.gaierror("not found")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield "stopped-service"
    released.set()
