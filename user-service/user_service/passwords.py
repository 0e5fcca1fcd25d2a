"""Argon2id password hashing, a bounded number at a time per process."""

import threading
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from flotilla.config import Env
from flotilla.errors import ApiError

# argon2-cffi's defaults are RFC 9106's low-memory profile (Argon2id, t=3, m=64 MiB, p=4):
# stronger than OWASP's minimum (m=19 MiB, t=2, p=1).
_hasher = PasswordHasher()
HASH_BYTES = _hasher.memory_cost * 1024
# The share of the container's memory limit that hashes may hold at once; the rest is for
# the processes themselves (a gunicorn worker holds about 60 MiB).
HASH_MEMORY_SHARE = 0.5
# How long a request waits for a free slot before it is answered 503 with Retry-After.
HASH_WAIT_SECONDS = 3.0
# Where the container's memory limit is: cgroup v2, then v1.
CGROUP_MEMORY_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
# cgroup v1 writes "no limit" as a number near 2**63.
NO_LIMIT = 2**60


def memory_limit(paths: tuple[str, ...] = CGROUP_MEMORY_LIMITS) -> int | None:
    """Return the container's memory limit in bytes; None when it has none."""
    for path in paths:
        try:
            with open(path, encoding="ascii") as handle:
                raw = handle.read().strip()
        except OSError:
            continue
        return int(raw) if raw.isdigit() and int(raw) < NO_LIMIT else None
    return None


def hash_slots(env: Env, *, limit: int | None) -> int:
    """Return how many hashes one process may run at once (PASSWORD_HASH_SLOTS overrides).

    Every worker process of the container may be hashing at its bound at the same moment:
    the workers' hashes together fit in HASH_MEMORY_SHARE of the limit. Without a limit, one
    slot per thread (no bound beyond gunicorn's own).
    """
    threads = env.integer("GUNICORN_THREADS", 4)
    if limit is None:
        return env.integer("PASSWORD_HASH_SLOTS", threads)
    workers = env.integer("GUNICORN_WORKERS", 2)
    fitting = int(limit * HASH_MEMORY_SHARE) // (workers * HASH_BYTES)
    return env.integer("PASSWORD_HASH_SLOTS", max(1, min(threads, fitting)))


_slots = threading.BoundedSemaphore(hash_slots(Env(), limit=memory_limit()))


class _HashSlot:
    """Hold one of the process's hash slots; 503 with Retry-After when none frees in time."""

    def __enter__(self) -> None:
        if not _slots.acquire(timeout=HASH_WAIT_SECONDS):
            raise ApiError(
                503,
                "service_unavailable",
                "Too many password checks at once; please retry",
                headers={"Retry-After": "1"},
            )

    def __exit__(self, *_: object) -> None:
        _slots.release()


@cache
def _dummy_hash() -> str:
    with _HashSlot():
        return _hasher.hash("a password nobody has")


def hash_password(password: str) -> str:
    """Return the Argon2id hash of a password."""
    with _HashSlot():
        return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (unknown user) spend the same time and fail."""
    checked = password_hash or _dummy_hash()
    try:
        with _HashSlot():
            return _hasher.verify(checked, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Tell whether a hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)
