"""Stock reservations for order-service: all-or-nothing, and safe to repeat."""

import logging

from flotilla.db import Database
from flotilla.errors import ApiError
from product_service import repository
from product_service.cache import ProductCache

log = logging.getLogger(__name__)


def _document(reservation_id: str, status: str, items: list[dict]) -> dict:
    return {"id": reservation_id, "status": status, "items": items}


def reserve(
    db: Database, cache: ProductCache, *, reservation_id: str, lines: list[dict]
) -> tuple[dict, bool]:
    """Take the stock of every line or of none; return (reservation, newly created)."""
    with db.transaction() as cursor:
        if not repository.insert_reservation(
            cursor, reservation_id=reservation_id, status="reserved"
        ):
            existing = repository.get_reservation(cursor, reservation_id=reservation_id)
            if existing["status"] == "released":
                raise ApiError(409, "conflict", f"Reservation {reservation_id} was released")
            items = repository.reservation_items(cursor, reservation_id=reservation_id)
            return _document(reservation_id, existing["status"], items), False
        products = {
            row["id"]: row
            for row in repository.lock_products(
                cursor, product_ids=sorted(line["product_id"] for line in lines)
            )
        }
        _check_lines(lines, products)
        ordered = sorted(lines, key=lambda line: line["product_id"])
        repository.change_stock(
            cursor,
            product_ids=[line["product_id"] for line in ordered],
            deltas=[-line["quantity"] for line in ordered],
        )
        items = [
            {
                "product_id": line["product_id"],
                "name": products[line["product_id"]]["name"],
                "unit_price_cents": products[line["product_id"]]["price_cents"],
                "quantity": line["quantity"],
            }
            for line in ordered
        ]
        repository.insert_reservation_items(cursor, reservation_id=reservation_id, items=items)
    cache.invalidate(*products)
    return _document(reservation_id, "reserved", items), True


def _check_lines(lines: list[dict], products: dict[int, dict]) -> None:
    # Raising rolls the whole transaction back: nothing is reserved.
    unknown = {
        f"items[{index}].product_id": "no such product"
        for index, line in enumerate(lines)
        if line["product_id"] not in products
    }
    if unknown:
        raise ApiError(422, "validation_error", "Unknown product", fields=unknown)
    for line in lines:
        left = products[line["product_id"]]["stock"]
        if left < line["quantity"]:
            raise ApiError(
                409,
                "out_of_stock",
                f"Product {line['product_id']} has {left} left, {line['quantity']} requested",
            )


def commit(db: Database, *, reservation_id: str) -> dict:
    """Mark a reservation as belonging to a confirmed order (repeating it is a no-op)."""
    with db.transaction() as cursor:
        repository.set_reservation_status(
            cursor, reservation_id=reservation_id, status="committed", from_statuses=["reserved"]
        )
        existing = repository.get_reservation(cursor, reservation_id=reservation_id)
        if existing is None:
            raise ApiError(404, "not_found", f"No reservation {reservation_id}")
        if existing["status"] != "committed":
            raise ApiError(409, "conflict", f"Reservation {reservation_id} was released")
        items = repository.reservation_items(cursor, reservation_id=reservation_id)
    return _document(reservation_id, "committed", items)


def release(db: Database, cache: ProductCache, *, reservation_id: str) -> dict:
    """Return a reservation's stock exactly once, however often this is called."""
    with db.transaction() as cursor:
        # An unknown id is recorded as released: a reservation that arrives late (after its
        # caller gave up and released it) then finds it released and takes nothing.
        if repository.insert_reservation(cursor, reservation_id=reservation_id, status="released"):
            return _document(reservation_id, "released", [])
        items = repository.reservation_items(cursor, reservation_id=reservation_id)
        moved = repository.set_reservation_status(
            cursor,
            reservation_id=reservation_id,
            status="released",
            from_statuses=["reserved", "committed"],
        )
        if moved:
            product_ids = [item["product_id"] for item in items]
            repository.lock_products(cursor, product_ids=product_ids)
            repository.change_stock(
                cursor, product_ids=product_ids, deltas=[item["quantity"] for item in items]
            )
    if moved:
        cache.invalidate(*(item["product_id"] for item in items))
    return _document(reservation_id, "released", items)


def release_stale(db: Database, cache: ProductCache, *, older_than_seconds: int) -> int:
    """Release reservations never committed (their order was never placed); return how many."""
    with db.transaction() as cursor:
        stale = repository.stale_reservations(
            cursor, older_than_seconds=older_than_seconds, limit=100
        )
    for reservation_id in stale:
        release(db, cache, reservation_id=reservation_id)
    if stale:
        log.warning("released stale reservations", extra={"count": len(stale)})
    return len(stale)
