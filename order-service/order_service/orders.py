"""Placing and cancelling orders so that a crash at any instant leaves nothing unsettled.

Placing: the order is recorded `pending` (lines and reservation id) before any stock is taken;
one idempotent call to product-service takes the stock; one transaction confirms the order with
its `order.confirmed` event and the answer of its idempotency key. Cancelling: one transaction
marks it `cancelled` with its event; the stock is returned afterwards. Whatever a crash
interrupts, the worker settles (resolve_pending, return_cancelled_stock). docs/orders.md has
every crash point and what recovers it.
"""

import logging
from dataclasses import dataclass

import psycopg2
from flask import current_app
from psycopg2.extras import RealDictCursor

from flotilla import faults, outbox
from flotilla.db import Database
from flotilla.errors import ApiError, error_body
from order_service import repository
from order_service.config import settings
from order_service.products import ProductService, ReservationReleasedError

log = logging.getLogger(__name__)

# Also for an order that failed: it exists, and its status says how it ended.
CREATED = 201


@dataclass(frozen=True)
class Outcome:
    """A placement's answer: its status and exact JSON text (what a repeat of its key gets)."""

    status: int
    body: str


def _crash_point(step: str) -> None:
    faults.crash_point(step, enabled=settings().fault_injection)


def order_document(order: dict, items: list[dict]) -> dict:
    """Return an order as API.md shows it (names, prices and total are null until confirmed)."""
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


def record_pending(
    cursor: RealDictCursor, *, user_id: int, reservation_id: str, lines: list[dict], fresh: bool
) -> dict:
    """Record an order as pending before its stock is taken; a repeat finds the one it recorded."""
    if not fresh:
        existing = repository.get_order_by_reservation(cursor, reservation_id=reservation_id)
        if existing is not None:
            return existing
    return repository.insert_pending_order(
        cursor, user_id=user_id, reservation_id=reservation_id, lines=lines
    )


def place(
    db: Database, products: ProductService, *, order: dict, lines: list[dict], fresh: bool
) -> Outcome:
    """Take a pending order's stock and confirm it, or refuse it; return the outcome.

    `fresh`: this request made the order and its reservation id, so nobody else can have sent
    product-service anything for it.
    """
    if order["status"] != "pending":  # a repeat that finds it settled already
        with db.transaction() as cursor:
            return settled_outcome(cursor, order=order)
    _crash_point("order.place.after-pending")
    try:
        reservation = products.reserve(reservation_id=order["reservation_id"], lines=lines)
    except ReservationReleasedError:  # the recovery gave up on it: it took no stock
        with db.transaction() as cursor:
            return fail(cursor, order=order)
    except ApiError as error:
        if error.status < 500:
            _crash_point("order.place.after-refusal")
            return _refuse(db, order=order, error=error)
        _leave_unsettled(db, order=order, nothing_sent=fresh and not getattr(error, "sent", True))
        raise
    _crash_point("order.place.after-reserve")
    with db.transaction() as cursor:
        outcome = confirm(cursor, order=order, items=reservation["items"])
    _crash_point("order.place.after-confirm")
    return outcome


def confirm(cursor: RealDictCursor, *, order: dict, items: list[dict]) -> Outcome:
    """Confirm a pending order with the lines product-service took, its event and its answer."""
    total = sum(item["unit_price_cents"] * item["quantity"] for item in items)
    # What it becomes is known before the write, so the answer is stored by the same statement.
    document = order_document({**order, "status": "confirmed", "total_cents": total}, items)
    body = current_app.json.dumps(document)
    confirmed = repository.confirm_order(
        cursor,
        order_id=order["id"],
        total_cents=total,
        items=items,
        status_code=CREATED,
        response_body=body,
    )
    if confirmed is None:
        return settled_outcome(cursor, order=order)
    outbox.add_event(
        cursor,
        type="order.confirmed",
        data={
            "order_id": confirmed["id"],
            "user_id": confirmed["user_id"],
            "items": document["items"],
            "total_cents": total,
        },
    )
    return Outcome(CREATED, body)


def fail(cursor: RealDictCursor, *, order: dict) -> Outcome:
    """Mark a pending order whose stock was never taken failed, with its event and its answer."""
    failed = repository.set_order_status(
        cursor, order_id=order["id"], status="failed", from_status="pending"
    )
    if failed is None:
        return settled_outcome(cursor, order=order)
    outbox.add_event(
        cursor, type="order.failed", data={"order_id": failed["id"], "user_id": failed["user_id"]}
    )
    return _answer(cursor, order=failed, status=CREATED, document=load_order(cursor, failed))


def _answer(cursor: RealDictCursor, *, order: dict, status: int, document: dict) -> Outcome:
    """Return the outcome, stored for the order's idempotency key in the same transaction."""
    body = current_app.json.dumps(document)
    repository.finish_idempotency_key(
        cursor, reservation_id=order["reservation_id"], status_code=status, response_body=body
    )
    return Outcome(status, body)


