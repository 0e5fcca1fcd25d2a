"""Placing and cancelling orders: order-service's rows and product-service's stock kept in step."""

import logging

import psycopg2
from psycopg2.extras import RealDictCursor

from flotilla.clients import UpstreamError
from flotilla.db import Database
from flotilla.errors import ApiError
from order_service import repository
from order_service.products import ProductService

log = logging.getLogger(__name__)


def order_document(order: dict, items: list[dict]) -> dict:
    """Return an order as API.md shows it."""
    return {
        "id": order["id"],
        "user_id": order["user_id"],
        "status": order["status"],
        "items": [
            {
                "product_id": item["product_id"],
                "name": item["name"],
                "unit_price_cents": item["unit_price_cents"],
                "quantity": item["quantity"],
            }
            for item in items
        ],
        "total_cents": order["total_cents"],
        "created_at": order["created_at"],
    }


def load_order(cursor: RealDictCursor, order: dict) -> dict:
    """Return the document of an order row, with its items."""
    return order_document(order, repository.order_items(cursor, order_ids=[order["id"]]))


def place_order(
    db: Database, products: ProductService, *, user_id: int, lines: list[dict], reservation_id: str
) -> dict:
    """Reserve the stock, store the order, commit the reservation and confirm the order.

    When any step fails, the reservation is released and the unconfirmed order removed.
    """
    try:
        reservation = products.reserve(reservation_id=reservation_id, lines=lines)
    except UpstreamError as error:
        if error.sent:  # it may have reserved before failing: make sure it did not keep it
            _undo(db, products, reservation_id=reservation_id, order=None)
        raise
    order = None
    try:
        with db.transaction() as cursor:
            # Present when a request with the same idempotency key died half-way.
            order = repository.get_order_by_reservation(cursor, reservation_id=reservation_id)
            if order is None:
                order = repository.insert_order(
                    cursor,
                    user_id=user_id,
                    reservation_id=reservation_id,
                    total_cents=sum(
                        item["unit_price_cents"] * item["quantity"] for item in reservation["items"]
                    ),
                )
                repository.insert_order_items(
                    cursor, order_id=order["id"], items=reservation["items"]
                )
        if order["status"] == "pending":
            products.commit(reservation_id=reservation_id)
            with db.transaction() as cursor:
                repository.set_order_status(
                    cursor, order_id=order["id"], status="confirmed", from_status="pending"
                )
    except Exception:
        _undo(db, products, reservation_id=reservation_id, order=order)
        raise
    with db.transaction() as cursor:
        return load_order(cursor, repository.get_order(cursor, order_id=order["id"]))


def _undo(
    db: Database, products: ProductService, *, reservation_id: str, order: dict | None
) -> None:
    """Best effort: release the stock and drop the unconfirmed order; log what could not be done."""
    try:
        products.release(reservation_id=reservation_id)
    except ApiError as error:
        # product-service returns reservations never committed after a while by itself.
        log.error(
            "could not release a reservation",
            extra={"reservation_id": reservation_id, "error": error.message},
        )
    if order is not None:
        try:
            with db.transaction() as cursor:
                repository.delete_pending_order(cursor, order_id=order["id"])
        except psycopg2.Error as error:
            log.error(
                "could not delete a failed order",
                extra={"order_id": order["id"], "error": str(error)},
            )


def cancel_order(db: Database, products: ProductService, *, order_id: int, user: dict) -> dict:
    """Cancel an order and return its stock, exactly once; cancelling again changes nothing."""
    with db.transaction() as cursor:
        # The row lock makes concurrent cancels of one order wait for each other.
        order = repository.lock_order(cursor, order_id=order_id)
        if order is None or (order["user_id"] != user["id"] and user["role"] != "admin"):
            raise ApiError(404, "not_found", "Order not found")
        if order["status"] == "pending":
            raise ApiError(409, "conflict", "The order is still being placed; try again shortly")
        if order["status"] == "confirmed":
            # Inside the transaction: if releasing fails, the order stays confirmed and a
            # retry releases again (product-service returns the stock only once).
            products.release(reservation_id=order["reservation_id"])
            repository.set_order_status(
                cursor, order_id=order_id, status="cancelled", from_status="confirmed"
            )
            order = repository.get_order(cursor, order_id=order_id)
        return load_order(cursor, order)
