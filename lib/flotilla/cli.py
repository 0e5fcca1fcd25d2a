"""The commands a service's container runs, called from the service's own `__main__.py`:

python -m <package> migrate     apply migrations and start-up tasks, then exit
python -m <package> worker      apply migrations, then run the periodic jobs until stopped
python -m <package> run JOB     run one job, or one of its tasks, once (by hand, or from a test)
python -m <package> dead-letters [--replay]
                                list its consumers' dead letters, or move them back to their
                                queues on a first attempt (services that consume events)
"""

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg2
from flask import Flask

from flotilla.config import ConfigError
from flotilla.db import migrate
from flotilla.metrics import serve_worker_metrics
from flotilla.worker import Job, run_job, run_worker, start_jobs

if TYPE_CHECKING:  # pika is only in the images of services that use RabbitMQ
    from flotilla.consumer import Consumer

log = logging.getLogger(__name__)
StartupTask = Callable[[], None]  # runs once per container start, in an app context


def main(
    create_app: Callable[[], Flask],
    *,
    migrations: Sequence[Path] = (),
    startup: Sequence[StartupTask] = (),
    jobs: Sequence[Job] = (),
    tasks: Sequence[Job] = (),
    consumers: Sequence["Consumer"] = (),
    argv: list[str] | None = None,
) -> int:
    """Run one command of a service; return the exit status (tasks: jobs only `run` starts)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply migrations and start-up tasks")
    commands.add_parser("worker", help="apply migrations, then run the periodic jobs")
    commands.add_parser("run", help="run one job or task once").add_argument("job")
    if consumers:
        dead = commands.add_parser("dead-letters", help="list (or --replay) the dead letters")
        dead.add_argument("--replay", action="store_true", help="move them back to their queues")
    args = parser.parse_args(argv)
    try:
        app = create_app()
        if args.command == "run":
            return _run_one(app, [*jobs, *tasks], args.job)
        if args.command == "dead-letters":
            return _dead_letters(consumers, replay=args.replay)
        prepare(app, migrations, startup)
        if args.command == "worker":
            serve_worker_metrics(app)
            run_worker(app, jobs, consumers)
    except ConfigError as error:  # also a job's own settings, read when the worker starts
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    return 0


def prepare(
    app: Flask,
    migrations: Sequence[Path],
    startup: Sequence[StartupTask],
    wait_seconds: float = 120,
) -> None:
    """Apply migrations and run start-up tasks, waiting for the database to accept connections.

    Under Docker Swarm nothing orders the start of services, so PostgreSQL may come up last.
    """
    if not migrations and not startup:
        return

    deadline = time.monotonic() + wait_seconds
    delay = 0.5
    while True:
        try:
            applied = migrate(app.extensions["flotilla.db"].url, *migrations)
            log.info("migrations up to date", extra={"applied": applied})
            with app.app_context():
                for task in startup:
                    task()
            return
        except psycopg2.OperationalError as error:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("database unavailable, retrying", extra={"error": str(error).strip()})
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _dead_letters(consumers: Sequence["Consumer"], *, replay: bool) -> int:
    from flotilla.broker import BrokerSettings
    from flotilla.config import Env
    from flotilla.consumer import dead_letters, replay_dead_letters

    settings = BrokerSettings.from_env(Env())
    for consumer in consumers:
        if replay:
            print(f"{consumer.dead_queue}: {replay_dead_letters(settings, consumer)} replayed")
            continue
        letters = dead_letters(settings, consumer)
        print(f"{consumer.dead_queue}: {len(letters)}")
        for letter in letters:
            print(json.dumps(letter, default=str))
    return 0


def _run_one(app: Flask, jobs: Sequence[Job], name: str) -> int:
    by_name = {job.name: job for job in jobs}
    if name not in by_name:
        print(f"no job {name!r}; jobs: {', '.join(sorted(by_name)) or 'none'}", file=sys.stderr)
        return 2
    start_jobs(app, [by_name[name]])
    done = run_job(app, by_name[name])
    print(f"{name}: {'skipped (running elsewhere)' if done is None else done}")
    return 0
