"""The transactional outbox: an event is stored in the same transaction as the change it
announces, so it exists exactly when the change does; the worker relays it later."""

import uuid
from pathlib import Path

from flask import g, has_request_context
from psycopg2.extras import Json, RealDictCursor

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
