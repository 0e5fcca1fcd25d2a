"""The outbox relay (docs/events.md, "Outbox and relay"): a service's worker publishes its
outbox to RabbitMQ in order, at least once, and marks each event published once confirmed.

Rows are not claimed with FOR UPDATE SKIP LOCKED, which would let two replicas interleave
their batches: the worker runs the job under its advisory lock (flotilla.worker), checked
before each publish, so one relay per service runs at a time.
"""

import logging
import time
from dataclasses import dataclass
from typing import Any

import pika
from flask import Flask, current_app

from flotilla import broker, faults, outbox
from flotilla.broker import ERRORS, BrokerSettings
from flotilla.config import ConfigError, Env
from flotilla.db import Database, get_db
from flotilla.worker import Job, check_lease

log = logging.getLogger(__name__)

RELAY_EVERY_SECONDS = 0.5
# Every minute, in batches of short transactions until the old rows are gone, or for
# PURGE_SECONDS at most so that the relay's next run never waits long: a run deletes
# several minutes' worth of events at 100 a second (lib/tests/test_relay.py measures it).
PURGE_EVERY_SECONDS = 60
PURGE_BATCH = 5_000
PURGE_SECONDS = 5.0
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 5.0


@dataclass(frozen=True)
class RelaySettings:
    """Where the relay publishes, how much per run, and how long published rows are kept."""

    broker: BrokerSettings
    batch_size: int
    retention_hours: int
    fault_injection: bool = False  # tests only (flotilla.faults): crash after a confirm

    @classmethod
    def from_env(cls, env: Env) -> "RelaySettings":
        """Read RABBITMQ_*, OUTBOX_BATCH_SIZE and OUTBOX_RETENTION_HOURS."""
        settings = cls(
            broker=BrokerSettings.from_env(env),
            batch_size=env.integer("OUTBOX_BATCH_SIZE", 100),
            retention_hours=env.integer("OUTBOX_RETENTION_HOURS", 7 * 24),
            fault_injection=faults.enabled(env),
        )
        if settings.batch_size < 1 or settings.retention_hours < 1:
            raise ConfigError("OUTBOX_BATCH_SIZE and OUTBOX_RETENTION_HOURS must be at least 1")
        return settings


class Relay:
    """Publishes outbox rows over one connection, kept across runs and re-opened after a failure."""

    def __init__(self, settings: RelaySettings, *, name: str = "relay") -> None:
        self.settings = settings
        self.name = name
        self._connection: pika.BlockingConnection | None = None
        self._channel: Any = None
        self._down_since: float | None = None
        self._backoff = broker.Backoff(RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS)

    def run(self, db: Database) -> int:
        """Publish one batch of pending events; return how many RabbitMQ confirmed."""
        channel = self._live_channel()
        if channel is None:
            return 0
        with db.transaction() as cursor:
            rows = outbox.pending_events(cursor, limit=self.settings.batch_size)
        confirmed: list[str] = []
        try:
            for row in rows:
                event = broker.envelope(row)
                check_lease()  # raises once another replica may be relaying
                broker.publish(channel, event)  # returns once RabbitMQ confirmed (or raises)
                faults.crash_point("relay.after-confirm", enabled=self.settings.fault_injection)
                confirmed.append(event["id"])
                # The request that caused the event: its id joins this line to that request's.
                request = {"request_id": event["request_id"]} if event["request_id"] else {}
                log.info(
                    "event published",
                    extra={"event_id": event["id"], "type": event["type"], **request},
                )
        except ERRORS as error:
            self._lost(error)
        finally:
            if confirmed:
                with db.transaction() as cursor:
                    outbox.mark_published(cursor, event_ids=confirmed)
        return len(confirmed)

    def close(self) -> None:
        """Close the connection, if any."""
        broker.close(self._connection)
        self._connection = self._channel = None

    def _live_channel(self) -> Any:
        """Return a channel whose connection works, or None while RabbitMQ is away."""
        if self._channel is not None and self._channel.is_open:
            try:
                # Answers heartbeats, and shows a connection RabbitMQ dropped while it sat idle
                # (another replica held the relay's lock for a while, the broker restarted).
                self._channel.connection.process_data_events(time_limit=0)
                return self._channel
            except ERRORS as error:
                # Reconnected at once below: an outage only if that fails too.
                log.info("RabbitMQ connection lost, reconnecting", extra={"error": _reason(error)})
        elif self._backoff.waiting():
            return None
        self.close()
        try:
            self._connection = broker.connect(self.settings.broker, name=self.name)
            channel = self._connection.channel()
            channel.confirm_delivery()
            broker.check_exchange(channel)  # declared by the broker's definitions
        except ERRORS as error:
            self._lost(error)
            return None
        self._channel = channel
        if self._down_since is not None:
            down = round(time.monotonic() - self._down_since, 1)
            log.info("RabbitMQ reachable again, relaying", extra={"down_seconds": down})
        self._down_since = None
        self._backoff.succeeded()
        return channel

    def _lost(self, error: BaseException) -> None:
        self.close()
        reason = _reason(error)
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("RabbitMQ unavailable, events wait in the outbox", extra={"error": reason})
        else:
            log.debug("RabbitMQ still unavailable", extra={"error": reason})
        self._backoff.failed()


def _reason(error: BaseException) -> str:
    # Some of pika's errors have an empty str(); their repr still says what failed.
    return f"{type(error).__name__}: {str(error) or repr(error)}"


def start(app: Flask) -> None:
    """Read the relay's settings once (fail fast) and keep one relay for the worker's life."""
    if "flotilla.relay" not in app.extensions:
        relay = Relay(RelaySettings.from_env(Env()), name=f"{app.import_name} relay")
        app.extensions["flotilla.relay"] = relay


def relay_outbox() -> int:
    """Publish a batch of the outbox (a Job)."""
    return current_app.extensions["flotilla.relay"].run(get_db())


def purge_outbox() -> int:
    """Delete events published longer ago than the retention, batch by batch (a Job)."""
    retention = current_app.extensions["flotilla.relay"].settings.retention_hours
    deadline = time.monotonic() + PURGE_SECONDS
    purged = 0
    while True:
        with get_db().transaction() as cursor:
            batch = outbox.purge_published(cursor, older_than_hours=retention, limit=PURGE_BATCH)
        purged += batch
        if batch < PURGE_BATCH or time.monotonic() >= deadline:
            return purged


RELAY_JOB = Job("relay-outbox", RELAY_EVERY_SECONDS, relay_outbox, start=start)
PURGE_JOB = Job("purge-outbox", PURGE_EVERY_SECONDS, purge_outbox, start=start)
# A publishing service adds these to its jobs (and outbox.MIGRATIONS to its migrations).
JOBS = (RELAY_JOB, PURGE_JOB)
