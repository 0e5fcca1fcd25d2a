"""SQL of order-service: plain functions over a cursor, returning plain dicts."""

from psycopg2.extras import RealDictCursor


def _lines(lines: list[dict]) -> dict:
    """Return the parameters of an order's lines (product_id, quantity): two arrays."""
    return {
        "product_ids": [line["product_id"] for line in lines],
        "quantities": [line["quantity"] for line in lines],
    }


def insert_pending_order(
    cursor: RealDictCursor, *, user_id: int, reservation_id: str, lines: list[dict]
) -> dict:
    """Record an order and its lines (product_id, quantity) as pending; return the order."""
    # One statement (one round trip) for the order and its lines.
    cursor.execute(
        """
        WITH placed AS (
            INSERT INTO orders (user_id, reservation_id, status)
            VALUES (%(user_id)s, %(reservation_id)s, 'pending')
            RETURNING id, user_id, status, total_cents, created_at, reservation_id,
                stock_returned_at
        ),
        placed_lines AS (
            INSERT INTO order_items (order_id, product_id, quantity)
            SELECT placed.id, line.product_id, line.quantity
            FROM placed,
                unnest(%(product_ids)s::bigint[], %(quantities)s::integer[])
                    AS line (product_id, quantity)
        )
        SELECT id, user_id, status, total_cents, created_at, reservation_id, stock_returned_at
        FROM placed
        """,
        {"user_id": user_id, "reservation_id": reservation_id, **_lines(lines)},
    )
    return cursor.fetchone()


