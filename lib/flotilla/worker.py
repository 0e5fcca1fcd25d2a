"""A service's worker: runs its periodic jobs on a schedule, one replica at a time per job,
and between them feeds its consumers the events they receive (flotilla.consumer).

A job runs under a session advisory lock held by a connection of its own, which sits idle
(never in a transaction) while the job works on other connections. The lock ends when that
connection ends; so that a job never carries on without it, a job calls check_lease()
before each side effect outside the database (a mail sent, an event published).
"""

import logging
import signal
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg2
from flask import Flask

from flotilla.config import Env
from flotilla.db import CONNECT_TIMEOUT_SECONDS

if TYPE_CHECKING:  # pika is only in the images of services that use RabbitMQ
    from flotilla.consumer import Consumer, ConsumerRunner

log = logging.getLogger(__name__)

# Touched by a thread of its own: the container's healthcheck reads its age (docker-compose.yml).
HEARTBEAT = Path("/tmp/flotilla-worker.alive")  # noqa: S108 (tmpfs in production)
HEARTBEAT_SECONDS = 5.0
# A round of the loop (a job's run, a slice of events) taking longer than this is stuck: the
# heartbeat stops, so the healthcheck reports the worker and an orchestrator replaces it.
STUCK_SECONDS = 900.0
IDLE_SECONDS = 1.0
# The lock's connection: both ends notice a peer that vanished within about 30 s, so the
# server frees a dead worker's lock and a worker learns that its lock is gone.
LOCK_CONNECTION = {
    "connect_timeout": CONNECT_TIMEOUT_SECONDS,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 20_000,
    "options": "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5"
    " -c tcp_keepalives_count=3 -c tcp_user_timeout=20000 -c idle_session_timeout=0",
}


@dataclass(frozen=True)
class Job:
    """Work a service's worker runs every `every_seconds`, in one replica at a time."""

    name: str
    every_seconds: float
    run: Callable[[], int | None]  # runs in an app context; returns how many rows it touched
    # Runs once per worker before the first run: reads the job's own settings (so a worker
    # fails at start, not every tick) and sets up what its runs share, such as a connection.
    start: Callable[[Flask], None] | None = None


def lock_key(app: Flask, job: Job) -> int:
    """Return the advisory lock a job holds while it runs."""
    return zlib.crc32(f"{app.config['SERVICE_NAME']}:{job.name}".encode())


def start_jobs(app: Flask, jobs: Iterable[Job]) -> None:
    """Run the start hook of each job once, before its first run."""
    for job in jobs:
        if job.start:
            job.start(app)


class LeaseLostError(Exception):
    """The running job's lock is gone with its connection: another replica may run it now."""


class _Lease:
    """A job's session advisory lock, on a connection that does nothing else (one per thread)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.key = 0
        self._conn: psycopg2.extensions.connection | None = None

    def acquire(self, key: int) -> bool:
        """Take the lock unless another session holds it; a dead connection is replaced once."""
        self.key = key
        for attempt in (1, 2):
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg2.connect(self.url, **LOCK_CONNECTION)
                    self._conn.autocommit = True
                return self._query("SELECT pg_try_advisory_lock(%s)")
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                self.close()
                if attempt == 2:
                    raise
        return False

    def held(self) -> bool:
        """Whether the lock is still ours: its session answers."""
        try:
            return self._conn is not None and self._query("SELECT %s IS NOT NULL")
        except psycopg2.Error:
            self.close()
            return False

    def release(self) -> None:
        """Give the lock back; the connection stays, idle, for the next run."""
        try:
            if self._conn is not None and not self._conn.closed:
                self._query("SELECT pg_advisory_unlock(%s)")
        except psycopg2.Error:
            self.close()  # the lock ends with its session

    def close(self) -> None:
        """Close the connection, and with it the lock."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            conn.close()

    def _query(self, sql: str) -> bool:
        assert self._conn is not None
        with self._conn.cursor() as cursor:
            cursor.execute(sql, (self.key,))
            return bool(cursor.fetchone()[0])


