"""notification-service: consumes events, stores a notification per event and mails it."""

from collections.abc import Mapping
from pathlib import Path

from flask import Flask

from flotilla import consumer
from flotilla.health import Check
from flotilla.service import CONFIG, Job, Service
from notification_service.config import Config
from notification_service.events import CONSUMER
from notification_service.jobs import purge_processed_event_ids
from notification_service.mail import send_queued_mail
from notification_service.routes import notifications


def broker_readiness(app: Flask) -> Mapping[str, Check]:
    """RabbitMQ next to the database: this service exists for the events it delivers."""
    return {"rabbitmq": consumer.broker_check(CONFIG.get(app).broker)}


service = Service(
    name="notification-service",
    import_name=__name__,
    config=Config,
    blueprints=[notifications],
    migrations=[Path(__file__).parent / "migrations", consumer.MIGRATIONS],
    openapi=(
        "What each user was told: one notification per event (a welcome, an order's "
        "confirmation, cancellation or failure), each also mailed. Every route needs an "
        "access token."
    ),
    checks=broker_readiness,
    jobs=[
        Job("send-mail", 2, send_queued_mail),
        Job("purge-processed-events", 3600, purge_processed_event_ids),
    ],
    consumers=[CONSUMER],
)


def create_app(config: Config | None = None) -> Flask:
    """Build the notification-service app."""
    return service.create_app(config)
