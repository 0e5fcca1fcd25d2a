"""Internal endpoints for order-service only: not routed by the gateway, and each call
must carry the shared service credential."""

import hmac
import re
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from flotilla.db import get_db
from flotilla.errors import ApiError
from flotilla.validation import BIGINT_MAX, Field, json_body, validate, validate_list
from product_service import inventory
from product_service.cache import ProductCache

SERVICE_TOKEN_HEADER = "X-Service-Token"
RESERVATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
RESERVE = {
    "reservation_id": Field(str, pattern=RESERVATION_ID),
    "items": Field(list),
}
LINE = {"product_id": Field(int, min=1, max=BIGINT_MAX), "quantity": Field(int, min=1, max=1000)}
STALE_SWEEP_SECONDS = 60.0

internal = Blueprint("internal", __name__, url_prefix="/internal")
_last_sweep = [0.0]


def require_service(view: Callable) -> Callable:
    """Let only callers presenting the shared service token in."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        expected = current_app.config["SERVICE"].internal_token.encode()
        given = request.headers.get(SERVICE_TOKEN_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            raise ApiError(401, "unauthorized", "Service credential missing or wrong")
        return view(*args, **kwargs)

    return wrapper


def _cache() -> ProductCache:
    return current_app.extensions["product_cache"]


def _reservation_id(value: str) -> str:
    if not RESERVATION_ID.fullmatch(value):
        raise ApiError(404, "not_found", "No such reservation")
    return value


@internal.post("/reservations")
@require_service
def reserve() -> tuple[Response, int]:
    """Reserve every line or none; repeating a reservation id returns the first result."""
    data = validate(json_body(), RESERVE)
    lines = validate_list(
        data["items"], LINE, name="items", min_length=1, max_length=50, unique="product_id"
    )
    _sweep_stale()
    reservation, created = inventory.reserve(
        get_db(), _cache(), reservation_id=data["reservation_id"], lines=lines
    )
    return jsonify(reservation), 201 if created else 200


@internal.post("/reservations/<reservation_id>/commit")
@require_service
def commit(reservation_id: str) -> Response:
    """Mark a reservation as belonging to a confirmed order."""
    return jsonify(inventory.commit(get_db(), reservation_id=_reservation_id(reservation_id)))


@internal.post("/reservations/<reservation_id>/release")
@require_service
def release(reservation_id: str) -> Response:
    """Return a reservation's stock (once, however often it is called)."""
    reservation_id = _reservation_id(reservation_id)
    return jsonify(inventory.release(get_db(), _cache(), reservation_id=reservation_id))


def _sweep_stale() -> None:
    # At most once a minute per worker: reservations whose order never got confirmed
    # (order-service crashed between the two calls) give their stock back.
    now = time.monotonic()
    if now - _last_sweep[0] < STALE_SWEEP_SECONDS:
        return
    _last_sweep[0] = now
    config = current_app.config["SERVICE"]
    inventory.release_stale(get_db(), _cache(), older_than_seconds=config.reservation_ttl_seconds)
