"""SQL of order-service: plain functions over a cursor, returning plain dicts."""

from psycopg2.extras import RealDictCursor


def insert_order(
    cursor: RealDictCursor, *, user_id: int, reservation_id: str, total_cents: int
) -> dict:
    """Insert a pending order and return it."""
    cursor.execute(
        """
        INSERT INTO orders (user_id, reservation_id, total_cents, status)
        VALUES (%(user_id)s, %(reservation_id)s, %(total_cents)s, 'pending')
        RETURNING id, user_id, status, total_cents, created_at, reservation_id
        """,
        {"user_id": user_id, "reservation_id": reservation_id, "total_cents": total_cents},
    )
    return cursor.fetchone()


def insert_order_items(cursor: RealDictCursor, *, order_id: int, items: list[dict]) -> None:
    """Store an order's lines: product_id, name, unit_price_cents, quantity."""
    cursor.executemany(
        """
        INSERT INTO order_items (order_id, product_id, name, unit_price_cents, quantity)
        VALUES (%(order_id)s, %(product_id)s, %(name)s, %(unit_price_cents)s, %(quantity)s)
        """,
        [{**item, "order_id": order_id} for item in items],
    )


def get_order(cursor: RealDictCursor, *, order_id: int) -> dict | None:
    """Return an order (without items), or None."""
    cursor.execute(
        """
        SELECT id, user_id, status, total_cents, created_at, reservation_id
        FROM orders
        WHERE id = %(order_id)s
        """,
        {"order_id": order_id},
    )
    return cursor.fetchone()


def lock_order(cursor: RealDictCursor, *, order_id: int) -> dict | None:
    """Return an order (without items), or None, holding its row lock until commit."""
    cursor.execute(
        """
        SELECT id, user_id, status, total_cents, created_at, reservation_id
        FROM orders
        WHERE id = %(order_id)s
        FOR UPDATE
        """,
        {"order_id": order_id},
    )
    return cursor.fetchone()


def get_order_by_reservation(cursor: RealDictCursor, *, reservation_id: str) -> dict | None:
    """Return the order holding a reservation, or None."""
    cursor.execute(
        """
        SELECT id, user_id, status, total_cents, created_at, reservation_id
        FROM orders
        WHERE reservation_id = %(reservation_id)s
        """,
        {"reservation_id": reservation_id},
    )
    return cursor.fetchone()


def order_items(cursor: RealDictCursor, *, order_ids: list[int]) -> list[dict]:
    """Return the lines of some orders, each with its order_id, by product id."""
    cursor.execute(
        """
        SELECT order_id, product_id, name, unit_price_cents, quantity
        FROM order_items
        WHERE order_id = ANY(%(order_ids)s)
        ORDER BY order_id, product_id
        """,
        {"order_ids": order_ids},
    )
    return cursor.fetchall()


def list_orders(cursor: RealDictCursor, *, user_id: int, limit: int, offset: int) -> list[dict]:
    """Return a page of a user's orders, newest first."""
    cursor.execute(
        """
        SELECT id, user_id, status, total_cents, created_at, reservation_id
        FROM orders
        WHERE user_id = %(user_id)s
        ORDER BY created_at DESC, id DESC
        LIMIT %(limit)s
        OFFSET %(offset)s
        """,
        {"user_id": user_id, "limit": limit, "offset": offset},
    )
    return cursor.fetchall()


def count_orders(cursor: RealDictCursor, *, user_id: int) -> int:
    """Return how many orders a user has."""
    cursor.execute(
        """
        SELECT count(*) AS total
        FROM orders
        WHERE user_id = %(user_id)s
        """,
        {"user_id": user_id},
    )
    return cursor.fetchone()["total"]


def set_order_status(
    cursor: RealDictCursor, *, order_id: int, status: str, from_status: str
) -> bool:
    """Move an order from from_status to status; return whether it moved."""
    cursor.execute(
        """
        UPDATE orders
        SET status = %(status)s,
            updated_at = now()
        WHERE id = %(order_id)s
          AND status = %(from_status)s
        """,
        {"order_id": order_id, "status": status, "from_status": from_status},
    )
    return cursor.rowcount == 1


