"""gunicorn settings shared by every service.

`gunicorn --config python:flotilla.gunicorn_conf "order_service:create_app()"`
"""

import logging
import os
import sys
from typing import Any

from flotilla.config import ConfigError, Env
from flotilla.metrics import prepare_multiprocess_dir, worker_exited

_env = Env()

bind = f"0.0.0.0:{_env.integer('PORT', 8000)}"
# gthread, answering what gunicorn itself refuses (bad header bytes, ...) in JSON.
worker_class = "flotilla.gunicorn_worker.JsonErrorWorker"
workers = _env.integer("GUNICORN_WORKERS", 2)
threads = _env.integer("GUNICORN_THREADS", 4)
reload = _env.flag("GUNICORN_RELOAD", False)
timeout = _env.integer("GUNICORN_TIMEOUT", 30)
graceful_timeout = 20
# After SIGTERM, how long a worker goes on accepting connections (answering each with
# "Connection: close") before its graceful stop: a replica taken out of Swarm's or
# Kubernetes' service discovery still gets connections from clients that looked it up a
# moment before (NGINX caches addresses for 5 s). 0 in Compose, where nothing replaces it.
shutdown_delay = _env.number("GUNICORN_SHUTDOWN_DELAY", 0)
if not 0 <= shutdown_delay <= graceful_timeout / 2:
    raise ConfigError(
        f"GUNICORN_SHUTDOWN_DELAY must be 0 to {graceful_timeout // 2} s (half of gunicorn's"
        f" graceful timeout, so requests still have time to finish), got {shutdown_delay}"
    )
# gunicorn's largest request line: longer ones NGINX refuses first (8 KiB header buffers)
# with a JSON 414, instead of gunicorn answering with an HTML page.
limit_request_line = 8190
keepalive = 75  # longer than NGINX's upstream keepalive_timeout, so NGINX closes first
# Heartbeat files on tmpfs: a container's overlay filesystem can stall them.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# No runtime control socket: nothing in the container should steer gunicorn.
control_socket_disable = True
accesslog = None  # each app logs its own JSON access line with the request id
logger_class = "flotilla.gunicorn_worker.AppAccessLogger"
errorlog = "-"
loglevel = _env.get("LOG_LEVEL", "info").lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "flotilla.logs.JsonFormatter",
            "service": _env.get("SERVICE_NAME", "gunicorn"),
        }
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        }
    },
    "root": {"handlers": ["stdout"], "level": loglevel.upper()},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": ["stdout"], "level": "WARNING", "propagate": False},
    },
}


def on_starting(server: object) -> None:
    """Once, in the master, before any worker forks: empty the metrics' directory (the
    workers inherit its path)."""
    prepare_multiprocess_dir()


def child_exit(server: object, worker: Any) -> None:
    """Drop the live gauges of a worker that exited (its counts stay in the totals)."""
    worker_exited(worker.pid)


def worker_exit(server: object, worker: Any) -> None:
    """End a worker that leaves cleanly at once: nothing it would still do serves anyone."""
    # Its requests are answered by now (or past the graceful timeout). Python would next
    # join its threads, a name lookup hanging on a stopped container's name among them
    # (flotilla.clients bounds the wait, not the thread), then tear down the interpreter,
    # which a busy host gives CPU slowly: seconds in all, and the master waits for it.
    if os.getpid() != worker.pid:
        return  # the master calls it too, for a worker it found gone
    leaving = sys.exc_info()[1]
    if not isinstance(leaving, SystemExit) or leaving.code not in (0, None):
        return  # a failed worker (one that cannot boot) exits with its code for the master
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
