"""/metrics (docs/metrics.md): every service and the gateway answer it on the internal
networks, and NGINX never lets a client reach it; each worker serves its service's gauges."""

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import TIMEOUT

# What Prometheus would scrape, by service name on the Compose networks.
SCRAPED = [
    "api-gateway",
    "user-service",
    "product-service",
    "order-service",
    "notification-service",
]
# The gauges a worker serves (docs/operations.md), which its web replicas do not.
WORKER_GAUGES = [
    ("user-worker", "user-service", {"outbox_pending", "outbox_oldest_seconds"}),
    (
        "order-worker",
        "order-service",
        {"outbox_pending", "orders_pending", "orders_oldest_seconds", "orders_overdue"},
    ),
    (
        "notification-worker",
        "notification-service",
        {
            "mail_queued",
            "mail_sent",
            "mail_failed",
            "mail_oldest_queued_seconds",
            "flotilla_dead_letters",
        },
    ),
]


def scrape(service: str) -> dict[tuple[str, frozenset], float]:
    """Scrape a service's /metrics from inside the stack."""
    response = requests.get(f"http://{service}:8000/metrics", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


@pytest.mark.parametrize(
    "path",
    [
        "/metrics",
        "/metrics/",
        "/Metrics",
        "/api/metrics",
        "/api/../metrics",
        "/api/%2e%2e/metrics",
        "/api/products/..%2f..%2fmetrics",
        "/health/../metrics",
        "/%6detrics",
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_nginx_never_exposes_metrics(api, path, method):
    response = api.request(method, path, allow_redirects=False)
    assert response.status_code == 404, response.text
    assert "http_requests_total" not in response.text
    if method != "HEAD":
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("service", SCRAPED)
def test_every_service_serves_metrics_inside_the_stack(service):
    # What the test above refuses from outside is there for Prometheus inside.
    assert any(name == "http_requests_in_flight" for name, _ in scrape(service))


@pytest.mark.parametrize(("worker", "service", "gauges"), WORKER_GAUGES)
def test_each_worker_serves_its_service_s_gauges_once(worker, service, gauges):
    assert gauges <= {name for name, _ in scrape(worker)}
    assert not gauges & {name for name, _ in scrape(service)}


def test_a_request_through_nginx_is_counted_by_the_gateway_and_the_service(api, auth_headers):
    gateway = {"method": "GET", "route": "/api/products", "status": "200"}
    product = {"method": "GET", "route": "/api/products", "status": "200"}

    def counts() -> tuple[float, float]:
        return (
            scrape("api-gateway").get(("http_requests_total", frozenset(gateway.items())), 0),
            scrape("product-service").get(("http_requests_total", frozenset(product.items())), 0),
        )

    before = counts()
    for _ in range(3):
        # With a token: an anonymous read may be answered by NGINX's edge cache.
        assert api.get("/api/products?limit=1", headers=auth_headers).status_code == 200
    after = counts()
    assert (after[0] - before[0], after[1] - before[1]) == (3, 3)
