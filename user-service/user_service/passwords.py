"""Argon2id password hashing."""

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults are RFC 9106's low-memory profile (Argon2id, t=3, m=64 MiB, p=4):
# stronger than OWASP's minimum (m=19 MiB, t=2, p=1).
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    return _hasher.hash("a password nobody has")


def hash_password(password: str) -> str:
    """Return the Argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (unknown user) spend the same time and fail."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Tell whether a hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)
