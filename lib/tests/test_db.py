"""flotilla.db's pool against the real PostgreSQL: connections kept and reused, checked
before use, never shared across fork(), and an outage that answers 503."""

import os
import time

import psycopg2
import psycopg2.pool
import pytest

import flotilla.db
from flotilla import create_base_app
from flotilla.db import Database


def backend(db: Database) -> int:
    """Return the PostgreSQL backend of a transaction."""
    with db.transaction() as cursor:
        cursor.execute("SELECT pg_backend_pid() AS pid")
        return cursor.fetchone()["pid"]


def backends_of_two_at_once(db: Database) -> set[int]:
    """Return the PostgreSQL backends of two transactions open at once."""
    with db.transaction() as first, db.transaction() as second:
        pids = set()
        for cursor in (first, second):
            cursor.execute("SELECT pg_backend_pid() AS pid")
            pids.add(cursor.fetchone()["pid"])
    return pids


def end_backend(db_url: str, pid: int) -> None:
    """End a backend as a database restart would, and wait until it is gone."""
    other = psycopg2.connect(db_url, connect_timeout=5)
    try:
        other.autocommit = True
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", (pid,))
            for _ in range(100):  # the backend sends its error and exits a moment later
                cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))
                if cursor.fetchone() is None:
                    return
                time.sleep(0.02)
    finally:
        other.close()


def test_connections_given_back_are_kept_for_the_next_transactions(db):
    # Each transaction past the first on a new backend would cost a fork and a SCRAM handshake.
    first = backends_of_two_at_once(db)
    assert len(first) == 2
    assert backends_of_two_at_once(db) == first
    assert backend(db) in first


def test_a_transaction_commits_or_rolls_back(db):
    with db.transaction() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE probe (n int)")
    with pytest.raises(RuntimeError), db.transaction() as cursor:
        cursor.execute("INSERT INTO probe VALUES (1)")
        raise RuntimeError("a failure after the insert")
    with db.transaction() as cursor:
        cursor.execute("INSERT INTO probe VALUES (2)")
    with db.transaction() as cursor:
        cursor.execute("SELECT n FROM probe")
        assert cursor.fetchall() == [{"n": 2}]


def test_no_more_than_max_connections_are_open_at_once(db_url):
    db = Database(db_url, max_connections=2)
    try:
        with db.transaction(), db.transaction(), pytest.raises(psycopg2.pool.PoolError):
            db.transaction().__enter__()
        assert len(backends_of_two_at_once(db)) == 2
    finally:
        db.close()


def test_a_connection_the_server_just_ended_is_replaced_before_use(db, db_url, monkeypatch):
    # Used a moment ago, so not pinged: the server's goodbye on it tells.
    monkeypatch.setattr(flotilla.db, "PING_AFTER_IDLE_SECONDS", 3600)
    ended = backend(db)
    end_backend(db_url, ended)
    assert backend(db) != ended


def test_a_connection_idle_for_a_while_is_pinged_before_use(db, db_url, monkeypatch):
    monkeypatch.setattr(flotilla.db, "PING_AFTER_IDLE_SECONDS", 0)
    monkeypatch.setattr(flotilla.db, "_ended_by_server", lambda conn: False)
    ended = backend(db)
    end_backend(db_url, ended)
    assert backend(db) != ended


def test_a_connection_lost_in_a_transaction_is_503_not_500(db, db_url, monkeypatch):
    monkeypatch.setattr(flotilla.db, "PING_AFTER_IDLE_SECONDS", 3600)
    monkeypatch.setattr(flotilla.db, "_ended_by_server", lambda conn: False)
    end_backend(db_url, backend(db))
    with pytest.raises(psycopg2.OperationalError) as raised, db.transaction() as cursor:
        cursor.execute("SELECT 1")
    app = create_base_app(__name__, service="probe")
    db.init_app(app)
    with app.test_request_context():
        response = app.handle_user_exception(raised.value)
    assert response.status_code == 503
    assert response.json["error"]["code"] == "service_unavailable"
    assert backend(db)  # the lost connection is gone, a new one works


def test_a_forked_process_opens_connections_of_its_own(db):
    parent = backend(db)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child reports through the pipe)
        try:
            os.write(write, str(backend(db)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        in_child = int(answer.read() or 0)
    os.waitpid(child, 0)
    assert in_child and in_child != parent
    assert backend(db)  # the parent's transactions go on
