"""The first admin, created by `python -m user_service migrate` (a start-up task)."""

import logging

from flotilla.db import get_db
from user_service import repository
from user_service.config import settings
from user_service.passwords import hash_password

log = logging.getLogger(__name__)


def ensure_admin() -> None:
    """Create the configured first admin unless that email exists already."""
    config = settings()
    with get_db().transaction() as cursor:
        if repository.get_credentials(cursor, email=config.admin_email):
            return
        created = repository.insert_user(
            cursor,
            email=config.admin_email,
            name="Administrator",
            password_hash=hash_password(config.admin_password),
            role="admin",
        )
    if created:  # another replica may have won the race
        log.info("created the first admin", extra={"email": config.admin_email})