_lease: ContextVar[_Lease | None] = ContextVar("flotilla_job_lease", default=None)
_leases = threading.local()  # per thread: a session lock is re-entrant within its session


def check_lease() -> None:
    """Raise LeaseLostError unless the running job still holds its lock (a no-op outside a job)."""
    lease = _lease.get()
    if lease is not None and not lease.held():
        raise LeaseLostError("the job's lock ended with its connection")


def _lease_for(app: Flask) -> _Lease:
    if not hasattr(_leases, "by_url"):
        _leases.by_url = {}
    url = app.extensions["flotilla.db"].url
    if url not in _leases.by_url:
        _leases.by_url[url] = _Lease(url)
    return _leases.by_url[url]


def run_job(app: Flask, job: Job) -> int | None:
    """Run one job unless another replica is running it; return what it reported."""
    lease = _lease_for(app)
    if _lease.get() is lease:
        raise RuntimeError("run_job inside a job of the same thread and database")
    if not lease.acquire(lock_key(app, job)):
        return None
    token = _lease.set(lease)
    try:
        with app.app_context():
            done = job.run()
    except LeaseLostError:
        log.warning("job stopped: its lock is gone", extra={"job": job.name})
        return None
    finally:
        _lease.reset(token)
        lease.release()
    if done:
        log.info("job done", extra={"job": job.name, "rows": done})
    return done


class Heartbeat(threading.Thread):
    """Touches HEARTBEAT from its own thread, so a long job never makes the worker look dead."""

    def __init__(self, stop: threading.Event) -> None:
        super().__init__(name="heartbeat", daemon=True)
        self.stop = stop
        self.round()

    def round(self) -> None:
        """Mark the start of a round of the worker's loop."""
        self.round_started = time.monotonic()

    def run(self) -> None:
        """Touch the file every HEARTBEAT_SECONDS until stop is set, unless a round is stuck."""
        while True:
            if time.monotonic() - self.round_started < STUCK_SECONDS:
                HEARTBEAT.touch()
            if self.stop.wait(HEARTBEAT_SECONDS):
                return


def run_worker(
    app: Flask,
    jobs: Sequence[Job],
    consumers: Sequence["Consumer"] = (),
    *,
    stop: threading.Event | None = None,
) -> None:
    """Run the jobs and consumers until stop is set (by default: SIGTERM or SIGINT)."""
    runner = _consumer_runner(app, consumers)
    start_jobs(app, jobs)
    if stop is None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    # Beats while RabbitMQ is away too: the worker is alive and reconnecting, and
    # restarting it would not bring RabbitMQ back.
    heartbeat = Heartbeat(stop)
    heartbeat.start()
    due = {job.name: 0.0 for job in jobs}
    log.info("worker started", extra={"jobs": sorted(due), "queues": [c.queue for c in consumers]})
    while not stop.is_set():
        heartbeat.round()
        for job in jobs:
            if time.monotonic() >= due[job.name]:
                try:
                    run_job(app, job)
                except Exception:  # a failing job (database down, a bug) must not stop the others
                    log.exception("job failed", extra={"job": job.name})
                due[job.name] = time.monotonic() + job.every_seconds
        heartbeat.round()
        next_due = min(due.values(), default=time.monotonic() + IDLE_SECONDS)
        wait = min(IDLE_SECONDS, max(0.05, next_due - time.monotonic()))
        if runner:
            runner.poll(wait)
        else:
            stop.wait(wait)
    if runner:
        runner.close()
    heartbeat.join()
    log.info("worker stopped")


def _consumer_runner(app: Flask, consumers: Sequence["Consumer"]) -> "ConsumerRunner | None":
    if not consumers:
        return None
    # Imported here: pika is only in the images of services that use RabbitMQ.
    from flotilla.broker import BrokerSettings
    from flotilla.consumer import ConsumerRunner

    return ConsumerRunner(app, consumers, BrokerSettings.from_env(Env()))
