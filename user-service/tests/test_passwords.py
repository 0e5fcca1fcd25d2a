"""Password hashing holds a bounded number of Argon2 hashes at once, sized to the memory limit."""

import threading
import time

import pytest

from flotilla.config import Env
from user_service import passwords
from user_service.passwords import hash_slots, memory_limit

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("limit", "workers", "slots"),
    [
        (512 * MIB, 4, 1),  # the production override: 4 hashes of 64 MiB in 256 MiB
        (2048 * MIB, 4, 4),
        (8192 * MIB, 2, 4),  # never more than the threads that could ask
        (128 * MIB, 4, 1),  # always at least one
        (None, 4, 4),  # no limit: one per thread
    ],
)
def test_the_slots_fit_half_the_memory_limit(limit, workers, slots):
    env = Env({"GUNICORN_WORKERS": str(workers), "GUNICORN_THREADS": "4"})
    assert hash_slots(env, limit=limit) == slots


def test_the_memory_limit_is_read_from_the_cgroup(tmp_path):
    v2, v1 = tmp_path / "memory.max", tmp_path / "memory.limit_in_bytes"
    paths = (str(v2), str(v1))
    v1.write_text("536870912\n")
    assert memory_limit(paths) == 512 * MIB
    v1.write_text("9223372036854771712\n")  # cgroup v1's "no limit"
    assert memory_limit(paths) is None
    v2.write_text("max\n")
    assert memory_limit(paths) is None
    v2.write_text("268435456\n")
    assert memory_limit(paths) == 256 * MIB
    assert memory_limit((str(tmp_path / "missing"),)) is None


def test_no_free_slot_in_time_is_503_with_retry_after(client, user, monkeypatch):
    monkeypatch.setattr(passwords, "HASH_WAIT_SECONDS", 0.2)
    slots = threading.BoundedSemaphore(1)
    monkeypatch.setattr(passwords, "_slots", slots)
    slots.acquire()  # another request is hashing
    try:
        response = client.post(
            "/api/auth/login", json={"email": user["email"], "password": "not the password"}
        )
    finally:
        slots.release()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json["error"]["code"] == "service_unavailable"


class CountingHasher:
    """Stands in for the Argon2 hasher: counts the hashes running at once."""

    def __init__(self) -> None:
        self.running = self.most = 0
        self.lock = threading.Lock()

    def hash(self, password: str) -> str:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.05)
        with self.lock:
            self.running -= 1
        return "hashed"


def test_hashes_beyond_the_slots_wait_their_turn(monkeypatch):
    monkeypatch.setattr(passwords, "_slots", threading.BoundedSemaphore(2))
    hasher = CountingHasher()
    monkeypatch.setattr(passwords, "_hasher", hasher)
    threads = [threading.Thread(target=passwords.hash_password, args=("pw",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert hasher.most == 2
