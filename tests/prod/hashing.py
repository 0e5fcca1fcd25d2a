"""Password hashing under a burst (scripts/test-prod): python - < hashing.py

Straight at user-service, past the gateway's limits: 30 wrong-password logins and 30
password changes, all at once. Each is one or two Argon2id hashes of 64 MiB; user-service
must bound how many run at once, answer every request (200, 401, 403, or 503 with
Retry-After when no hash slot frees in time) and stay up. Its container's OOM kills and
restarts are checked by the caller. Standard library only: it runs in any of our images.
"""

import json
import sys
import threading
import urllib.error
import urllib.request
import uuid

BASE = "http://user-service:8000"
BURST = 30
PASSWORD = "correct horse battery"


def call(method: str, path: str, body: dict, headers: dict | None = None) -> tuple[int, dict]:
    """Send a JSON request; return the status and the answer's headers."""
    request = urllib.request.Request(
        BASE + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, {**response.headers, "body": json.load(response)}
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


email = f"hashing-{uuid.uuid4().hex[:12]}@example.com"
status, _ = call("POST", "/api/auth/register", {"email": email, "password": PASSWORD, "name": "H"})
assert status == 201, status
status, answer = call("POST", "/api/auth/login", {"email": email, "password": PASSWORD})
assert status == 200, status
bearer = {"Authorization": f"Bearer {answer['body']['access_token']}"}

results: list[tuple[str, int, dict]] = []


def wrong_login() -> None:
    body = {"email": email, "password": "not the password"}
    results.append(("login", *call("POST", "/api/auth/login", body)))


def change_password() -> None:
    body = {"current_password": PASSWORD, "password": PASSWORD}
    results.append(("change", *call("PATCH", "/api/users/me", body, bearer)))


threads = [threading.Thread(target=wrong_login) for _ in range(BURST)]
threads += [threading.Thread(target=change_password) for _ in range(BURST)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()

expected = {"login": {401, 503}, "change": {200, 503}}
counts: dict[str, dict[int, int]] = {}
failed = False
for kind, status, headers in results:
    counts.setdefault(kind, {}).setdefault(status, 0)
    counts[kind][status] += 1
    if status not in expected[kind] or (status == 503 and "Retry-After" not in headers):
        failed = True
print(f"  answers: {json.dumps(counts, sort_keys=True)}")
if failed or len(results) != 2 * BURST:
    sys.exit("user-service dropped or mis-answered requests of the burst")
with urllib.request.urlopen(BASE + "/readyz", timeout=10) as response:
    assert response.status == 200
print("  user-service answered every request of the burst and is ready")
