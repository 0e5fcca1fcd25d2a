"""A service's worker: runs its periodic jobs on a schedule, one replica at a time per job,
and between them feeds its consumers the events they receive (flotilla.consumer)."""

import logging
import signal
import threading
import time
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask

from flotilla.config import Env
from flotilla.db import get_db
from flotilla.service import Job, Service, ServiceConfig

if TYPE_CHECKING:
    from flotilla.consumer import ConsumerRunner

log = logging.getLogger(__name__)

# Touched after every round: the container's healthcheck reads its age (docker-compose.yml).
HEARTBEAT = Path("/tmp/flotilla-worker.alive")  # noqa: S108 (tmpfs in production)
IDLE_SECONDS = 1.0


def lock_key(service: Service, job: Job) -> int:
    """Return the advisory lock a job holds while it runs."""
    return zlib.crc32(f"{service.name}:{job.name}".encode())


def start_jobs(app: Flask, jobs: Iterable[Job]) -> None:
    """Run the start hook of each job once, before its first run."""
    for job in jobs:
        if job.start:
            job.start(app)


def run_job(app: Flask, service: Service, job: Job) -> int | None:
    """Run one job unless another replica is running it; return what it reported."""
    with app.app_context(), get_db().transaction() as cursor:
        # Held for the job's duration and released with this transaction, or when a
        # killed worker's connection drops: never twice at once, never stuck.
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s) AS locked", (lock_key(service, job),))
        if not cursor.fetchone()["locked"]:
            return None
        done = job.run()
    if done:
        log.info("job done", extra={"job": job.name, "rows": done})
    return done


def run_worker(service: Service, config: ServiceConfig | None = None) -> None:
    """Run the service's jobs and consumers until SIGTERM or SIGINT."""
    config = config or service.config.from_env()
    app = service.create_app(config)
    runner = _consumer_runner(app, service)
    service.prepare(config)
    start_jobs(app, service.jobs)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    due = {job.name: 0.0 for job in service.jobs}
    queues = [consumer.queue for consumer in service.consumers]
    log.info("worker started", extra={"jobs": sorted(due), "queues": queues})
    while not stop.is_set():
        for job in service.jobs:
            if time.monotonic() >= due[job.name]:
                _run_logged(app, service, job)
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


def _consumer_runner(app: Flask, service: Service) -> "ConsumerRunner | None":
    if not service.consumers:
        return None
    # Imported here: pika is only in the images of services that use RabbitMQ.
    from flotilla.broker import BrokerSettings
    from flotilla.consumer import ConsumerRunner

    return ConsumerRunner(app, service.consumers, BrokerSettings.from_env(Env()))


def _run_logged(app: Flask, service: Service, job: Job) -> None:
    try:
        run_job(app, service, job)
    except Exception:  # a failing job (database down, a bug) must not stop the others
        log.exception("job failed", extra={"job": job.name})
