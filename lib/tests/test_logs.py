"""Request logging: NGINX writes the access line of every request, so an app logs only the
requests that failed or were slow, unless ACCESS_LOG brings back its own access lines."""

import json
import logging
import time

import pytest
from flask import Flask

from flotilla.app import create_base_app
from flotilla.config import Env
from flotilla.logs import JsonFormatter, register_request_logging


def make_app(env: dict[str, str]) -> Flask:
    """A bare app whose request logging reads env; /fast, /slow (20 ms) and /broken."""
    app = Flask(__name__)
    register_request_logging(app, Env(env))

    @app.get("/fast")
    def fast() -> str:
        return "ok"

    @app.get("/slow")
    def slow() -> str:
        time.sleep(0.02)
        return "ok"

    @app.get("/broken")
    def broken() -> tuple[str, int]:
        return "no", 503

    return app


def logged(app: Flask, caplog: pytest.LogCaptureFixture, path: str) -> list[logging.LogRecord]:
    """The flotilla.access records of one request to path (with request id `rid-1`)."""
    caplog.clear()
    with caplog.at_level("INFO", logger="flotilla.access"):
        app.test_client().get(path, headers={"X-Request-ID": "rid-1"})
    return [record for record in caplog.records if record.name == "flotilla.access"]


def test_by_default_only_failed_and_slow_requests_are_logged(caplog):
    app = make_app({"SLOW_REQUEST_MS": "10"})
    assert logged(app, caplog, "/fast") == []
    (failed,) = logged(app, caplog, "/broken")
    assert (failed.levelname, failed.getMessage(), failed.status) == (
        "WARNING",
        "request failed",
        503,
    )
    (slow,) = logged(app, caplog, "/slow")
    assert (slow.levelname, slow.getMessage(), slow.path) == ("WARNING", "slow request", "/slow")
    assert slow.duration_ms >= 20


def test_access_log_on_logs_every_request_once(caplog):
    app = make_app({"ACCESS_LOG": "1"})
    (line,) = logged(app, caplog, "/fast")
    assert (line.levelname, line.getMessage(), line.status) == ("INFO", "request", 200)
    assert [r.getMessage() for r in logged(app, caplog, "/broken")] == ["request failed"]


class Lines(logging.Handler):
    """Keeps each record as the JSON line it makes, formatted while its request runs."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("probe"))
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def test_the_lines_carry_the_request_id():
    app = make_app({"ACCESS_LOG": "true"})
    access, lines = logging.getLogger("flotilla.access"), Lines()
    level = access.level
    access.addHandler(lines)
    access.setLevel(logging.INFO)
    try:
        app.test_client().get("/fast", headers={"X-Request-ID": "rid-1"})
    finally:
        access.removeHandler(lines)
        access.setLevel(level)
    assert [(line["request_id"], line["status"]) for line in lines.lines] == [("rid-1", 200)]


def test_base_apps_read_the_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("ACCESS_LOG", "1")
    monkeypatch.setenv("SLOW_REQUEST_MS", "250")
    app = create_base_app(__name__, service="probe")
    assert (app.config["ACCESS_LOG"], app.config["SLOW_REQUEST_MS"]) == (True, 250)
