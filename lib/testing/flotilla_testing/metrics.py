"""Checks of /metrics every service passes (flotilla.metrics). flotilla_testing.checks
collects them; a service without a database collects them with

from flotilla_testing.metrics import *  # noqa: F403

The last two talk to the gunicorn of the container the tests run in (`make test` runs
them there), so they see what Prometheus would: the sum over the workers.
"""

import os
import signal
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from flotilla.metrics import UNMATCHED_ROUTE, multiprocess_dir

__all__ = [
    "probe_client",
    "test_metrics_add_up_over_the_gunicorn_workers",
    "test_metrics_count_requests_by_url_rule_and_status",
    "test_metrics_survive_a_dead_worker",
    "test_metrics_time_requests_in_a_histogram",
]

REQUESTS = "http_requests_total"
SERVED = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
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


def scrape_served() -> dict[Sample, float]:
    """Scrape /metrics of the container's gunicorn, as Prometheus would."""
    response = requests.get(f"{SERVED}/metrics", timeout=10)
    assert response.status_code == 200
    return samples(response.text)


@pytest.fixture
def probe_client(app_with):
    """A new app of the service with an extra route that has a variable in its path."""
    app = app_with()
    app.add_url_rule("/probe/<int:number>", "probe", lambda number: {"number": number})
    return app.test_client()


def test_metrics_count_requests_by_url_rule_and_status(probe_client):
    before = scrape_client(probe_client)
    for number in (1, 2, 3):
        assert probe_client.get(f"/probe/{number}").status_code == 200
    assert probe_client.post("/probe/4").status_code == 405
    assert probe_client.get("/no/such/path/42").status_code == 404
    after = scrape_client(probe_client)

    def counted(method: str, route: str, status: str) -> float:
        labels = {"method": method, "route": route, "status": status}
        return value(after, REQUESTS, **labels) - value(before, REQUESTS, **labels)

    # One series for the three paths: the URL rule is the label, never the path.
    assert counted("GET", "/probe/<int:number>", "200") == 3
    assert counted("POST", UNMATCHED_ROUTE, "405") == 1
    assert counted("GET", UNMATCHED_ROUTE, "404") == 1
    routes = {dict(labels).get("route", "") for _, labels in after}
    assert not any("/probe/1" in route or "/no/such" in route for route in routes)


def test_metrics_time_requests_in_a_histogram(probe_client):
    before = scrape_client(probe_client)
    assert probe_client.get("/probe/7").status_code == 200
    after = scrape_client(probe_client)
    labels = {"method": "GET", "route": "/probe/<int:number>"}
    name = "http_request_duration_seconds"
    count = value(after, f"{name}_count", **labels) - value(before, f"{name}_count", **labels)
    assert count == 1
    assert value(after, f"{name}_sum", **labels) > value(before, f"{name}_sum", **labels)
    every = value(after, f"{name}_bucket", **labels, le="+Inf")
    assert every == value(after, f"{name}_count", **labels)
    assert value(after, f"{name}_bucket", **labels, le="10.0") == every
    # The scrape being answered is the one request in flight.
    assert value(after, "http_requests_in_flight") >= 1


def livez_counts_per_worker() -> dict[int, float]:
    """Return, per gunicorn worker (pid), how many /livez it has counted: its own file."""
    counts = {}
    for path in Path(multiprocess_dir()).glob("counter_*.db"):
        pid = int(path.stem.removeprefix("counter_"))
        labels = {"method": "GET", "route": "/livez", "status": "200"}
        counts[pid] = sum(
            sample.value
            for family in MultiProcessCollector.merge([str(path)])
            for sample in family.samples
            if sample.name == REQUESTS and sample.labels == labels
        )
    return counts


def hit(paths: Iterable[str]) -> None:
    """Send GETs to the container's gunicorn at once, each on a new connection."""

    def get(path: str) -> requests.Response:
        return requests.get(f"{SERVED}{path}", headers={"Connection": "close"}, timeout=10)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(r.status_code == 200 for r in pool.map(get, paths))


def until(condition: Callable[[], bool], seconds: float = 20) -> bool:
    """Wait until condition() holds; return whether it did."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_metrics_add_up_over_the_gunicorn_workers():
    livez = {"method": "GET", "route": "/livez", "status": "200"}
    before = value(scrape_served(), REQUESTS, **livez)
    counts_before = livez_counts_per_worker()
    sent = 0
    # Until at least two workers have answered some (the kernel picks who accepts).
    while sent < 2000:
        hit(["/livez"] * 40)
        sent += 40
        counts = livez_counts_per_worker()
        served_by = [pid for pid in counts if counts[pid] > counts_before.get(pid, 0)]
        if len(served_by) >= 2:
            break
    assert len(served_by) >= 2, f"one worker answered all {sent}: is GUNICORN_WORKERS >= 2?"
    # Whichever worker answers the scrape, it reports every worker's requests.
    for _ in range(4):
        assert value(scrape_served(), REQUESTS, **livez) - before == sent


def test_metrics_survive_a_dead_worker():
    livez = {"method": "GET", "route": "/livez", "status": "200"}
    hit(["/livez"] * 20)
    total = value(scrape_served(), REQUESTS, **livez)
    workers = [pid for pid, count in livez_counts_per_worker().items() if alive(pid) and count]
    assert workers, "no live gunicorn worker has counted a request"
    os.kill(workers[0], signal.SIGKILL)
    # gunicorn's master reaps it and child_exit drops its live gauge (in flight)...
    gauge = Path(multiprocess_dir()) / f"gauge_livesum_{workers[0]}.db"
    assert until(lambda: not gauge.exists()), "child_exit did not mark the worker dead"
    # ...while its counts stay in the totals: a counter never goes back.
    assert value(scrape_served(), REQUESTS, **livez) == total


def alive(pid: int) -> bool:
    """Tell whether pid is a running process of this container."""
    try:
        return "gunicorn" in Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return False
