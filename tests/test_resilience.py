"""Failure as a client meets it: hanging, stopped and restarted services, Redis down,
and NGINX in front of a gateway that restarts or runs as several replicas."""

import contextlib
import json
import statistics
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import requests

from conftest import (
    container_of,
    logs_since,
    network_of,
    stack_is_healthy,
    wait_for_health,
    wait_for_log,
    wait_until,
    wait_until_healthy,
)


def gateway_setting(stack: list, name: str) -> str:
    """One environment setting of the stack's gateway."""
    env = dict(
        item.split("=", 1) for item in container_of(stack, "api-gateway").attrs["Config"]["Env"]
    )
    return env[name]


@pytest.fixture
def paused_orders(stack):
    """order-service frozen: it accepts connections but never answers."""
    order = container_of(stack, "order-service")
    order.pause()
    try:
        yield order
    finally:
        order.reload()
        if order.status == "paused":
            order.unpause()


def test_a_hanging_upstream_is_504_within_its_timeout(api, stack, auth_headers, paused_orders):
    timeout = float(gateway_setting(stack, "UPSTREAM_READ_TIMEOUT"))
    started = time.monotonic()
    response = api.get("/api/orders", headers=auth_headers, timeout=timeout + 10)
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "gateway_timeout"
    assert elapsed < timeout + 1


def test_a_post_is_never_sent_twice(api, stack, auth_headers, paused_orders):
    request_id = f"post-once-{uuid.uuid4().hex}"
    since = time.time() - 1
    response = api.post(
        "/api/orders",
        json={"items": []},
        headers={**auth_headers, "X-Request-ID": request_id},
        timeout=30,
    )
    assert response.status_code == 504
    paused_orders.unpause()  # the one request the service holds is now served
    wait_for_log([paused_orders], request_id, since, timeout=15)
    # A second copy would have been queued right behind the first: give it time to show.
    time.sleep(2)
    served = [
        line
        for line in logs_since([paused_orders], since).splitlines()
        if request_id in line and '"message": "request"' in line
    ]
    assert len(served) == 1, served


def test_a_stopped_upstream_is_503_fast_then_the_circuit_opens_and_recovers(
    api, stack, auth_headers
):
    order = container_of(stack, "order-service")
    order.stop(timeout=5)
    try:
        started = time.monotonic()
        first = api.get("/api/orders", headers=auth_headers)
        assert time.monotonic() - started < 2
        assert first.status_code == 503
        assert first.json()["error"]["code"] == "service_unavailable"
        # Per worker process: enough requests that every worker's breaker opens.
        messages = [
            api.get("/api/orders", headers=auth_headers).json()["error"]["message"]
            for _ in range(20)
        ]
        assert any("circuit open" in message for message in messages), messages
    finally:
        order.start()
        wait_for_health(order)
    wait_until_healthy(60)

    def recovered() -> bool:
        return api.get("/api/orders", headers=auth_headers).status_code < 500

    wait_until(recovered, 30, "the circuit to close")
    assert all(recovered() for _ in range(10))


# Generous, not a benchmark: a Redis timeout (0.25 s) paid per request would exceed it.
EXTRA_SECONDS = 0.05
# How long the services leave a failed Redis alone (flotilla.redis_client.PAUSE_SECONDS).
REDIS_PAUSE_SECONDS = 1.0


def medians(
    calls: dict[str, Callable[[], requests.Response]], times: int, gap: float = 0
) -> dict[str, float]:
    """Make each call `times` times, `gap` seconds apart (each must be 200); return the
    median duration of each."""
    durations: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(times):
        for name, call in calls.items():
            started = time.perf_counter()
            response = call()
            durations[name].append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
        time.sleep(gap)
    return {name: statistics.median(values) for name, values in durations.items()}


@contextlib.contextmanager
def broken(redis, how: str) -> Iterator[None]:
    """Redis stopped (connections refused, its name gone) or paused (it never answers)."""
    if how == "stopped":
        redis.stop(timeout=5)
    else:
        redis.pause()
    try:
        yield
    finally:
        if how == "stopped":
            redis.start()
        else:
            redis.unpause()
        wait_for_health(redis)


