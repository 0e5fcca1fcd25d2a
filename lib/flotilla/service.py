"""The service skeleton: a service is declared once and built, prepared and run from that."""

import importlib
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

import psycopg2
from flask import Blueprint, Flask

from flotilla.app import Slot, create_base_app
from flotilla.auth import TokenSettings, TokenVerifier, init_tokens
from flotilla.config import ConfigError, Env, database_url, internal_api_token
from flotilla.db import Database, migrate
from flotilla.health import Check, register_health
from flotilla.openapi import register_openapi

if TYPE_CHECKING:  # pika is only in the images of services that use RabbitMQ
    from flotilla.consumer import Consumer

log = logging.getLogger(__name__)
T = TypeVar("T")


CONFIG: Slot["ServiceConfig"] = Slot("config")


@dataclass(frozen=True)
class ServiceConfig:
    """The settings every service shares; a service subclasses it and adds its own fields.

    A subclass names its database (`database = "orders"`, None for none), says whether it
    takes part in the service-to-service credential (`internal_api = True`), and returns
    its own fields from `own(env)`.
    """

    database: ClassVar[str | None] = None
    internal_api: ClassVar[bool] = False

    log_level: str
    tokens: TokenSettings
    database_url: str
    internal_token: str

    @classmethod
    def from_env(cls, env: Env | None = None) -> Self:
        """Read the settings; raise ConfigError when one cannot work."""
        env = env or Env()
        return cls(
            log_level=env.get("LOG_LEVEL", "INFO"),
            tokens=TokenSettings.from_env(env),
            database_url=database_url(env, default_name=cls.database) if cls.database else "",
            internal_token=internal_api_token(env) if cls.internal_api else "",
            **cls.own(env),
        )

    @classmethod
    def own(cls, env: Env) -> dict[str, Any]:
        """Return the service's own settings (none by default)."""
        return {}

    @classmethod
    def current(cls) -> Self:
        """Return the configuration of the current app."""
        config = CONFIG.get()
        if not isinstance(config, cls):
            raise TypeError(f"the current app's configuration is not a {cls.__name__}")
        return config


Extension = Callable[[Flask, Any], None]
StartupTask = Callable[[Database, Any], None]


@dataclass(frozen=True)
class Job:
    """Work a service's worker runs every `every_seconds`, in one replica at a time."""

    name: str
    every_seconds: float
    run: Callable[[], int | None]  # runs in an app context; returns how many rows it touched
    # Runs once per worker before the first run: reads the job's own settings (so a worker
    # fails at start, not every tick) and sets up what its runs share, such as a connection.
    start: Callable[[Flask], None] | None = None


@dataclass(frozen=True)
class Service:
    """Everything that makes a service: built into an app, prepared once, run by a worker."""

    name: str
    import_name: str
    config: type[ServiceConfig]
    blueprints: Sequence[Blueprint]
    migrations: Sequence[Path] = ()
    openapi: str | None = None  # the description of its OpenAPI document; None: no document
    extensions: Sequence[Extension] = ()
    checks: Callable[[Flask], Mapping[str, Check]] | None = None
    startup: Sequence[StartupTask] = ()
    jobs: Sequence[Job] = field(default=())
    consumers: Sequence["Consumer"] = ()  # fed by the worker, alongside the jobs

    def create_app(self, config: ServiceConfig | None = None) -> Flask:
        """Build the app: extensions and blueprints, nothing run against anything."""
        config = config or self.config.from_env()
        app = create_base_app(self.import_name, service=self.name, log_level=config.log_level)
        CONFIG.set(app, config)
        checks: dict[str, Check] = {}
        if config.database_url:
            db = Database(config.database_url)
            db.init_app(app)
            checks["database"] = db.ping
        init_tokens(app, TokenVerifier(config.tokens))
        for extend in self.extensions:
            extend(app, config)
        for blueprint in self.blueprints:
            app.register_blueprint(blueprint)
        if self.openapi:
            register_openapi(app, title=self.name, description=self.openapi)
        register_health(app, {**checks, **(self.checks(app) if self.checks else {})})
        return app

    def prepare(self, config: ServiceConfig | None = None, *, wait_seconds: float = 120) -> None:
        """Apply migrations and run start-up tasks: once per container, before serving.

        Waits (with backoff) for the database to accept connections: under Docker Swarm
        nothing orders the start of services, so PostgreSQL may come up last.
        """
        config = config or self.config.from_env()
        if not config.database_url:
            return
        retry_while_unavailable(lambda: self._prepare(config), "database", wait_seconds)

    def _prepare(self, config: ServiceConfig) -> None:
        applied = migrate(config.database_url, *self.migrations)
        log.info("migrations up to date", extra={"applied": applied})
        if self.startup:
            db = Database(config.database_url, max_connections=1)
            try:
                for task in self.startup:
                    task(db, config)
            finally:
                db.close()


def retry_while_unavailable(action: Callable[[], T], what: str, wait_seconds: float) -> T:
    """Run action, retrying with backoff while its dependency refuses connections."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.5
    while True:
        try:
            return action()
        except psycopg2.OperationalError as error:
            if time.monotonic() + delay > deadline:
                raise
            log.warning(f"{what} unavailable, retrying", extra={"error": str(error).strip()})
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def load(import_name: str | None = None) -> Service:
    """Return the Service declared as `service` in a package (default: $FLOTILLA_APP)."""
    name = import_name or os.environ.get("FLOTILLA_APP", "")
    if not name:
        raise ConfigError("FLOTILLA_APP must name the service's package (e.g. user_service)")
    service = getattr(importlib.import_module(name), "service", None)
    if not isinstance(service, Service):
        raise ConfigError(f"{name} declares no `service = Service(...)`")
    return service
