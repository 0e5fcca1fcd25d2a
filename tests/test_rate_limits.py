"""Rate limits shared by every gateway replica, as Kong tests them.

The stack's own gateway has limits no test meets (docker-compose.test.yml), so that other
tests never see a 429. These tests start two extra gateways from the same image and
settings, with small limits, sharing the stack's Redis; each test counts against a key
nobody else uses (a new user, or a new client address forwarded by a trusted peer)."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import PASSWORD, bearer

LIMIT = 10
AUTH_LIMIT = 3


@pytest.fixture(scope="module")
def replicas(start_gateway) -> list[str]:
    """Base URLs of two gateway replicas with small limits."""
    env = {"RATE_LIMIT_DEFAULT": f"{LIMIT}/60", "RATE_LIMIT_AUTH": f"{AUTH_LIMIT}/60"}
    return [f"http://{start_gateway(env).name}:8000" for _ in range(2)]


def test_n_requests_pass_with_remaining_falling_to_zero_then_429(replicas, auth_headers):
    remaining = []
    with requests.Session() as session:
        for _ in range(LIMIT):
            response = session.get(f"{replicas[0]}/api/users/me", headers=auth_headers, timeout=10)
            assert response.status_code == 200
            assert response.headers["RateLimit-Limit"] == str(LIMIT)
            remaining.append(int(response.headers["RateLimit-Remaining"]))
        refused = session.get(f"{replicas[0]}/api/users/me", headers=auth_headers, timeout=10)
    assert remaining == list(range(LIMIT - 1, -1, -1))
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Remaining"] == "0"


def test_concurrent_clients_on_two_replicas_share_one_limit(replicas, auth_headers):
    def call(index: int) -> int:
        url = f"{replicas[index % 2]}/api/users/me"
        return requests.get(url, headers=auth_headers, timeout=10).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(call, range(4 * LIMIT)))
    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == 3 * LIMIT


def test_login_has_a_stricter_limit_per_client_address(replicas):
    # The tests container is on a trusted (Docker private) network, so the gateway takes
    # the client address from X-Forwarded-For, as it does from NGINX.
    client = {"X-Forwarded-For": f"2001:db8::{uuid.uuid4().hex[:4]}"}
    body = {"email": f"nobody-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD}
    statuses = [
        requests.post(
            f"{replicas[i % 2]}/api/auth/login", json=body, headers=client, timeout=10
        ).status_code
        for i in range(AUTH_LIMIT + 1)
    ]
    assert statuses == [401] * AUTH_LIMIT + [429]
    # Another client address is not affected.
    other = {"X-Forwarded-For": f"2001:db8::{uuid.uuid4().hex[:4]}"}
    response = requests.post(f"{replicas[0]}/api/auth/login", json=body, headers=other, timeout=10)
    assert response.status_code == 401


def test_the_stack_gateway_reports_its_limits_through_nginx(api, account):
    response = api.get("/api/users/me", headers=bearer(account["access_token"]))
    assert response.status_code == 200
    assert int(response.headers["RateLimit-Limit"]) >= 1000
    assert int(response.headers["RateLimit-Remaining"]) < int(response.headers["RateLimit-Limit"])
