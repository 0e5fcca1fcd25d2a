"""notification-service's fixtures; config, app, client, db and customer headers come from the
flotilla plugin."""

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import psycopg2.errors
import pytest
import requests
from flask import Flask

from flotilla.consumer import handle_event
from flotilla.db import Database
from flotilla.worker import lock_key
from notification_service.events import CONSUMER
from notification_service.jobs import JOBS

MAILDEV_URL = os.environ.get("MAILDEV_URL", "http://maildev:1080")


@pytest.fixture(autouse=True)
def clean(db: Database) -> Database:
    """Every test starts with no notifications, recipients or handled events."""
    # The stack's notification-worker writes these tables too (the other suites' events), its
    # mail job in another order than its consumer: PostgreSQL ends a deadlock with either by
    # failing one side, and this side tries again.
    for attempt in range(3):
        try:
            with db.transaction() as cursor:
                cursor.execute(
                    "TRUNCATE processed_events, recipients, notifications RESTART IDENTITY"
                )
            break
        except psycopg2.errors.DeadlockDetected:
            if attempt == 2:
                raise
    return db


@pytest.fixture(autouse=True)
def mail_job_held(app: Flask, db: Database) -> Iterator[None]:
    """Hold the send-mail job's lock: the stack's worker skips it and the test sends mail."""
    with db.transaction() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(app, _job("send-mail")),))
        yield


@pytest.fixture
def event() -> Callable[..., dict]:
    """Build an event envelope: event("order.cancelled", order_id=7, user_id=3)."""

    def make(type: str, *, request_id: str | None = None, **data) -> dict:
        return {
            "id": str(uuid.uuid4()),
            "type": type,
            "occurred_at": datetime.now(UTC).isoformat(),
            "request_id": request_id or f"test-{uuid.uuid4().hex}",
            "data": data,
        }

    return make


@pytest.fixture
def handle(app: Flask) -> Callable[[dict], bool]:
    """Handle an event as the worker does: once per id, in the service's database."""

    def run(event: dict) -> bool:
        with app.app_context():
            return handle_event(CONSUMER, event)

    return run


@pytest.fixture
def registered(handle, event) -> Callable[..., dict]:
    """Handle a user.registered event for a new user id; return its data."""
    user_ids = iter(range(10_000, 20_000))

    def register(**fields) -> dict:
        data = {
            "user_id": next(user_ids),
            "email": f"nt-{uuid.uuid4().hex[:12]}@example.com",
            "name": "Ada",
            **fields,
        }
        assert handle(event("user.registered", **data))
        return data

    return register


@pytest.fixture
def notifications(db: Database) -> Callable[[], list[dict]]:
    """Every stored notification, oldest first, with its mail's state."""

    def rows() -> list[dict]:
        with db.transaction() as cursor:
            cursor.execute(
                "SELECT id, event_id::text, user_id, type, subject, body, request_id,"
                " email_status, mail_attempts, mail_error, next_mail_at > now() AS later"
                " FROM notifications ORDER BY id"
            )
            return cursor.fetchall()

    return rows


class MailDev:
    """MailDev's REST API: what the SMTP server received."""

    def emails(self, to: str) -> list[dict]:
        """The mails received for an address."""
        response = requests.get(f"{MAILDEV_URL}/email", timeout=10)
        response.raise_for_status()
        return [
            mail
            for mail in response.json()
            if any(rcpt["address"] == to for rcpt in mail.get("to", []))
        ]


@pytest.fixture
def maildev() -> MailDev:
    return MailDev()


def _job(name: str):
    return next(job for job in JOBS if job.name == name)
