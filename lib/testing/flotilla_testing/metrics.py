"""Reading /metrics in tests: Prometheus' text format as {(sample, labels): value}."""

import urllib.request

from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from flotilla.metrics import serve_worker_metrics

REQUESTS = "http_requests_total"
Sample = tuple[str, frozenset[tuple[str, str]]]


def samples(text: str) -> dict[Sample, float]:
    """Parse Prometheus' text format into {(sample name, labels): value}."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scrape: dict[Sample, float], name: str, **labels: str) -> float:
    """Return one sample's value, 0 when the series does not exist (yet)."""
    return scrape.get((name, frozenset(labels.items())), 0.0)


def scrape_client(client) -> dict[Sample, float]:
    """Scrape /metrics of an app through its test client."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    return samples(response.get_data(as_text=True))


def scrape_worker(app: Flask) -> dict[Sample, float]:
    """Scrape what the app's worker serves (its gauges read now), on a port of its own."""
    server, thread = serve_worker_metrics(app, port=0)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            return samples(response.read().decode())
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
