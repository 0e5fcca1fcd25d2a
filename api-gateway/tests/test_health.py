"""GET /health: every upstream's readiness, kept for a moment so that it cannot amplify load."""

import time
from concurrent.futures import ThreadPoolExecutor

from gateway.health import HEALTH_CACHE_SECONDS

from conftest import answer


def test_health_reports_every_upstream(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "services": {
            "user-service": "ok",
            "product-service": "ok",
            "order-service": "ok",
            "notification-service": "ok",
        },
    }


def test_a_burst_of_health_calls_asks_each_service_once(config, app_with, stub_upstream):
    stub = stub_upstream(lambda _: answer(body=b'{"status": "ok"}'))
    app = app_with(upstreams={name: stub.url for name in config.upstreams})

    def health(_: int) -> int:
        return app.test_client().get("/health").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(health, range(40)))
    assert statuses == [200] * 40
    asked = len(stub.received)
    # One /readyz per upstream; twice if the burst outlived the cache on a slow machine.
    assert asked in (len(config.upstreams), 2 * len(config.upstreams)), asked
    assert {r.target for r in stub.received} == {"/readyz"}

    time.sleep(HEALTH_CACHE_SECONDS)
    assert health(0) == 200
    assert len(stub.received) == asked + len(config.upstreams)  # then asked afresh


def test_an_unready_service_is_reported_and_the_answer_kept_too(config, app_with, stub_upstream):
    down = stub_upstream(lambda _: answer("503 Service Unavailable"))
    app = app_with(upstreams={**config.upstreams, "order-service": down.url})
    for _ in range(5):
        response = app.test_client().get("/health")
        assert response.status_code == 503
        assert response.json["status"] == "degraded"
        assert response.json["services"]["order-service"] == "unavailable"
    assert len(down.received) == 1
