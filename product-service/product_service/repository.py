"""SQL of product-service: plain functions over a cursor, returning plain dicts."""

from psycopg2.extras import RealDictCursor


def insert_product(
    cursor: RealDictCursor, *, sku: str, name: str, description: str, price_cents: int, stock: int
) -> dict | None:
    """Insert a product; return it, or None when the SKU is taken."""
    cursor.execute(
        """
        INSERT INTO products (sku, name, description, price_cents, stock)
        VALUES (%(sku)s, %(name)s, %(description)s, %(price_cents)s, %(stock)s)
        ON CONFLICT (sku) DO NOTHING
        RETURNING id, sku, name, description, price_cents, stock, created_at, updated_at
        """,
        {
            "sku": sku,
            "name": name,
            "description": description,
            "price_cents": price_cents,
            "stock": stock,
        },
    )
    return cursor.fetchone()


def get_product(cursor: RealDictCursor, *, product_id: int) -> dict | None:
    """Return the product with this id, or None."""
    cursor.execute(
        """
        SELECT id, sku, name, description, price_cents, stock, created_at, updated_at
        FROM products
        WHERE id = %(product_id)s
        """,
        {"product_id": product_id},
    )
    return cursor.fetchone()


def list_products(
    cursor: RealDictCursor, *, limit: int, offset: int, name_pattern: str | None
) -> list[dict]:
    """Return a page of products by id, optionally those whose name matches an ILIKE pattern."""
    cursor.execute(
        """
        SELECT id, sku, name, description, price_cents, stock, created_at, updated_at
        FROM products
        WHERE %(pattern)s::text IS NULL
           OR name ILIKE %(pattern)s
        ORDER BY id
        LIMIT %(limit)s
        OFFSET %(offset)s
        """,
        {"pattern": name_pattern, "limit": limit, "offset": offset},
    )
    return cursor.fetchall()


def count_products(cursor: RealDictCursor, *, name_pattern: str | None) -> int:
    """Return how many products list_products can page through."""
    cursor.execute(
        """
        SELECT count(*) AS total
        FROM products
        WHERE %(pattern)s::text IS NULL
           OR name ILIKE %(pattern)s
        """,
        {"pattern": name_pattern},
    )
    return cursor.fetchone()["total"]


def update_product(
    cursor: RealDictCursor,
    *,
    product_id: int,
    name: str | None,
    description: str | None,
    price_cents: int | None,
    stock: int | None,
) -> dict | None:
    """Change the given fields of a product (None keeps a field); return it, or None."""
    cursor.execute(
        """
        UPDATE products
        SET name = coalesce(%(name)s, name),
            description = coalesce(%(description)s, description),
            price_cents = coalesce(%(price_cents)s, price_cents),
            stock = coalesce(%(stock)s, stock),
            updated_at = now()
        WHERE id = %(product_id)s
        RETURNING id, sku, name, description, price_cents, stock, created_at, updated_at
        """,
        {
            "product_id": product_id,
            "name": name,
            "description": description,
            "price_cents": price_cents,
            "stock": stock,
        },
    )
    return cursor.fetchone()


def delete_product(cursor: RealDictCursor, *, product_id: int) -> bool:
    """Delete a product; return whether it existed."""
    cursor.execute(
        """
        DELETE FROM products
        WHERE id = %(product_id)s
        """,
        {"product_id": product_id},
    )
    return cursor.rowcount == 1


def insert_reservation(cursor: RealDictCursor, *, reservation_id: str, status: str) -> bool:
    """Create a reservation unless the id exists; return whether it was created.

    A concurrent insert of the same id waits here until the other transaction ends.
    """
    cursor.execute(
        """
        INSERT INTO reservations (id, status)
        VALUES (%(reservation_id)s, %(status)s)
        ON CONFLICT (id) DO NOTHING
        """,
        {"reservation_id": reservation_id, "status": status},
    )
    return cursor.rowcount == 1


def get_reservation(cursor: RealDictCursor, *, reservation_id: str) -> dict | None:
    """Return a reservation's id and status, or None."""
    cursor.execute(
        """
        SELECT id, status
        FROM reservations
        WHERE id = %(reservation_id)s
        """,
        {"reservation_id": reservation_id},
    )
    return cursor.fetchone()