def delete_pending_order(cursor: RealDictCursor, *, order_id: int) -> None:
    """Delete an order that was never confirmed (its placement failed)."""
    cursor.execute(
        """
        DELETE FROM orders
        WHERE id = %(order_id)s
          AND status = 'pending'
        """,
        {"order_id": order_id},
    )


def claim_idempotency_key(
    cursor: RealDictCursor,
    *,
    user_id: int,
    key: str,
    request_hash: str,
    reservation_id: str,
    retention_hours: int,
) -> dict | None:
    """Record a key as running; return the row, or None when the key is still remembered.

    A key past its retention counts as new, whether or not the purge job removed it yet.
    """
    cursor.execute(
        """
        INSERT INTO idempotency_keys (user_id, key, request_hash, reservation_id)
        VALUES (%(user_id)s, %(key)s, %(request_hash)s, %(reservation_id)s)
        ON CONFLICT (user_id, key) DO UPDATE
        SET request_hash = EXCLUDED.request_hash,
            reservation_id = EXCLUDED.reservation_id,
            status_code = NULL,
            response_body = NULL,
            created_at = now()
        WHERE idempotency_keys.created_at < now() - make_interval(hours => %(hours)s)
        RETURNING user_id, key, request_hash, reservation_id, status_code, response_body
        """,
        {
            "user_id": user_id,
            "key": key,
            "request_hash": request_hash,
            "reservation_id": reservation_id,
            "hours": retention_hours,
        },
    )
    return cursor.fetchone()


def get_idempotency_key(cursor: RealDictCursor, *, user_id: int, key: str) -> dict | None:
    """Return a stored key, or None."""
    cursor.execute(
        """
        SELECT user_id, key, request_hash, reservation_id, status_code, response_body
        FROM idempotency_keys
        WHERE user_id = %(user_id)s
          AND key = %(key)s
        """,
        {"user_id": user_id, "key": key},
    )
    return cursor.fetchone()


def take_over_idempotency_key(
    cursor: RealDictCursor, *, user_id: int, key: str, lease_seconds: int
) -> dict | None:
    """Claim a key whose request has been running longer than any request can (it died)."""
    cursor.execute(
        """
        UPDATE idempotency_keys
        SET updated_at = now()
        WHERE user_id = %(user_id)s
          AND key = %(key)s
          AND status_code IS NULL
          AND updated_at < now() - make_interval(secs => %(lease_seconds)s)
        RETURNING user_id, key, request_hash, reservation_id, status_code, response_body
        """,
        {"user_id": user_id, "key": key, "lease_seconds": lease_seconds},
    )
    return cursor.fetchone()


def finish_idempotency_key(
    cursor: RealDictCursor, *, user_id: int, key: str, status_code: int, response_body: str
) -> None:
    """Store the response that repeats of a key get back."""
    cursor.execute(
        """
        UPDATE idempotency_keys
        SET status_code = %(status_code)s,
            response_body = %(response_body)s,
            updated_at = now()
        WHERE user_id = %(user_id)s
          AND key = %(key)s
        """,
        {
            "user_id": user_id,
            "key": key,
            "status_code": status_code,
            "response_body": response_body,
        },
    )


def delete_idempotency_key(cursor: RealDictCursor, *, user_id: int, key: str) -> None:
    """Forget a key whose request failed on our side, so that a retry runs again."""
    cursor.execute(
        """
        DELETE FROM idempotency_keys
        WHERE user_id = %(user_id)s
          AND key = %(key)s
        """,
        {"user_id": user_id, "key": key},
    )


def purge_idempotency_keys(cursor: RealDictCursor, *, older_than_hours: int) -> int:
    """Delete keys older than the retention; return how many."""
    cursor.execute(
        """
        DELETE FROM idempotency_keys
        WHERE created_at < now() - make_interval(hours => %(hours)s)
        """,
        {"hours": older_than_hours},
    )
    return cursor.rowcount
