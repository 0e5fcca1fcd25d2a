"""notification-service: consumes events, stores a notification per event and mails it."""

from functools import partial
from pathlib import Path

from flask import Flask

from flotilla import auth, consumer, health, metrics
from flotilla.app import create_base_app
from flotilla.auth import TokenVerifier
from flotilla.db import Database, get_db
from flotilla.openapi import register_openapi
from notification_service import repository
from notification_service.config import Config
from notification_service.events import CONSUMER
from notification_service.routes import notifications

MIGRATIONS = [Path(__file__).parent / "migrations", consumer.MIGRATIONS]


def create_app(config: Config | None = None) -> Flask:
    """Build the notification-service app: nothing here touches the database or the network."""
    config = config or Config.from_env()
    app = create_base_app(__name__, service="notification-service", log_level=config.log_level)
    app.config["SETTINGS"] = config
    db = Database(config.database_url)
    db.init_app(app)
    auth.init_app(app, TokenVerifier(config.tokens))
    app.register_blueprint(notifications)
    register_openapi(
        app,
        title="notification-service",
        description="What each user was told: one notification per event (a welcome, an order's "
        "confirmation, cancellation or failure), each also mailed. Every route needs an "
        "access token.",
    )
    # RabbitMQ next to the database: this service exists for the events it delivers.
    health.init_app(app, {"database": db.ping, "rabbitmq": consumer.broker_check(config.broker)})
    metrics.add_gauges(
        app, "mail", "Notifications' mail by state; the oldest queued one's age (s).", mail_counts
    )
    # Events no retry could handle: what an operator acts on.
    metrics.add_gauges(
        app,
        "flotilla_dead_letters",
        "Messages waiting in a consumer's dead-letter queue, by queue.",
        partial(consumer.dead_letter_depths, config.broker, [CONSUMER]),
        label="queue",
    )
    return app


def mail_counts() -> dict[str, float]:
    """How many mails are queued, sent and failed, and the oldest queued one's age:
    notification-worker's mail_* gauges (docs/operations.md)."""
    with get_db().transaction() as cursor:
        row = repository.mail_counts(cursor)
    return {key: float(value or 0) for key, value in row.items()}
