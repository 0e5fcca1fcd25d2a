"""Stock reservations for order-service: all-or-nothing, final at once, and safe to repeat.

A reservation is named by order-service. Reserving takes the stock and makes the reservation
final (`committed`) in one transaction; releasing returns the stock once; an id that was
released, refused or resolved before it was reserved is a tombstone that can never take stock,
kept for RESERVATION_TOMBSTONE_SECONDS and then purged by the calls that release more.
"""

from psycopg2.extras import RealDictCursor

from flotilla import faults
from flotilla.db import Database
from flotilla.errors import ApiError
from product_service import repository
from product_service.cache import ProductCache
from product_service.config import settings

# Per call that releases one: more than it adds, so a backlog of expired ones shrinks.
PURGE_BATCH = 100


def _crash_point(step: str) -> None:
    faults.crash_point(step, enabled=settings().fault_injection)


def _purge_expired(cursor: RealDictCursor) -> None:
    """Delete a batch of reservations released longer ago than the tombstone retention."""
    # A reserve arriving after its tombstone is purged would take stock again. None can:
    # order-service sends one only while its order is pending, settles the order within
    # ORDER_RECOVERY_SECONDS (60 s), and gunicorn ends any request within 30 s; the
    # retention is an hour at least (docs/orders.md, "Tombstones").
    repository.purge_released_reservations(
        cursor, older_than_seconds=settings().tombstone_seconds, limit=PURGE_BATCH
    )


def _document(reservation_id: str, status: str, items: list[dict]) -> dict:
    return {"id": reservation_id, "status": status, "items": items}


def reserve(
    db: Database, cache: ProductCache, *, reservation_id: str, lines: list[dict]
) -> tuple[dict, bool]:
    """Take the stock of every line or of none; return (reservation, newly created).

    Repeating an id returns the first result; an id that was refused or released raises 409
    `conflict` and takes nothing.
    """
    with db.transaction() as cursor:
        # The primary key serialises two calls with one id: the second waits, then sees the first.
        if not repository.insert_reservation(
            cursor, reservation_id=reservation_id, status="committed"
        ):
            existing = _existing(cursor, reservation_id=reservation_id)
            if existing["status"] == "released":
                raise ApiError(409, "conflict", f"Reservation {reservation_id} was released")
            return existing, False
        products = {
            row["id"]: row
            for row in repository.lock_products(
                cursor, product_ids=sorted(line["product_id"] for line in lines)
            )
        }
        refusal = _refusal(lines, products)
        if refusal is None:
            items = _take(cursor, reservation_id=reservation_id, lines=lines, products=products)
            _crash_point("product.reserve.before-commit")
        else:
            # Kept as a tombstone: a late copy of this request must not take stock either.
            repository.release_reservation(cursor, reservation_id=reservation_id)
            _purge_expired(cursor)
    if refusal is not None:
        raise refusal
    cache.invalidate(*products)
    _crash_point("product.reserve.after-commit")
    return _document(reservation_id, "committed", items), True


def _take(
    cursor: RealDictCursor, *, reservation_id: str, lines: list[dict], products: dict[int, dict]
) -> list[dict]:
    """Take the stock of checked lines and store them with their names and prices."""
    items = [
        {
            "product_id": line["product_id"],
            "name": products[line["product_id"]]["name"],
            "unit_price_cents": products[line["product_id"]]["price_cents"],
            "quantity": line["quantity"],
        }
        for line in sorted(lines, key=lambda line: line["product_id"])
    ]
    repository.take_stock(cursor, reservation_id=reservation_id, items=items)
    return items


def _refusal(lines: list[dict], products: dict[int, dict]) -> ApiError | None:
    """Return why the lines cannot be reserved (unknown product, out of stock), or None."""
    unknown = {
        f"items[{index}].product_id": "no such product"
        for index, line in enumerate(lines)
        if line["product_id"] not in products
    }
    if unknown:
        return ApiError(422, "validation_error", "Unknown product", fields=unknown)
    for line in lines:
        left = products[line["product_id"]]["stock"]
        if left < line["quantity"]:
            return ApiError(
                409,
                "out_of_stock",
                f"Product {line['product_id']} has {left} left, {line['quantity']} requested",
            )
    return None


def _existing(cursor: RealDictCursor, *, reservation_id: str) -> dict:
    """Return a reservation that exists, with its items."""
    existing = repository.get_reservation(cursor, reservation_id=reservation_id)
    items = repository.reservation_items(cursor, reservation_id=reservation_id)
    return _document(reservation_id, existing["status"], items)


def resolve(db: Database, *, reservation_id: str) -> dict:
    """Say what became of a reservation; an unknown id is released so it never takes stock."""
    with db.transaction() as cursor:
        # A reserve still on its way (or retried later) then finds a tombstone.
        if repository.insert_reservation(cursor, reservation_id=reservation_id, status="released"):
            _purge_expired(cursor)
            return _document(reservation_id, "released", [])
        return _existing(cursor, reservation_id=reservation_id)


def release(db: Database, cache: ProductCache, *, reservation_id: str) -> dict:
    """Return a reservation's stock exactly once, however often this is called."""
    with db.transaction() as cursor:
        # An unknown id is recorded as released: a reservation that arrives late (after its
        # caller gave up and released it) then finds it released and takes nothing.
        if repository.insert_reservation(cursor, reservation_id=reservation_id, status="released"):
            _purge_expired(cursor)
            return _document(reservation_id, "released", [])
        items = repository.reservation_items(cursor, reservation_id=reservation_id)
        moved = repository.release_reservation(cursor, reservation_id=reservation_id)
        if moved:
            product_ids = [item["product_id"] for item in items]
            repository.lock_products(cursor, product_ids=product_ids)
            repository.change_stock(
                cursor, product_ids=product_ids, deltas=[item["quantity"] for item in items]
            )
            _purge_expired(cursor)
            _crash_point("product.release.before-commit")
    if moved:
        cache.invalidate(*(item["product_id"] for item in items))
    _crash_point("product.release.after-commit")
    return _document(reservation_id, "released", items)
