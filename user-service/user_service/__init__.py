"""user-service: accounts, passwords and tokens."""

import logging
from pathlib import Path

from flask import Flask

from flotilla import create_base_app
from flotilla.auth import TokenVerifier, init_tokens
from flotilla.db import Database, migrate
from flotilla.health import register_health
from flotilla.openapi import load_document, register_openapi
from user_service import repository
from user_service.config import Config
from user_service.passwords import hash_password
from user_service.routes import register_blueprints
from user_service.tokens import Signer

MIGRATIONS = Path(__file__).parent / "migrations"
OPENAPI = Path(__file__).with_name("openapi.json")
log = logging.getLogger(__name__)


def create_app(config: Config | None = None) -> Flask:
    """Build the user-service app."""
    config = config or Config.from_env()
    app = create_base_app(__name__, service="user-service", log_level=config.log_level)
    app.config["SERVICE"] = config
    migrate(config.database_url, MIGRATIONS)
    db = Database(config.database_url)
    db.init_app(app)
    register_tokens(app, config, db)
    register_blueprints(app)
    register_health(app, {"database": db.ping})
    register_openapi(app, load_document(OPENAPI))
    ensure_admin(db, config)
    return app


def register_tokens(app: Flask, config: Config, db: Database) -> None:
    """Sign with the configured (or stored development) key and verify locally."""
    signer = Signer(
        config.tokens, db, pem=config.private_key_pem, access_seconds=config.access_token_seconds
    )
    app.extensions["signer"] = signer
    # Local keys need no refetch interval: they change only with a restart.
    init_tokens(app, TokenVerifier(config.tokens, keys=signer.public_keys, refetch_seconds=0))


def ensure_admin(db: Database, config: Config) -> None:
    """Create the configured first admin unless that email exists already."""
    with db.transaction() as cursor:
        if repository.get_credentials(cursor, email=config.admin_email):
            return
        created = repository.insert_user(
            cursor,
            email=config.admin_email,
            name="Administrator",
            password_hash=hash_password(config.admin_password),
            role="admin",
        )
    if created:  # another worker may have won the race
        log.info("created the first admin", extra={"email": config.admin_email})
