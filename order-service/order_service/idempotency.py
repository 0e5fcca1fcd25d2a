"""Idempotency-Key (API.md): per user, a repeat with the same body gets the first response.

A key is claimed by the statement that records its order as pending, and its answer is
stored in the transaction that settles the order, whoever settles it (the request, a repeat,
or the worker's recovery), so a repeat always ends up with the order's final outcome.
"""

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass

from flask import Response
from psycopg2.extras import RealDictCursor

from flotilla.errors import ApiError
from order_service import repository

log = logging.getLogger(__name__)

REPLAYED_HEADER = "Idempotent-Replayed"
# Longer than any request can run: a key whose request died is taken over after this, unless
# the recovery has settled its order (and stored the answer) first, which it does far sooner.
LEASE_SECONDS = 120


@dataclass(frozen=True)
class Claim:
    """The reservation id a request places its order under; fresh when nobody used it before.

    `order`: the pending order recorded with the key's claim, if it was.
    """

    reservation_id: str
    fresh: bool
    order: dict | None = None


def new_claim() -> Claim:
    """Return a claim for a request without a key: a fresh reservation id."""
    return Claim(f"order-{uuid.uuid4().hex}", fresh=True)


def body_hash(data: object) -> str:
    """Return a fingerprint of a validated body (key order and spacing do not matter)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim(
    cursor: RealDictCursor,
    *,
    user_id: int,
    key: str,
    request_hash: str,
    retention_hours: int,
    lines: list[dict],
) -> Claim | Response:
    """Claim a key for this request and record its order as pending, or return the stored
    response a repeat gets, or the claim of the repeat that takes the key over.

    Raises 422 for another body with the key and 409 while another request holds its lease.
    """
    order = repository.claim_idempotency_key(
        cursor,
        user_id=user_id,
        key=key,
        request_hash=request_hash,
        reservation_id=new_claim().reservation_id,
        retention_hours=retention_hours,
        lease_seconds=LEASE_SECONDS,
        lines=lines,
    )
    if order is not None:
        return Claim(order["reservation_id"], fresh=True, order=order)
    stored = repository.get_idempotency_key(cursor, user_id=user_id, key=key)
    if stored is None:  # the first request failed and forgot the key a moment ago
        raise ApiError(409, "idempotency_conflict", "A request with this key is being retried")
    if stored["request_hash"] != request_hash:
        raise ApiError(
            422, "idempotency_key_reused", "This Idempotency-Key was used with a different body"
        )
    if stored["status_code"] is not None:
        response = Response(
            stored["response_body"], status=stored["status_code"], mimetype="application/json"
        )
        response.headers[REPLAYED_HEADER] = "true"
        return response
    taken = repository.take_over_idempotency_key(
        cursor, user_id=user_id, key=key, lease_seconds=LEASE_SECONDS
    )
    if taken is None:
        raise ApiError(409, "idempotency_conflict", "A request with this key is still running")
    log.info("finishing the placement of an earlier request", extra={"user_id": user_id})
    return Claim(taken["reservation_id"], fresh=False)
