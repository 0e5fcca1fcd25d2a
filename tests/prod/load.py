"""Steady load through NGINX for scripts/test-swarm, from inside NGINX's network namespace.

  python load.py setup ADMIN_PASSWORD        -> {"product": id, "token": customer token}
  python load.py run PRODUCT TOKEN [retry]   orders and catalog reads until SIGTERM, then
                                             {"requests", "failed", "unanswered", ...}
  python load.py verify PRODUCT TOKEN RESULT every order answered 201 exists once, none pending
  python load.py smoke ADMIN_PASSWORD        health, accounts, catalog, one order, requests with
                                             ids swarm-spread-N (to find in NGINX's access lines)

`retry`: an order without a final answer (none, a 5xx, or 409 idempotency_conflict while
the first attempt is settled) is sent again with the same Idempotency-Key for up to 90 s,
as API.md tells a client to do when a container dies under it. Every answer that is not a
2xx counts as failed; one still without a final answer as unanswered.
Standard library only; TLS checked against the certificate in TLS_CA.
"""

import json
import os
import signal
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter

BASE = "https://localhost"  # NGINX, in whose network namespace this runs
CLIENTS = 3
RETRY_SECONDS = 90
TLS = ssl.create_default_context(cafile=os.environ.get("TLS_CA"))
stop = threading.Event()


def call(method: str, path: str, body: dict | None = None, **headers: str) -> tuple[int, dict]:
    """One request; (0, {}) when no HTTP answer came back."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request, timeout=30, context=TLS) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.load(error)
        except ValueError:
            return error.code, {}
    except OSError:
        return 0, {}


def setup(admin_password: str) -> dict:
    """A product with stock for every order of the test, and a customer's token."""
    _, admin = call(
        "POST", "/api/auth/login", {"email": "admin@flotilla.local", "password": admin_password}
    )
    sku = f"swarm-{uuid.uuid4().hex[:12]}"
    product = {"sku": sku, "name": "Swarm test", "price_cents": 100, "stock": 1_000_000}
    status, created = call(
        "POST", "/api/products", product, Authorization=f"Bearer {admin['access_token']}"
    )
    assert status == 201, status
    customer = {"email": f"{sku}@example.com", "password": "correct horse battery", "name": "Swarm"}
    assert call("POST", "/api/auth/register", customer)[0] == 201
    _, tokens = call("POST", "/api/auth/login", {k: customer[k] for k in ("email", "password")})
    return {"product": created["id"], "token": tokens["access_token"]}


def unanswered(status: int, body: dict) -> bool:
    """No final answer yet: none at all, a 5xx, or the first attempt still running (API.md)."""
    code = body.get("error", {}).get("code")
    return status == 0 or status >= 500 or code == "idempotency_conflict"


def order(product: int, token: str, retry: bool) -> tuple[list[int], dict]:
    """Place one order; the statuses of every attempt and the order (when created)."""
    key, statuses = uuid.uuid4().hex, []
    # A pending order is settled within ORDER_RECOVERY_SECONDS (60): retry a while longer.
    deadline = time.monotonic() + (RETRY_SECONDS if retry else 0)
    while True:
        status, body = call(
            "POST",
            "/api/orders",
            {"items": [{"product_id": product, "quantity": 1}]},
            Authorization=f"Bearer {token}",
            Idempotency_Key=key,
        )
        statuses.append(status)
        if not unanswered(status, body) or time.monotonic() > deadline:
            return statuses, body
        time.sleep(1)


def client(product: int, token: str, retry: bool, results: dict, lock: threading.Lock) -> None:
    """Alternate orders and catalog reads until told to stop."""
    while not stop.is_set():
        statuses, placed = order(product, token, retry)
        read, _ = call("GET", f"/api/products/{product}")
        with lock:
            results["requests"] += len(statuses) + 1
            results["statuses"].update(map(str, [*statuses, read]))
            results["failed"] += (statuses[-1] != 201) + (read != 200)
            results["unanswered"] += unanswered(statuses[-1], placed)
            results["retried"] += len(statuses) - 1
            if statuses[-1] == 201:
                results["orders"].append(placed["id"])


def run(product: int, token: str, retry: bool) -> dict:
    """Load until SIGTERM (docker stop); the totals."""
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    results = {"requests": 0, "failed": 0, "unanswered": 0, "retried": 0}
    results |= {"statuses": Counter(), "orders": []}
    lock = threading.Lock()
    threads = [
        threading.Thread(target=client, args=(product, token, retry, results, lock))
        for _ in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    print("LOADING", flush=True)
    for thread in threads:
        thread.join()
    return results


def verify(token: str, expected: list[int]) -> dict:
    """Every order the client was given exists once, and settles (none pending)."""
    deadline = time.monotonic() + 90  # order-worker settles a pending order within 60 s
    while True:
        listed, offset = [], 0
        while True:
            status, page = call(
                "GET", f"/api/orders?limit=100&offset={offset}", Authorization=f"Bearer {token}"
            )
            assert status == 200, status
            listed += page["items"]
            offset += 100
            if offset >= page["total"]:
                break
        pending = [o["id"] for o in listed if o["status"] == "pending"]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(3)
    ids = Counter(o["id"] for o in listed)
    assert not pending, f"orders still pending: {pending}"
    assert set(expected) <= set(ids), f"orders lost: {set(expected) - set(ids)}"
    assert len(expected) == len(set(expected)), "one order answered twice"
    # Any other order is one the client was told had failed (a crash during its reservation).
    unknown = [o for o in listed if o["id"] not in set(expected) and o["status"] != "failed"]
    assert not unknown, f"orders the client never got: {unknown}"
    return {"orders": len(ids), "statuses": Counter(o["status"] for o in listed)}


def smoke(admin_password: str) -> dict:
    """The stack answers across every service, through NGINX and whichever replicas."""
    status, health = call("GET", "/health")
    assert status == 200 and health["status"] == "ok", health
    made = setup(admin_password)
    bearer = f"Bearer {made['token']}"
    status, placed = call(
        "POST",
        "/api/orders",
        {"items": [{"product_id": made["product"], "quantity": 2}]},
        Authorization=bearer,
    )
    assert status == 201 and placed["status"] == "confirmed", (status, placed)
    status, again = call("GET", f"/api/orders/{placed['id']}", Authorization=bearer)
    assert status == 200 and again["total_cents"] == 200, (status, again)
    assert call("GET", "/api/notifications", Authorization=bearer)[0] == 200
    for number in range(30):  # with a token: past NGINX's edge cache, to a gateway each
        spread = {"X_Request_ID": f"swarm-spread-{number}", "Authorization": bearer}
        assert call("GET", "/api/products?limit=1", **spread)[0] == 200
    return {"health": health["status"], "order": placed["id"]}


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "setup":
        print(json.dumps(setup(args[0])))
    elif command == "run":
        print(json.dumps(run(int(args[0]), args[1], args[2:] == ["retry"])))
    elif command == "smoke":
        print(json.dumps(smoke(args[0])))
    elif command == "verify":
        print(json.dumps(verify(args[1], json.loads(args[2])["orders"])))
