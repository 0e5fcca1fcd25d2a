"""user-service: accounts, passwords and tokens."""

from pathlib import Path

from flask import Flask

from flotilla import outbox, relay
from flotilla.service import Service
from user_service.admin import ensure_admin
from user_service.config import Config
from user_service.routes import auth, keys, users
from user_service.tokens import register_tokens

service = Service(
    name="user-service",
    import_name=__name__,
    config=Config,
    blueprints=[auth, users, keys],
    migrations=[Path(__file__).parent / "migrations", outbox.MIGRATIONS],
    openapi="Accounts, passwords and tokens.",
    extensions=[register_tokens, outbox.report_backlog],
    startup=[ensure_admin],
    # user-worker publishes user.registered; the API itself never touches RabbitMQ.
    jobs=[*relay.JOBS],
)


def create_app(config: Config | None = None) -> Flask:
    """Build the user-service app."""
    return service.create_app(config)
