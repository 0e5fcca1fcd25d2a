"""SQL of user-service: plain functions over a cursor, returning plain dicts."""

from datetime import datetime

from psycopg2.extras import RealDictCursor


def insert_user(
    cursor: RealDictCursor, *, email: str, name: str, password_hash: str, role: str = "customer"
) -> dict | None:
    """Insert a user; return it, or None when the email is taken."""
    cursor.execute(
        """
        INSERT INTO users (email, name, password_hash, role)
        VALUES (%(email)s, %(name)s, %(password_hash)s, %(role)s)
        ON CONFLICT (email) DO NOTHING
        RETURNING id, email, name, role, created_at
        """,
        {"email": email, "name": name, "password_hash": password_hash, "role": role},
    )
    return cursor.fetchone()


def get_user(cursor: RealDictCursor, *, user_id: int) -> dict | None:
    """Return the user with this id, or None."""
    cursor.execute(
        """
        SELECT id, email, name, role, created_at
        FROM users
        WHERE id = %(user_id)s
        """,
        {"user_id": user_id},
    )
    return cursor.fetchone()


def get_credentials(
    cursor: RealDictCursor, *, email: str | None = None, user_id: int | None = None
) -> dict | None:
    """Return id, role and password hash for an email or a user id, or None."""
    cursor.execute(
        """
        SELECT id, role, password_hash
        FROM users
        WHERE email = %(email)s
           OR id = %(user_id)s
        """,
        {"email": email, "user_id": user_id},
    )
    return cursor.fetchone()


def update_user(
    cursor: RealDictCursor, *, user_id: int, name: str | None, password_hash: str | None
) -> dict | None:
    """Change a user's name and/or password hash; return the user, or None."""
    cursor.execute(
        """
        UPDATE users
        SET name = coalesce(%(name)s, name),
            password_hash = coalesce(%(password_hash)s, password_hash),
            updated_at = now()
        WHERE id = %(user_id)s
        RETURNING id, email, name, role, created_at
        """,
        {"user_id": user_id, "name": name, "password_hash": password_hash},
    )
    return cursor.fetchone()


def set_password_hash(cursor: RealDictCursor, *, user_id: int, password_hash: str) -> None:
    """Store a re-computed hash (after Argon2 parameters were raised)."""
    cursor.execute(
        """
        UPDATE users
        SET password_hash = %(password_hash)s
        WHERE id = %(user_id)s
        """,
        {"user_id": user_id, "password_hash": password_hash},
    )


def insert_refresh_token(
    cursor: RealDictCursor, *, user_id: int, token_hash: bytes, family: str, expires_at: datetime
) -> None:
    """Store the hash of a new refresh token."""
    cursor.execute(
        """
        INSERT INTO refresh_tokens (user_id, token_hash, family, expires_at)
        VALUES (%(user_id)s, %(token_hash)s, %(family)s, %(expires_at)s)
        """,
        {"user_id": user_id, "token_hash": token_hash, "family": family, "expires_at": expires_at},
    )


def revoke_refresh_token(cursor: RealDictCursor, *, token_hash: bytes) -> dict | None:
    """Revoke a live refresh token; return its user and family, or None if it was not live."""
    cursor.execute(
        """
        UPDATE refresh_tokens
        SET revoked_at = now()
        WHERE token_hash = %(token_hash)s
          AND revoked_at IS NULL
          AND expires_at > now()
        RETURNING user_id, family::text
        """,
        {"token_hash": token_hash},
    )
    return cursor.fetchone()


def revoke_family_of(cursor: RealDictCursor, *, token_hash: bytes) -> int:
    """Revoke every token of the chain a (replayed) token belongs to; return how many."""
    cursor.execute(
        """
        UPDATE refresh_tokens
        SET revoked_at = now()
        WHERE family = (SELECT family FROM refresh_tokens WHERE token_hash = %(token_hash)s)
          AND revoked_at IS NULL
        """,
        {"token_hash": token_hash},
    )
    return cursor.rowcount


def revoke_user_refresh_tokens(cursor: RealDictCursor, *, user_id: int) -> None:
    """Revoke every live refresh token of a user."""
    cursor.execute(
        """
        UPDATE refresh_tokens
        SET revoked_at = now()
        WHERE user_id = %(user_id)s
          AND revoked_at IS NULL
        """,
        {"user_id": user_id},
    )


def signing_keys(cursor: RealDictCursor) -> list[dict]:
    """Return the stored development signing keys, newest first."""
    cursor.execute(
        """
        SELECT kid, private_key_pem
        FROM signing_keys
        ORDER BY created_at DESC
        """
    )
    return cursor.fetchall()


def lock_signing_keys(cursor: RealDictCursor) -> None:
    """Hold a transaction lock so that only one worker creates the first key."""
    cursor.execute("SELECT pg_advisory_xact_lock(hashtext('signing_keys'))")


def insert_signing_key(cursor: RealDictCursor, *, kid: str, private_key_pem: str) -> None:
    """Store a development signing key."""
    cursor.execute(
        """
        INSERT INTO signing_keys (kid, private_key_pem)
        VALUES (%(kid)s, %(private_key_pem)s)
        """,
        {"kid": kid, "private_key_pem": private_key_pem},
    )
