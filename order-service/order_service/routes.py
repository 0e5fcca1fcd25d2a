"""Public HTTP endpoints of order-service."""

from flask import Blueprint, Response, g, jsonify

from flotilla.auth import require_user
from flotilla.db import get_db
from flotilla.errors import ApiError
from flotilla.validation import BIGINT_MAX, Field, json_body, page_query, validate, validate_list
from order_service import idempotency, repository
from order_service.config import Config
from order_service.orders import cancel_order, load_order, order_document, place_order
from order_service.products import PRODUCTS

ORDER = {"items": Field(list)}
LINE = {"product_id": Field(int, min=1, max=BIGINT_MAX), "quantity": Field(int, min=1, max=1000)}
MAX_LINES = 50

orders = Blueprint("orders", __name__, url_prefix="/api/orders")


def order_lines() -> list[dict]:
    """Return the validated lines of the order in the request body."""
    data = validate(json_body(), ORDER)
    return validate_list(
        data["items"], LINE, name="items", min_length=1, max_length=MAX_LINES, unique="product_id"
    )


@orders.post("")
@require_user
def create_order() -> Response | tuple[Response, int]:
    """Place an order at the current prices; with an Idempotency-Key, at most once."""
    key = idempotency.requested_key()
    lines = order_lines()
    user_id = g.user["id"]

    def place(reservation_id: str) -> tuple[dict, int]:
        order = place_order(
            get_db(), PRODUCTS.get(), user_id=user_id, lines=lines, reservation_id=reservation_id
        )
        return order, 201

    if key is None:
        body, status = place(idempotency.new_reservation_id())
        return jsonify(body), status
    return idempotency.run_once(
        get_db(),
        user_id=user_id,
        key=key,
        request_hash=idempotency.body_hash({"items": lines}),
        retention_hours=Config.current().idempotency_hours,
        action=place,
    )


@orders.get("")
@require_user
def list_orders() -> Response:
    """Return a page of the caller's own orders, newest first."""
    limit, offset = page_query()
    user_id = g.user["id"]
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
def cancel(order_id: int) -> Response:
    """Cancel the caller's order (an admin: any order); the stock returns once."""
    return jsonify(cancel_order(get_db(), PRODUCTS.get(), order_id=order_id, user=g.user))
