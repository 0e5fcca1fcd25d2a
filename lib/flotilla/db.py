"""PostgreSQL access: one connection pool per worker process, plus migrations."""

import logging
import os
import select
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import psycopg2.extras
import psycopg2.pool
from flask import Flask, Response, current_app
from psycopg2.extensions import TRANSACTION_STATUS_IDLE, connection

from flotilla.errors import ApiError, error_response

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5
# A pooled connection back in the pool for longer than this is pinged before it is used;
# one in steady use skips that round trip (a fifth of a small request) unless the server
# has sent something since (_ended_by_server): a restart can take less than a second.
PING_AFTER_IDLE_SECONDS = 1.0


# psycopg2's pools keep only `minconn` of the connections given back and open that many up
# front: a new backend and SCRAM handshake for each concurrent transaction past minconn, or
# connections held that are never needed.
class _Pool:
    """One process's connections: opened when needed, at most `size` in use, all kept."""

    def __init__(self, url: str, size: int) -> None:
        self.url = url
        self.size = size
        self._idle: list[tuple[connection, float]] = []  # and when each was given back
        self._in_use = 0
        self._closed = False
        self._lock = threading.Lock()

    def get(self) -> tuple[connection, float | None]:
        """Return the connection given back last and when, or a new one (None)."""
        with self._lock:
            if self._in_use >= self.size:
                raise psycopg2.pool.PoolError("connection pool exhausted")
            self._in_use += 1
            if self._idle:
                return self._idle.pop()
        try:
            conn = psycopg2.connect(
                self.url,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                cursor_factory=psycopg2.extras.RealDictCursor,
            )
            return conn, None
        except BaseException:
            with self._lock:
                self._in_use -= 1
            raise

    def put(self, conn: connection, *, close: bool = False) -> None:
        """Take a connection back: kept when it is open and outside a transaction."""
        idle = conn.closed == 0 and conn.info.transaction_status == TRANSACTION_STATUS_IDLE
        with self._lock:
            self._in_use -= 1
            if idle and not close and not self._closed:
                self._idle.append((conn, time.monotonic()))
                return
        conn.close()

    def close(self) -> None:
        """Close the idle connections, and those in use as they are given back."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._closed = True
        for conn, _ in idle:
            conn.close()


class Database:
    """A lazily created connection pool, re-created in every forked worker."""

    def __init__(self, url: str, *, max_connections: int = 10) -> None:
        self.url = url
        self.max_connections = max_connections
        self._pool: _Pool | None = None
        self._pool_pid: int | None = None
        self._lock = threading.Lock()

    def init_app(self, app: Flask) -> None:
        """Make the database available to get_db(); outages answer 503."""
        app.extensions["flotilla.db"] = self
        app.register_error_handler(psycopg2.OperationalError, _unavailable)

    def _get_pool(self) -> _Pool:
        # A pool inherited across fork() shares sockets with the parent: build a new one.
        if self._pool is None or self._pool_pid != os.getpid():
            with self._lock:
                if self._pool is None or self._pool_pid != os.getpid():
                    self._pool = _Pool(self.url, self.max_connections)
                    self._pool_pid = os.getpid()
        return self._pool

    def _checkout(self, pool: _Pool) -> connection:
        # Pre-ping: a pooled connection may have died with a database restart. Trying
        # each pooled one and then a new one makes the first request after a restart work.
        for _ in range(self.max_connections + 1):
            conn, returned = pool.get()
            if returned is None:
                return conn  # connected just now
            recent = time.monotonic() - returned < PING_AFTER_IDLE_SECONDS
            if recent and not _ended_by_server(conn):
                return conn
            try:
                with conn.cursor() as cursor:
                    cursor.execute("SELECT 1")
                return conn
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                pool.put(conn, close=True)
        raise psycopg2.OperationalError("no working database connection")

    @contextmanager
    def transaction(self) -> Iterator[psycopg2.extras.RealDictCursor]:
        """Yield a cursor inside one transaction: committed on success, rolled back on error."""
        pool = self._get_pool()
        conn = self._checkout(pool)
        broken = False
        try:
            with conn, conn.cursor() as cursor:
                yield cursor
        except psycopg2.OperationalError:
            broken = True
            raise
        except psycopg2.InterfaceError as error:
            broken = True
            if conn.closed:
                # The rollback on a connection lost mid-transaction raises InterfaceError;
                # callers see what it is, the database gone (503, or an event that waits).
                raise psycopg2.OperationalError(str(error)) from error
            raise
        finally:
            pool.put(conn, close=broken)

    def ping(self) -> None:
        """Raise unless the database answers a query."""
        with self.transaction() as cursor:
            cursor.execute("SELECT 1")

    def close(self) -> None:
        """Close every pooled connection of this process."""
        if self._pool is not None and self._pool_pid == os.getpid():
            self._pool.close()
        self._pool = None


MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def migrate(url: str, *directories: Path) -> list[str]:
    """Apply the *.sql files not yet recorded, folder by folder in name order; return them."""
    # A file's name (without .sql) is its version: names are unique across the folders.
    # One advisory lock per database serialises replicas that start at the same time.
    lock_key = zlib.crc32(b"flotilla-migrations")
    applied: list[str] = []
    conn = psycopg2.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", (lock_key,))
            try:
                cursor.execute(MIGRATIONS_TABLE)
                cursor.execute("SELECT version FROM schema_migrations")
                done = {row[0] for row in cursor.fetchall()}
                for path in (p for d in directories for p in sorted(d.glob("*.sql"))):
                    if path.stem not in done:
                        _apply(conn, path)
                        applied.append(path.stem)
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", (lock_key,))
    finally:
        conn.close()
    return applied


def _apply(conn: psycopg2.extensions.connection, path: Path) -> None:
    log.info("applying migration", extra={"migration": path.name})
    conn.autocommit = False
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(path.read_text(encoding="utf-8"))
            cursor.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (path.stem,))
    finally:
        conn.autocommit = True


def _ended_by_server(conn: connection) -> bool:
    """Whether an idle connection has something to read: a server ending it (a shutdown,
    pg_terminate_backend) sends an error and closes it, at no round trip to find out."""
    poller = select.poll()  # not select(): it fails on descriptors past 1023
    poller.register(conn, select.POLLIN)
    return bool(poller.poll(0))


def _unavailable(error: psycopg2.OperationalError) -> Response:
    log.warning("database unavailable", extra={"error": str(error).strip()})
    message = "Database unavailable, try again shortly"
    return error_response(ApiError(503, "service_unavailable", message))


def get_db() -> Database:
    """Return the current app's database."""
    return current_app.extensions["flotilla.db"]
