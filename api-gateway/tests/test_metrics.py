"""The gateway's /metrics: proxied requests counted under their routing-table entry, not
the catch-all URL rule."""

import pytest

from flotilla_testing.metrics import REQUESTS, scrape_client, value


@pytest.mark.parametrize(
    "path, route, status",
    [
        ("/api/products?limit=1", "/api/products", "200"),
        ("/api/products/999999999", "/api/products", "404"),
        ("/api/users/me", "/api/users", "401"),
        ("/api/nothing/here", "/api/<path:rest>", "404"),
    ],
)
def test_a_proxied_request_is_counted_under_its_route(client, path, route, status):
    labels = {"method": "GET", "route": route, "status": status}
    before = value(scrape_client(client), REQUESTS, **labels)
    assert client.get(path).status_code == int(status)
    assert value(scrape_client(client), REQUESTS, **labels) - before == 1