@pytest.mark.parametrize("how", ["stopped", "paused"])
def test_requests_pass_and_stay_fast_while_redis_is_down(
    api, stack, auth_headers, make_product, how
):
    product = make_product()

    def me() -> requests.Response:  # rate limited at the gateway
        return api.get("/api/users/me", headers=auth_headers)

    def read() -> requests.Response:  # rate limited, and read through the product cache
        # With a token: past NGINX's edge cache, which would answer from its own entry.
        return api.get(f"/api/products/{product['id']}", headers=auth_headers)

    calls = {"me": me, "read": read}
    normal = medians(calls, 30)
    since = time.time() - 1
    with broken(container_of(stack, "redis"), how):
        for _ in range(5):  # every worker meets the failure (once)
            assert "RateLimit-Limit" not in me().headers and read().headers["X-Cache"] == "miss"
        busy = medians(calls, 30)
        # Calls further apart than Redis's pause: none may wait for a probe of Redis.
        sparse = medians(calls, 4, gap=REDIS_PAUSE_SECONDS + 0.2)
        assert "RateLimit-Limit" not in me().headers  # fails open
        wait_for_log(
            [container_of(stack, "api-gateway")],
            "rate limits not enforced: redis unavailable",
            since,
        )
        wait_for_log(
            [container_of(stack, "product-service")],
            "redis unavailable, serving from the database",
            since,
        )
    for name in calls:
        assert busy[name] < normal[name] + EXTRA_SECONDS, (how, normal, busy)
        assert sparse[name] < normal[name] + EXTRA_SECONDS, (how, normal, sparse)

    # Back by themselves: each worker's probe finds Redis within a second or so.
    def limited_and_cached() -> bool:
        return all("RateLimit-Limit" in me().headers for _ in range(4)) and all(
            read().headers["X-Cache"] == "hit" for _ in range(4)
        )

    wait_until(limited_and_cached, 15, "rate limits and the cache to come back")


def test_a_stopped_containers_name_fails_to_resolve_in_seconds_not_ten(stack):
    # Docker's DNS never answers for it on an internal network: every caller waits for the
    # resolver to give up (RES_OPTIONS, docker-compose.yml; glibc's default is 10 s).
    lookup = (
        "import socket, time\n"
        "started = time.monotonic()\n"
        "try:\n    socket.getaddrinfo('stopped-service', 8000)\n"
        "except OSError:\n    print(time.monotonic() - started)"
    )
    result = container_of(stack, "order-service").exec_run(["python", "-c", lookup])
    assert result.exit_code == 0 and float(result.output) < 4, result.output


def test_nginx_serves_again_soon_after_the_gateway_restarts(api, stack):
    container_of(stack, "api-gateway").restart(timeout=5)
    wait_until(stack_is_healthy, 30, "NGINX to reach the restarted gateway")
    statuses = [api.get("/health").status_code for _ in range(20)]
    assert statuses == [200] * 20


def edge_address(container) -> str:
    """The container's address and port on the stack's edge network, as NGINX logs it."""
    return f"{network_of(container, 'edge')[1]['IPAddress']}:8000"


def test_nginx_follows_the_gateway_replicas_as_they_come_and_go(api, stack, start_gateway):
    nginx = container_of(stack, "nginx")
    gateway = edge_address(container_of(stack, "api-gateway"))

    def served_by(*replicas) -> bool:
        """Whether the gateway and these replicas answer a few requests, and no other one."""
        marker, since = f"follow-{uuid.uuid4().hex}", time.time() - 1
        for number in range(8):
            response = api.get("/api/nothing", headers={"X-Request-ID": f"{marker}-{number}"})
            assert response.status_code == 404
        time.sleep(1.2)  # NGINX writes its access lines at most 1 s late
        # NGINX's access line names the replica that answered each request.
        served = {
            json.loads(line)["upstream"]
            for line in logs_since([nginx], since).splitlines()
            if marker in line and line.startswith("{")
        }
        return served == {gateway, *map(edge_address, replicas)}

    # NGINX resolves the name again at most 5 s later, reloads, then round-robins.
    first = start_gateway({}, aliases=["api-gateway"])
    wait_until(lambda: served_by(first), 30, "the first extra replica to get requests")
    # As in a rolling update: a replica with a new address, then the old one stopped.
    second = start_gateway({}, aliases=["api-gateway"])
    first.stop(timeout=5)
    wait_until(lambda: served_by(second), 30, "the second to take the first one's place")
    second.stop(timeout=5)
    wait_until(lambda: served_by(), 30, "the stack's gateway alone")
    statuses = [api.get("/health").status_code for _ in range(10)]
    assert statuses == [200] * 10
