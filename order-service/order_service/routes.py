"""Public HTTP endpoints of order-service."""

from flask import Blueprint, Response, g, jsonify

from flotilla.auth import require_user
from flotilla.db import get_db
from flotilla.errors import ApiError
from flotilla.schemas import Page
from flotilla.validation import endpoint
from order_service import idempotency, repository
from order_service.config import settings
from order_service.orders import cancel_order, load_order, order_document, place, record_pending
from order_service.products import product_service
from order_service.schemas import NewOrder, Order, OrderHeaders, OrderPage

PLACED = {
    201: Order,
    409: "out_of_stock (nothing reserved) or idempotency_conflict",
    422: "validation_error (also for an unknown product) or idempotency_key_reused",
    502: "product-service answered wrongly; repeat with the same Idempotency-Key",
    503: "product-service or the database is unavailable; repeat with the same Idempotency-Key",
    504: "product-service did not answer in time; repeat with the same Idempotency-Key",
}

orders = Blueprint("orders", __name__, url_prefix="/api/orders")


@orders.post("")
@require_user
@endpoint(body=NewOrder, headers=OrderHeaders, responses=PLACED)
def create_order(body: NewOrder, headers: OrderHeaders) -> Response:
    """Place an order at the current prices; with an Idempotency-Key, at most once."""
    key = headers.idempotency_key
    lines = [line.model_dump() for line in body.items]
    user_id = g.user["id"]
    db = get_db()
    # One transaction: the key's claim and the pending order exist together or not at all.
    with db.transaction() as cursor:
        claim = idempotency.new_claim()
        if key is not None:
            claim = idempotency.claim(
                cursor,
                user_id=user_id,
                key=key,
                request_hash=idempotency.body_hash({"items": lines}),
                retention_hours=settings().idempotency_hours,
                lines=lines,
            )
            if isinstance(claim, Response):
                return claim
        order = claim.order or record_pending(
            cursor,
            user_id=user_id,
            reservation_id=claim.reservation_id,
            lines=lines,
            fresh=claim.fresh,
        )
    outcome = place(db, product_service(), order=order, lines=lines, fresh=claim.fresh)
    return Response(outcome.body, status=outcome.status, mimetype="application/json")


@orders.get("")
@require_user
@endpoint(query=Page, responses={200: OrderPage})
def list_orders(query: Page) -> Response:
    """Return a page of the caller's own orders, newest first."""
    user_id, limit, offset = g.user["id"], query.limit, query.offset
    with get_db().transaction() as cursor:
        rows = repository.list_orders(cursor, user_id=user_id, limit=limit, offset=offset)
        items = repository.order_items(cursor, order_ids=[row["id"] for row in rows])
        total = repository.count_orders(cursor, user_id=user_id)
    lines: dict[int, list[dict]] = {}
    for item in items:
        lines.setdefault(item["order_id"], []).append(item)
    return jsonify(
        items=[order_document(row, lines.get(row["id"], [])) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@orders.get("/<int:order_id>")
@require_user
@endpoint(responses={200: Order, 404: "No such order, or another user's"})
def get_order(order_id: int) -> Response:
    """Return one of the caller's orders; anyone else's is a 404."""
    order = None
    with get_db().transaction() as cursor:
        found = repository.get_order(cursor, order_id=order_id)
        if found is not None and found["user_id"] == g.user["id"]:
            order = load_order(cursor, found)
    if order is None:
        raise ApiError(404, "not_found", "Order not found")
    return jsonify(order)


@orders.post("/<int:order_id>/cancel")
@require_user
@endpoint(
    responses={
        200: Order,
        404: "No such order, or another user's",
        409: "The order is still being placed, or it failed",
        503: "The database is unavailable",
    }
)
def cancel(order_id: int) -> Response:
    """Cancel the caller's order (an admin: any order); the stock returns once."""
    return jsonify(cancel_order(get_db(), product_service(), order_id=order_id, user=g.user))
