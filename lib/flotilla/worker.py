"""A service's worker: runs its periodic jobs on a schedule, one replica at a time per job,
and between them feeds its consumers the events they receive (flotilla.consumer)."""

import logging
import signal
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask

from flotilla.config import Env
from flotilla.db import get_db
from flotilla.metrics import serve_worker_metrics

if TYPE_CHECKING:  # pika is only in the images of services that use RabbitMQ
    from flotilla.consumer import Consumer, ConsumerRunner

log = logging.getLogger(__name__)

# Touched after every round: the container's healthcheck reads its age (docker-compose.yml).
HEARTBEAT = Path("/tmp/flotilla-worker.alive")  # noqa: S108 (tmpfs in production)
IDLE_SECONDS = 1.0
# Its metrics (Prometheus scrapes every container of a service on the same port).
METRICS_PORT = 8000


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


def run_job(app: Flask, job: Job) -> int | None:
    """Run one job unless another replica is running it; return what it reported."""
    with app.app_context(), get_db().transaction() as cursor:
        # Held for the job's duration and released with this transaction, or when a
        # killed worker's connection drops: never twice at once, never stuck.
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s) AS locked", (lock_key(app, job),))
        if not cursor.fetchone()["locked"]:
            return None
        done = job.run()
    if done:
        log.info("job done", extra={"job": job.name, "rows": done})
    return done


def run_worker(app: Flask, jobs: Sequence[Job], consumers: Sequence["Consumer"] = ()) -> None:
    """Run the jobs and consumers until SIGTERM or SIGINT."""
    runner = _consumer_runner(app, consumers)
    start_jobs(app, jobs)
    serve_worker_metrics(app, METRICS_PORT)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    due = {job.name: 0.0 for job in jobs}
    queues = [consumer.queue for consumer in consumers]
    log.info("worker started", extra={"jobs": sorted(due), "queues": queues})
    while not stop.is_set():
        for job in jobs:
            if time.monotonic() >= due[job.name]:
                _run_logged(app, job)
                due[job.name] = time.monotonic() + job.every_seconds
        # Touched while RabbitMQ is away too: the worker is alive and reconnecting, and
        # restarting it would not bring RabbitMQ back.
        HEARTBEAT.touch()
        next_due = min(due.values(), default=time.monotonic() + IDLE_SECONDS)
        wait = min(IDLE_SECONDS, max(0.05, next_due - time.monotonic()))
        if runner:
            runner.poll(wait)
        else:
            stop.wait(wait)
    if runner:
        runner.close()
    log.info("worker stopped")


def _consumer_runner(app: Flask, consumers: Sequence["Consumer"]) -> "ConsumerRunner | None":
    if not consumers:
        return None
    # Imported here: pika is only in the images of services that use RabbitMQ.
    from flotilla.broker import BrokerSettings
    from flotilla.consumer import ConsumerRunner

    return ConsumerRunner(app, consumers, BrokerSettings.from_env(Env()))


def _run_logged(app: Flask, job: Job) -> None:
    try:
        run_job(app, job)
    except Exception:  # a failing job (database down, a bug) must not stop the others
        log.exception("job failed", extra={"job": job.name})