def settled_outcome(cursor: RealDictCursor, *, order: dict) -> Outcome:
    """Return the outcome of an order someone else settled: its key's answer, or the order."""
    stored = repository.stored_response(cursor, reservation_id=order["reservation_id"])
    if stored is not None:
        return Outcome(stored["status_code"], stored["response_body"])
    current = repository.get_order(cursor, order_id=order["id"])
    if current is None:  # refused by a repeat that raced this request
        raise ApiError(409, "conflict", "The order was refused; place it again")
    return _answer(cursor, order=current, status=CREATED, document=load_order(cursor, current))


def _refuse(db: Database, *, order: dict, error: ApiError) -> Outcome:
    """Drop an order product-service definitely refused (it took nothing); store the answer."""
    body = current_app.json.dumps(error_body(error.code, error.message, fields=error.fields))
    with db.transaction() as cursor:
        # Never announced and holding nothing: no trace is left, as API.md promises.
        if not repository.delete_pending_order(cursor, order_id=order["id"]):
            return settled_outcome(cursor, order=order)
        repository.finish_idempotency_key(
            cursor,
            reservation_id=order["reservation_id"],
            status_code=error.status,
            response_body=body,
        )
    return Outcome(error.status, body)


def _leave_unsettled(db: Database, *, order: dict, nothing_sent: bool) -> None:
    """After a failure on our side: forget what never reached product-service, else let the
    client's retry (or the worker) finish the order."""
    try:
        with db.transaction() as cursor:
            if nothing_sent:
                # No connection was ever made for this reservation id: as if never asked.
                if repository.delete_pending_order(cursor, order_id=order["id"]):
                    repository.delete_idempotency_key(
                        cursor, reservation_id=order["reservation_id"]
                    )
            else:
                repository.end_idempotency_lease(cursor, reservation_id=order["reservation_id"])
    except psycopg2.Error as error:
        # The order stays pending: the worker settles it, and the key's lease ends by itself.
        log.error(
            "could not record a failed placement",
            extra={"order_id": order["id"], "error": str(error)},
        )


def resolve_pending(
    db: Database, products: ProductService, *, older_than_seconds: float, limit: int = 100
) -> int:
    """Settle orders their request left pending: confirm those whose stock was taken, fail the
    others (product-service then refuses their reservation for good); return how many."""
    with db.transaction() as cursor:
        pending = repository.pending_orders(
            cursor, older_than_seconds=older_than_seconds, limit=limit
        )
    for done, order in enumerate(pending):
        try:
            reservation = products.resolve(reservation_id=order["reservation_id"])
        except ApiError as error:
            log.warning(
                "cannot settle pending orders yet",
                extra={"waiting": len(pending) - done, "error": error.message},
            )
            return done
        _crash_point("order.recover.after-resolve")
        with db.transaction() as cursor:
            if reservation["status"] == "committed":
                confirm(cursor, order=order, items=reservation["items"])
            else:
                fail(cursor, order=order)
    return len(pending)


def cancel_order(db: Database, products: ProductService, *, order_id: int, user: dict) -> dict:
    """Cancel a confirmed order and return its stock, exactly once; cancelling again is a no-op.

    The cancel is committed (with its event) before the stock is returned: if returning it
    fails, the order stays cancelled and the worker returns the stock.
    """
    with db.transaction() as cursor:
        # The row lock makes concurrent cancels of one order wait for each other.
        order = repository.lock_order(cursor, order_id=order_id)
        if order is None or (order["user_id"] != user["id"] and user["role"] != "admin"):
            raise ApiError(404, "not_found", "Order not found")
        if order["status"] == "pending":
            raise ApiError(409, "conflict", "The order is still being placed; try again shortly")
        if order["status"] == "failed":
            raise ApiError(409, "conflict", "The order failed; it holds nothing to cancel")
        if order["status"] == "confirmed":
            order = repository.set_order_status(
                cursor, order_id=order_id, status="cancelled", from_status="confirmed"
            )
            outbox.add_event(
                cursor,
                type="order.cancelled",
                data={"order_id": order["id"], "user_id": order["user_id"]},
            )
        document = load_order(cursor, order)
    _crash_point("order.cancel.after-cancelled")
    if order["stock_returned_at"] is None:  # also a repeat: it finishes an interrupted cancel
        return_stock(db, products, order=order)
    return document


def return_stock(db: Database, products: ProductService, *, order: dict) -> bool:
    """Have product-service return a cancelled order's stock (once); False if it could not."""
    try:
        products.release(reservation_id=order["reservation_id"])
    except ApiError as error:
        log.warning(
            "stock of a cancelled order not returned yet; the worker will",
            extra={"order_id": order["id"], "error": error.message},
        )
        return False
    _crash_point("order.cancel.after-release")
    with db.transaction() as cursor:
        repository.mark_stock_returned(cursor, order_id=order["id"])
    return True


def return_cancelled_stock(
    db: Database, products: ProductService, *, older_than_seconds: float, limit: int = 100
) -> int:
    """Return the stock of cancelled orders whose cancel was interrupted; return how many."""
    with db.transaction() as cursor:
        orders = repository.orders_with_stock_to_return(
            cursor, older_than_seconds=older_than_seconds, limit=limit
        )
    for done, order in enumerate(orders):
        if not return_stock(db, products, order=order):
            return done
    return len(orders)