def get_order(cursor: RealDictCursor, *, order_id: int) -> dict | None:
    """Return an order (without items), or None."""
    cursor.execute(
        """
        SELECT id, user_id, status, total_cents, created_at, reservation_id, stock_returned_at
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
        SELECT id, user_id, status, total_cents, created_at, reservation_id, stock_returned_at
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
        SELECT id, user_id, status, total_cents, created_at, reservation_id, stock_returned_at
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
        SELECT id, user_id, status, total_cents, created_at, reservation_id, stock_returned_at
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


def confirm_order(
    cursor: RealDictCursor,
    *,
    order_id: int,
    total_cents: int,
    items: list[dict],
    status_code: int,
    response_body: str,
) -> dict | None:
    """Confirm a pending order at its total, give its lines the names and unit prices
    product-service took them at and store its key's answer (if it has a key); return the
    order, or None (and change nothing) when it was not pending."""
    # Conditional on pending: of the request, a repeat and the recovery, exactly one settles it.
    # One statement: the lines and the key change only with the order, in one round trip.
    cursor.execute(
        """
        WITH confirmed AS (
            UPDATE orders
            SET status = 'confirmed',
                total_cents = %(total_cents)s,
                updated_at = now()
            WHERE id = %(order_id)s
              AND status = 'pending'
            RETURNING id, user_id, status, total_cents, created_at, reservation_id,
                stock_returned_at
        ),
        priced AS (
            UPDATE order_items AS item
            SET name = price.name,
                unit_price_cents = price.unit_price_cents
            FROM confirmed,
                unnest(%(product_ids)s::bigint[], %(names)s::text[], %(prices)s::bigint[])
                    AS price (product_id, name, unit_price_cents)
            WHERE item.order_id = confirmed.id
              AND item.product_id = price.product_id
        ),
        answered AS (
            UPDATE idempotency_keys AS idem
            SET status_code = %(status_code)s,
                response_body = %(response_body)s,
                updated_at = now()
            FROM confirmed
            WHERE idem.reservation_id = confirmed.reservation_id
              AND idem.status_code IS NULL
        )
        SELECT id, user_id, status, total_cents, created_at, reservation_id, stock_returned_at
        FROM confirmed
        """,
        {
            "order_id": order_id,
            "total_cents": total_cents,
            "product_ids": [item["product_id"] for item in items],
            "names": [item["name"] for item in items],
            "prices": [item["unit_price_cents"] for item in items],
            "status_code": status_code,
            "response_body": response_body,
        },
    )
    return cursor.fetchone()


def set_order_status(
    cursor: RealDictCursor, *, order_id: int, status: str, from_status: str
) -> dict | None:
    """Move an order from from_status to status; return it, or None when it was not there."""
    cursor.execute(
        """
        UPDATE orders
        SET status = %(status)s,
            updated_at = now()
        WHERE id = %(order_id)s
          AND status = %(from_status)s
        RETURNING id, user_id, status, total_cents, created_at, reservation_id, stock_returned_at
        """,
        {"order_id": order_id, "status": status, "from_status": from_status},
    )
    return cursor.fetchone()


def delete_pending_order(cursor: RealDictCursor, *, order_id: int) -> bool:
    """Delete an order that took no stock and was never announced; return whether it was."""
    cursor.execute(
        """
        DELETE FROM orders
        WHERE id = %(order_id)s
          AND status = 'pending'
        """,
        {"order_id": order_id},
    )
    return cursor.rowcount == 1


def pending_orders(cursor: RealDictCursor, *, older_than_seconds: float, limit: int) -> list[dict]:
    """Return the oldest orders pending for longer than older_than_seconds."""
    cursor.execute(
        """
        SELECT id, user_id, status, total_cents, created_at, reservation_id, stock_returned_at
        FROM orders
        WHERE status = 'pending'
          AND created_at < now() - make_interval(secs => %(seconds)s)
        ORDER BY created_at
        LIMIT %(limit)s
        """,
        {"seconds": older_than_seconds, "limit": limit},
    )
    return cursor.fetchall()


def count_pending_orders(cursor: RealDictCursor, *, older_than_seconds: float) -> int:
    """Return how many orders have been pending for longer than older_than_seconds."""
    cursor.execute(
        """
        SELECT count(*) AS total
        FROM orders
        WHERE status = 'pending'
          AND created_at < now() - make_interval(secs => %(seconds)s)
        """,
        {"seconds": older_than_seconds},
    )
    return cursor.fetchone()["total"]


def pending_summary(cursor: RealDictCursor, *, overdue_after_seconds: float) -> dict:
    """Return how many orders are pending, the oldest one's age in seconds and how many
    have been pending for longer than overdue_after_seconds."""
    cursor.execute(
        """
        SELECT count(*) AS pending,
               coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest_seconds,
               count(*) FILTER (
                   WHERE created_at < now() - make_interval(secs => %(seconds)s)
               ) AS overdue
        FROM orders
        WHERE status = 'pending'
        """,
        {"seconds": overdue_after_seconds},
    )
    return cursor.fetchone()


def orders_with_stock_to_return(
    cursor: RealDictCursor, *, older_than_seconds: float, limit: int
) -> list[dict]:
    """Return cancelled orders whose stock product-service has not confirmed returned yet."""
    cursor.execute(
        """
        SELECT id, user_id, status, total_cents, created_at, reservation_id, stock_returned_at
        FROM orders
        WHERE status = 'cancelled'
          AND stock_returned_at IS NULL
          AND updated_at < now() - make_interval(secs => %(seconds)s)
        ORDER BY updated_at
        LIMIT %(limit)s
        """,
        {"seconds": older_than_seconds, "limit": limit},
    )
    return cursor.fetchall()


def mark_stock_returned(cursor: RealDictCursor, *, order_id: int) -> None:
    """Record that product-service has returned a cancelled order's stock."""
    cursor.execute(
        """
        UPDATE orders
        SET stock_returned_at = now()
        WHERE id = %(order_id)s
          AND stock_returned_at IS NULL
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
    lease_seconds: int,
    lines: list[dict],
) -> dict | None:
    """Record a key as running with its order, pending with its lines (product_id, quantity);
    return the order, or None (nothing recorded) when the key is still remembered.

    A key past its retention counts as new, whether or not the purge job removed it yet.
    """
    cursor.execute(
        """
        WITH source AS (
            INSERT INTO idempotency_keys (
                user_id, key, request_hash, reservation_id, lease_expires_at
            )
            VALUES (
                %(user_id)s,
                %(key)s,
                %(request_hash)s,
                %(reservation_id)s,
                now() + make_interval(secs => %(lease_seconds)s)
            )
            ON CONFLICT (user_id, key) DO UPDATE
            SET request_hash = EXCLUDED.request_hash,
                reservation_id = EXCLUDED.reservation_id,
                status_code = NULL,
                response_body = NULL,
                created_at = now(),
                lease_expires_at = EXCLUDED.lease_expires_at
            WHERE idempotency_keys.created_at < now() - make_interval(hours => %(hours)s)
            RETURNING reservation_id
        ),
        placed AS (
            INSERT INTO orders (user_id, reservation_id, status)
            SELECT %(user_id)s, source.reservation_id, 'pending'
            FROM source
            RETURNING id, user_id, status, total_cents, created_at, reservation_id,
                stock_returned_at
        ),
        placed_lines AS (
            INSERT INTO order_items (order_id, product_id, quantity)
            SELECT placed.id, line.product_id, line.quantity
            FROM placed,
                unnest(%(product_ids)s::bigint[], %(quantities)s::integer[])
                    AS line (product_id, quantity)
        )
        SELECT id, user_id, status, total_cents, created_at, reservation_id, stock_returned_at
        FROM placed
        """,
        {
            "user_id": user_id,
            "key": key,
            "request_hash": request_hash,
            "reservation_id": reservation_id,
            "hours": retention_hours,
            "lease_seconds": lease_seconds,
            **_lines(lines),
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
    """Lease a running key whose lease has ended (its request failed or died); return it."""
    cursor.execute(
        """
        UPDATE idempotency_keys
        SET lease_expires_at = now() + make_interval(secs => %(lease_seconds)s),
            updated_at = now()
        WHERE user_id = %(user_id)s
          AND key = %(key)s
          AND status_code IS NULL
          AND lease_expires_at <= now()
        RETURNING user_id, key, request_hash, reservation_id, status_code, response_body
        """,
        {"user_id": user_id, "key": key, "lease_seconds": lease_seconds},
    )
    return cursor.fetchone()


def finish_idempotency_key(
    cursor: RealDictCursor, *, reservation_id: str, status_code: int, response_body: str
) -> None:
    """Store the response that repeats get, on the key (if any) that placed this reservation."""
    cursor.execute(
        """
        UPDATE idempotency_keys
        SET status_code = %(status_code)s,
            response_body = %(response_body)s,
            updated_at = now()
        WHERE reservation_id = %(reservation_id)s
          AND status_code IS NULL
        """,
        {
            "reservation_id": reservation_id,
            "status_code": status_code,
            "response_body": response_body,
        },
    )


def stored_response(cursor: RealDictCursor, *, reservation_id: str) -> dict | None:
    """Return the stored response (status_code, response_body) of a reservation's key, or None."""
    cursor.execute(
        """
        SELECT status_code, response_body
        FROM idempotency_keys
        WHERE reservation_id = %(reservation_id)s
          AND status_code IS NOT NULL
        """,
        {"reservation_id": reservation_id},
    )
    return cursor.fetchone()


def end_idempotency_lease(cursor: RealDictCursor, *, reservation_id: str) -> None:
    """Let a repeat of a reservation's running key take it over at once."""
    cursor.execute(
        """
        UPDATE idempotency_keys
        SET lease_expires_at = now(),
            updated_at = now()
        WHERE reservation_id = %(reservation_id)s
          AND status_code IS NULL
        """,
        {"reservation_id": reservation_id},
    )


def delete_idempotency_key(cursor: RealDictCursor, *, reservation_id: str) -> None:
    """Forget the running key of a reservation, so that a retry runs as new."""
    cursor.execute(
        """
        DELETE FROM idempotency_keys
        WHERE reservation_id = %(reservation_id)s
          AND status_code IS NULL
        """,
        {"reservation_id": reservation_id},
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
