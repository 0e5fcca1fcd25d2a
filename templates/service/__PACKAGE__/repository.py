"""SQL of __SERVICE__: plain functions over a cursor, returning plain dicts."""

from psycopg2.extras import RealDictCursor


def insert_entry(cursor: RealDictCursor, *, name: str) -> dict:
    """Record an entry; return it."""
    cursor.execute(
        """
        INSERT INTO entries (name)
        VALUES (%(name)s)
        RETURNING id, name, created_at
        """,
        {"name": name},
    )
    return cursor.fetchone()


def get_entry(cursor: RealDictCursor, *, entry_id: int) -> dict | None:
    """Return an entry, or None."""
    cursor.execute(
        """
        SELECT id, name, created_at
        FROM entries
        WHERE id = %(entry_id)s
        """,
        {"entry_id": entry_id},
    )
    return cursor.fetchone()


def list_entries(cursor: RealDictCursor, *, limit: int, offset: int) -> list[dict]:
    """Return a page of the entries, newest first."""
    cursor.execute(
        """
        SELECT id, name, created_at
        FROM entries
        ORDER BY id DESC
        LIMIT %(limit)s
        OFFSET %(offset)s
        """,
        {"limit": limit, "offset": offset},
    )
    return cursor.fetchall()


def count_entries(cursor: RealDictCursor) -> int:
    """Return how many entries there are."""
    cursor.execute(
        """
        SELECT count(*) AS total
        FROM entries
        """
    )
    return cursor.fetchone()["total"]
