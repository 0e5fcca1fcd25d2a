"""flotilla.worker: a job's lock lives on a connection of its own that ends the job's right to
act when it ends, and the heartbeat goes on while a long job runs."""

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import probe
import pytest
from flask import Flask

from flotilla import worker
from flotilla.db import Database
from flotilla.worker import Job, LeaseLostError, check_lease, lock_key, run_job, run_worker


@pytest.fixture
def app(db_url: str) -> Flask:
    app = probe.create_app()
    Database(db_url).init_app(app)
    return app


def lock_holder(db: Database, key: int) -> dict | None:
    """The session holding an advisory lock, and its state."""
    with db.transaction() as cursor:
        cursor.execute(
            """
            SELECT a.pid, a.state
            FROM pg_locks AS l
            JOIN pg_stat_activity AS a ON a.pid = l.pid
            WHERE l.locktype = 'advisory'
              AND l.objid::bigint = %(key)s
              AND l.granted
            """,
            {"key": key},
        )
        return cursor.fetchone()


def test_the_lock_is_held_by_a_session_that_is_idle_not_in_a_transaction(app, db):
    seen = {}

    def job() -> int:
        seen["holder"] = lock_holder(db, lock_key(app, Job("probe-idle", 60, job)))
        return 1

    assert run_job(app, Job("probe-idle", 60, job)) == 1
    assert seen["holder"]["state"] == "idle"
    assert lock_holder(db, lock_key(app, Job("probe-idle", 60, job))) is None  # released


def test_a_job_whose_lock_connection_ends_stops_before_its_next_side_effect(app, db, caplog):
    effects = []

    def job() -> int:
        holder = lock_holder(db, lock_key(app, Job("probe-lease", 60, job)))
        check_lease()
        effects.append("first")
        with db.transaction() as cursor:  # the lock's connection dies (a network cut, a kill)
            cursor.execute("SELECT pg_terminate_backend(%s)", (holder["pid"],))
        check_lease()
        effects.append("second")
        return 2

    with caplog.at_level(logging.WARNING, logger="flotilla.worker"):
        assert run_job(app, Job("probe-lease", 60, job)) is None
    assert effects == ["first"]
    assert "job stopped: its lock is gone" in caplog.messages
    # The next run opens a new connection and takes the lock again.
    assert run_job(app, Job("probe-lease", 60, lambda: 3)) == 3


def test_check_lease_outside_a_job_does_nothing():
    check_lease()


def test_a_job_may_stop_itself_on_a_lost_lease_by_letting_the_error_through(app):
    def job() -> int:
        raise LeaseLostError("gone")

    assert run_job(app, Job("probe-gone", 60, job)) is None


@pytest.fixture
def heartbeat(monkeypatch, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "alive"
    monkeypatch.setattr(worker, "HEARTBEAT", path)
    monkeypatch.setattr(worker, "HEARTBEAT_SECONDS", 0.1)
    yield path


def run_in_thread(app: Flask, jobs: list[Job]) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(app, jobs), kwargs={"stop": stop})
    thread.start()
    return stop, thread


def beats_during(heartbeat: Path, seconds: float) -> set[float]:
    """The heartbeat's modification times seen over some seconds."""
    seen = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if heartbeat.exists():
            seen.add(heartbeat.stat().st_mtime)
        time.sleep(0.05)
    return seen


def test_the_heartbeat_goes_on_while_a_long_job_runs(app, heartbeat):
    started, finish = threading.Event(), threading.Event()

    def long_job() -> int:
        started.set()
        finish.wait(10)
        return 1

    stop, thread = run_in_thread(app, [Job("probe-long", 60, long_job)])
    try:
        assert started.wait(10)
        assert len(beats_during(heartbeat, 1.5)) >= 3
    finally:
        finish.set()
        stop.set()
        thread.join(10)


def test_a_round_stuck_past_its_bound_stops_the_heartbeat(app, heartbeat, monkeypatch):
    monkeypatch.setattr(worker, "STUCK_SECONDS", 0.3)
    started, finish = threading.Event(), threading.Event()

    def stuck_job() -> int:
        started.set()
        finish.wait(10)
        return 1

    stop, thread = run_in_thread(app, [Job("probe-stuck", 60, stuck_job)])
    try:
        assert started.wait(10)
        time.sleep(0.6)
        assert len(beats_during(heartbeat, 1)) <= 1  # the last beat, no new one
    finally:
        finish.set()
        stop.set()
        thread.join(10)