def lock_products(cursor: RealDictCursor, *, product_ids: list[int]) -> list[dict]:
    """Lock the existing products among product_ids, in id order, and return them."""
    # One global lock order (by id) means two orders over the same products never deadlock.
    cursor.execute(
        """
        SELECT id, name, price_cents, stock
        FROM products
        WHERE id = ANY(%(product_ids)s)
        ORDER BY id
        FOR UPDATE
        """,
        {"product_ids": product_ids},
    )
    return cursor.fetchall()


def change_stock(cursor: RealDictCursor, *, product_ids: list[int], deltas: list[int]) -> None:
    """Add deltas[i] to the stock of product_ids[i] (rows locked by lock_products first)."""
    cursor.execute(
        """
        UPDATE products AS p
        SET stock = p.stock + change.delta,
            updated_at = now()
        FROM unnest(%(product_ids)s::bigint[], %(deltas)s::bigint[]) AS change (id, delta)
        WHERE p.id = change.id
        """,
        {"product_ids": product_ids, "deltas": deltas},
    )


def take_stock(cursor: RealDictCursor, *, reservation_id: str, items: list[dict]) -> None:
    """Take the stock of a reservation's checked lines (rows locked by lock_products first)
    and store the lines: product_id, name, unit_price_cents, quantity."""
    # One statement: the product rows stay locked one round trip less.
    cursor.execute(
        """
        WITH taken AS (
            UPDATE products AS p
            SET stock = p.stock - line.quantity,
                updated_at = now()
            FROM unnest(%(product_ids)s::bigint[], %(quantities)s::integer[])
                AS line (id, quantity)
            WHERE p.id = line.id
        )
        INSERT INTO reservation_items (reservation_id, product_id, name, unit_price_cents, quantity)
        SELECT %(reservation_id)s, line.product_id, line.name, line.unit_price_cents, line.quantity
        FROM unnest(
            %(product_ids)s::bigint[],
            %(names)s::text[],
            %(prices)s::bigint[],
            %(quantities)s::integer[]
        ) AS line (product_id, name, unit_price_cents, quantity)
        """,
        {
            "reservation_id": reservation_id,
            "product_ids": [item["product_id"] for item in items],
            "names": [item["name"] for item in items],
            "prices": [item["unit_price_cents"] for item in items],
            "quantities": [item["quantity"] for item in items],
        },
    )


def reservation_items(cursor: RealDictCursor, *, reservation_id: str) -> list[dict]:
    """Return the lines of a reservation by product id."""
    cursor.execute(
        """
        SELECT product_id, name, unit_price_cents, quantity
        FROM reservation_items
        WHERE reservation_id = %(reservation_id)s
        ORDER BY product_id
        """,
        {"reservation_id": reservation_id},
    )
    return cursor.fetchall()


def release_reservation(cursor: RealDictCursor, *, reservation_id: str) -> bool:
    """Mark a committed reservation released; return whether it was committed."""
    # Conditional on the current status: of two concurrent calls, exactly one moves it.
    cursor.execute(
        """
        UPDATE reservations
        SET status = 'released',
            updated_at = now()
        WHERE id = %(reservation_id)s
          AND status = 'committed'
        """,
        {"reservation_id": reservation_id},
    )
    return cursor.rowcount == 1


def purge_released_reservations(
    cursor: RealDictCursor, *, older_than_seconds: int, limit: int
) -> int:
    """Delete up to `limit` reservations released longer ago than older_than_seconds, with
    their items; return how many."""
    # SKIP LOCKED: a reservation another call holds is left for a later purge, never waited on.
    cursor.execute(
        """
        DELETE FROM reservations
        WHERE id IN (
            SELECT id
            FROM reservations
            WHERE status = 'released'
              AND updated_at < now() - make_interval(secs => %(older_than_seconds)s)
            ORDER BY updated_at
            LIMIT %(limit)s
            FOR UPDATE SKIP LOCKED
        )
        """,
        {"older_than_seconds": older_than_seconds, "limit": limit},
    )
    return cursor.rowcount
