"""Internal endpoints for order-service only: not routed by the gateway, and each call
must carry the shared service credential."""

import re

from flask import Blueprint, Response, jsonify

from flotilla.db import get_db
from flotilla.errors import ApiError
from flotilla.internal import require_service
from flotilla.validation import endpoint
from product_service import inventory
from product_service.cache import product_cache
from product_service.schemas import Reservation

RESERVATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")

internal = Blueprint("internal", __name__, url_prefix="/internal")


def _reservation_id(value: str) -> str:
    if not RESERVATION_ID.fullmatch(value):
        raise ApiError(404, "not_found", "No such reservation")
    return value


@internal.post("/reservations")
@require_service
@endpoint(body=Reservation)
def reserve(body: Reservation) -> tuple[Response, int]:
    """Take the stock of every line or none, final at once; a repeat returns the first result."""
    reservation, created = inventory.reserve(
        get_db(),
        product_cache(),
        reservation_id=body.reservation_id,
        lines=[line.model_dump() for line in body.items],
    )
    return jsonify(reservation), 201 if created else 200


@internal.post("/reservations/<reservation_id>/resolve")
@require_service
def resolve(reservation_id: str) -> Response:
    """Say whether a reservation took its stock; an unknown one is released for good."""
    return jsonify(inventory.resolve(get_db(), reservation_id=_reservation_id(reservation_id)))


@internal.post("/reservations/<reservation_id>/release")
@require_service
def release(reservation_id: str) -> Response:
    """Return a reservation's stock (once, however often it is called)."""
    reservation_id = _reservation_id(reservation_id)
    return jsonify(inventory.release(get_db(), product_cache(), reservation_id=reservation_id))
