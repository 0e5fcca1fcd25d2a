"""The transactional outbox: an event is stored in the same transaction as the change it
announces, so it exists exactly when the change does; the worker relays it later
(flotilla.relay). The SQL of the outbox table lives here, for every service that has one."""

import uuid
from pathlib import Path

from flask import Flask, g, has_request_context
from psycopg2.extras import Json, RealDictCursor

from flotilla.db import get_db
from flotilla.metrics import add_gauges

# A service that emits events lists this folder among its migrations.
MIGRATIONS = Path(__file__).parent / "migrations" / "outbox"


def add_event(cursor: RealDictCursor, *, type: str, data: dict) -> str:
    """Record an event in the caller's transaction; return its id."""
    event_id = str(uuid.uuid4())
    request_id = g.get("request_id") if has_request_context() else None
    cursor.execute(
        """
        INSERT INTO outbox (id, type, request_id, data)
        VALUES (%(id)s, %(type)s, %(request_id)s, %(data)s)
        """,
        {"id": event_id, "type": type, "request_id": request_id, "data": Json(data)},
    )
    return event_id


def pending_events(cursor: RealDictCursor, *, limit: int) -> list[dict]:
    """Return up to limit unpublished events, oldest first."""
    cursor.execute(
        """
        SELECT id, type, occurred_at, request_id, data
        FROM outbox
        WHERE published_at IS NULL
        ORDER BY seq
        LIMIT %(limit)s
        """,
        {"limit": limit},
    )
    return cursor.fetchall()


def mark_published(cursor: RealDictCursor, *, event_ids: list[str]) -> int:
    """Mark events as published; return how many were not marked yet."""
    cursor.execute(
        """
        UPDATE outbox
        SET published_at = now()
        WHERE id = ANY(%(ids)s::uuid[])
          AND published_at IS NULL
        """,
        {"ids": event_ids},
    )
    return cursor.rowcount


def purge_published(cursor: RealDictCursor, *, older_than_hours: int, limit: int) -> int:
    """Delete up to limit events published more than older_than_hours ago; return how many."""
    cursor.execute(
        """
        DELETE FROM outbox
        WHERE id IN (
            SELECT id
            FROM outbox
            WHERE published_at < now() - make_interval(hours => %(hours)s)
            LIMIT %(limit)s
        )
        """,
        {"hours": older_than_hours, "limit": limit},
    )
    return cursor.rowcount


def backlog() -> dict[str, float]:
    """Return how many events wait to be published and the age of the oldest, in seconds."""
    with get_db().transaction() as cursor:
        cursor.execute(
            """
            SELECT count(*) AS pending,
                   coalesce(extract(epoch FROM now() - min(occurred_at)), 0)::float
                       AS oldest_seconds
            FROM outbox
            WHERE published_at IS NULL
            """
        )
        return cursor.fetchone()


def init_app(app: Flask) -> None:
    """Serve the backlog as the gauges outbox_pending and outbox_oldest_seconds."""
    add_gauges(app, "outbox", "Events not yet published; the oldest one's age (s).", backlog)
