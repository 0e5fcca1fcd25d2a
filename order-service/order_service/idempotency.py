"""Idempotency-Key (API.md): per user, a repeat with the same body gets the first response."""

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable

import psycopg2
from flask import Response, current_app, request
from psycopg2.extras import RealDictCursor

from flotilla.db import Database
from flotilla.errors import ApiError, error_body
from order_service import repository

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII: what a header can carry unchanged
# Longer than any request can run (gunicorn's timeout): a key still "running" after
# this was left by a worker that died, and a repeat may take it over.
LEASE_SECONDS = 120

Action = Callable[[str], tuple[dict, int]]


def new_reservation_id() -> str:
    """Return a fresh name for a reservation in product-service."""
    return f"order-{uuid.uuid4().hex}"


def requested_key() -> str | None:
    """Return the request's Idempotency-Key, None without one, or raise 400 when it is bad."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not KEY.fullmatch(key):
        raise ApiError(400, "bad_request", f"{HEADER} must be 1-255 visible ASCII characters")
    return key


def body_hash(data: object) -> str:
    """Return a fingerprint of a validated body (key order and spacing do not matter)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_once(
    db: Database, *, user_id: int, key: str, request_hash: str, retention_hours: int, action: Action
) -> Response:
    """Run action(reservation_id) once per (user, key); repeats get its stored response."""
    with db.transaction() as cursor:
        claimed = repository.claim_idempotency_key(
            cursor,
            user_id=user_id,
            key=key,
            request_hash=request_hash,
            reservation_id=new_reservation_id(),
            retention_hours=retention_hours,
        )
        if claimed is None:
            stored = repository.get_idempotency_key(cursor, user_id=user_id, key=key)
            claimed = _repeat(cursor, stored, user_id=user_id, key=key, request_hash=request_hash)
            if isinstance(claimed, Response):
                return claimed
    try:
        body, status = action(claimed["reservation_id"])
    except ApiError as error:
        if error.status >= 500:
            _forget(db, user_id=user_id, key=key)
            raise
        body, status = error_body(error.code, error.message, fields=error.fields), error.status
    except Exception:
        _forget(db, user_id=user_id, key=key)
        raise
    text = current_app.json.dumps(body)
    with db.transaction() as cursor:
        repository.finish_idempotency_key(
            cursor, user_id=user_id, key=key, status_code=status, response_body=text
        )
    return _response(text, status)


def _repeat(
    cursor: RealDictCursor, stored: dict | None, *, user_id: int, key: str, request_hash: str
) -> dict | Response:
    """Answer a repeated key: the stored response, 422, 409, or the claim of a dead request."""
    if stored is None:  # the first request failed and forgot the key a moment ago
        raise ApiError(409, "idempotency_conflict", "A request with this key is being retried")
    if stored["request_hash"] != request_hash:
        raise ApiError(
            422, "idempotency_key_reused", "This Idempotency-Key was used with a different body"
        )
    if stored["status_code"] is not None:
        response = _response(stored["response_body"], stored["status_code"])
        response.headers[REPLAYED_HEADER] = "true"
        return response
    taken = repository.take_over_idempotency_key(
        cursor, user_id=user_id, key=key, lease_seconds=LEASE_SECONDS
    )
    if taken is None:
        raise ApiError(409, "idempotency_conflict", "A request with this key is still running")
    log.warning("took over an abandoned idempotency key", extra={"user_id": user_id})
    return taken


def _response(text: str, status: int) -> Response:
    return Response(text, status=status, mimetype="application/json")


def _forget(db: Database, *, user_id: int, key: str) -> None:
    """Let a retry run again after a failure on our side (5xx)."""
    try:
        with db.transaction() as cursor:
            repository.delete_idempotency_key(cursor, user_id=user_id, key=key)
    except psycopg2.Error as error:
        # The key stays "running" until its lease ends; then a repeat takes it over.
        log.error("could not forget an idempotency key", extra={"error": str(error)})
