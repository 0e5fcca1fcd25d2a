"""Prometheus metrics of every service: requests by route and status, latency, in flight.

A service adds gauges read at scrape time (add_gauges): a count in its database, a queue's
depth, served by its worker container alone (serve_worker_metrics).

Under gunicorn each worker is a process of its own, so the numbers live in
prometheus_client's multiprocess mode: every worker writes its values to memory-mapped
files in PROMETHEUS_MULTIPROC_DIR (set and wiped by the master, flotilla.gunicorn_conf)
and /metrics adds up the files of every worker, dead ones included, so counters never go
back. Anywhere else (tests, the `flotilla` CLI) the values stay in the process.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request

# prometheus_client chooses between in-process and multiprocess values when it is first
# imported, so it is imported only where a metric is made or read: by then gunicorn's
# master has set PROMETHEUS_MULTIPROC_DIR (on_starting), and every worker inherits it.
if TYPE_CHECKING:
    from threading import Thread
    from wsgiref.simple_server import WSGIServer

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from prometheus_client import Counter, Gauge, Histogram
    from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# tmpfs in every container (also under read_only): the values are written to memory.
DEFAULT_MULTIPROC_DIR = "/dev/shm/flotilla-metrics"  # noqa: S108
# Labels take only these values, whatever a client sends: a label value is a time series
# kept forever, so a hostile path or method must not be able to create new ones.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
UNMATCHED_ROUTE = "<unmatched>"  # 404s and 405s: no url rule matched the path
ROUTE_KEY = "flotilla.metrics.route"  # in the WSGI environ: a name set by label_route()
GAUGES_KEY = "flotilla.metrics.gauges"  # in app.extensions: the gauges read at scrape time
WORKER_PORT = 8000  # Prometheus scrapes every container of a service, workers too, on it
Reading = Callable[[], Mapping[str, float]]


@dataclass(frozen=True)
class HttpMetrics:
    """The request metrics of one process."""

    requests: Counter
    duration: Histogram
    in_flight: Gauge


def add_gauges(
    app: Flask, name: str, documentation: str, read: Reading, *, label: str | None = None
) -> None:
    """Serve read()'s numbers, read at every scrape of the worker, as the gauges `<name>_<key>`
    or, with a label, as the gauge `name` with each key as that label's value."""
    app.extensions.setdefault(GAUGES_KEY, {})[name] = (documentation, read, label)


@cache
def http_metrics() -> HttpMetrics:
    """Create the metrics once per process, at the first app (so never in gunicorn's master)."""
    from prometheus_client import Counter, Gauge, Histogram

    return HttpMetrics(
        requests=Counter(
            "http_requests_total",
            "HTTP requests answered, by method, route (the URL rule) and status.",
            ["method", "route", "status"],
        ),
        duration=Histogram(
            "http_request_duration_seconds",
            "Time from the request reaching the app to its answer being ready, by route.",
            ["method", "route"],
        ),
        in_flight=Gauge(
            "http_requests_in_flight",
            "Requests being handled now, over every worker.",
            multiprocess_mode="livesum",
        ),
    )


@cache
def circuit_open() -> Gauge:
    """1 while a circuit breaker is open or half-open, by circuit (flotilla.breaker)."""
    from prometheus_client import Gauge

    return Gauge(
        "circuit_open",
        "1 while the circuit breaker is open or half-open, 0 while closed, by circuit.",
        ["circuit"],
        multiprocess_mode="livemax",
    )


def serve_worker_metrics(app: Flask, port: int = WORKER_PORT) -> tuple[WSGIServer, Thread]:
    """Serve, from a thread, the worker process' metrics and the app's gauges (add_gauges).

    Only the worker serves the gauges: one reading per service, not one per web replica.
    """
    from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    registry.register(REGISTRY)
    registry.register(_GaugeReader(app))
    return start_http_server(port, registry=registry)


class _GaugeReader:
    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from prometheus_client.core import GaugeMetricFamily

        gauges = self.app.extensions.get(GAUGES_KEY, {})
        with self.app.app_context():
            for name, (documentation, read, label) in gauges.items():
                try:
                    values = read()
                except Exception as error:  # one source away must not fail the scrape
                    log.warning("gauge unavailable", extra={"gauge": name, "error": repr(error)})
                    continue
                if label is None:
                    for key, value in values.items():
                        yield GaugeMetricFamily(f"{name}_{key}", documentation, value=value)
                    continue
                family = GaugeMetricFamily(name, documentation, labels=[label])
                for label_value, value in values.items():
                    family.add_metric([label_value], value)
                yield family


def prepare_multiprocess_dir() -> str:
    """Empty the metric files' directory ($PROMETHEUS_MULTIPROC_DIR or ours) and point
    prometheus_client at it (gunicorn's master).

    Run before any worker forks: files left by a previous run would add their counts to
    this one's.
    """
    path = os.environ.get(MULTIPROC_ENV) or DEFAULT_MULTIPROC_DIR
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, mode=0o700)
    os.environ[MULTIPROC_ENV] = path
    return path


def worker_exited(pid: int) -> None:
    """Drop a dead worker's live gauges; its counters and histograms keep counting."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def register_metrics(app: Flask) -> None:
    """Count and time every request the app answers; expose the metrics at /metrics."""
    app.wsgi_app = MeteredApp(app.wsgi_app, http_metrics())  # type: ignore[method-assign]
    app.add_url_rule("/metrics", "metrics", _expose, methods=["GET"])


class MeteredApp:
    """WSGI middleware around the Flask app: it reads the WSGI environ, not Flask's context
    proxies, so it costs a few microseconds a request (docs/metrics.md)."""

    def __init__(self, app: WSGIApplication, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self.counters = _children(metrics.requests)
        self.timers = _children(metrics.duration)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Serve the request, then count it under its route and status."""
        started = time.perf_counter()
        status, route = "500", UNMATCHED_ROUTE  # what is counted when the app raises

        def start(line: str, headers: Any, exc_info: Any = None) -> Any:
            nonlocal status, route
            status = line[:3]
            # Flask's Request, until Flask drops it at the end of the request: url_rule is
            # None when no rule matched the path.
            rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
            if ROUTE_KEY in environ:
                route = environ[ROUTE_KEY]
            elif rule is not None:
                route = rule.rule
            return start_response(line, headers, exc_info)

        self.metrics.in_flight.inc()
        try:
            return self.app(environ, start)
        finally:
            self.metrics.in_flight.dec()
            method = environ.get("REQUEST_METHOD", "")
            method = method if method in METHODS else OTHER_METHOD
            self.timers(method, route).observe(time.perf_counter() - started)
            self.counters(method, route, status).inc()


def label_route(name: str) -> None:
    """Count the current request under name instead of its URL rule (one of a few names:
    the gateway names its routing table's entry, not its catch-all rule)."""
    request.environ[ROUTE_KEY] = name


def _expose() -> Response:
    """Every metric in Prometheus' text format, summed over the workers."""
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        REGISTRY,
        CollectorRegistry,
        generate_latest,
        multiprocess,
    )

    registry = REGISTRY
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def _children(metric: Any) -> Callable[..., Any]:
    """Return metric.labels(*values), remembered: labels() takes a lock on every call."""
    children: dict[tuple[str, ...], Any] = {}

    def child(*values: str) -> Any:
        found = children.get(values)
        if found is None:
            found = children.setdefault(values, metric.labels(*values))
        return found

    return child
