"""JSON log lines that carry the request id; per request, a line for errors and slow requests
(NGINX writes the access line of every request), or an access line with ACCESS_LOG=1."""

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from flask import Flask, Response, current_app, g, has_request_context, request

from flotilla.config import Env

REQUEST_ID_HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# Attributes every LogRecord has; anything else was passed with extra= and is logged.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# The request id of work done outside a request (an event, a mail) on its behalf.
_BACKGROUND_REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object per line."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line."""
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context() and "request_id" in g:
            line["request_id"] = g.request_id
        elif _BACKGROUND_REQUEST_ID.get():
            line["request_id"] = _BACKGROUND_REQUEST_ID.get()
        line.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every logger's records to stdout as JSON lines."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


@contextmanager
def request_id_scope(request_id: str | None) -> Iterator[None]:
    """Log the lines of the enclosed work, done outside a request, with request_id."""
    token = _BACKGROUND_REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        _BACKGROUND_REQUEST_ID.reset(token)


def incoming_request_id() -> str:
    """Return the client's request id when it is sane, else a new one."""
    candidate = request.headers.get(REQUEST_ID_HEADER, "")
    if SANE_REQUEST_ID.fullmatch(candidate):
        return candidate
    return uuid.uuid4().hex


def register_request_logging(app: Flask, env: Env | None = None) -> None:
    """Give every request an id, echoed back, and log it when it failed, was slow or ACCESS_LOG."""
    env = env or Env()
    app.config.setdefault("ACCESS_LOG", env.flag("ACCESS_LOG", False))
    app.config.setdefault("SLOW_REQUEST_MS", env.integer("SLOW_REQUEST_MS", 500))
    access = logging.getLogger("flotilla.access")

    @app.before_request
    def _start() -> None:
        g.request_id = incoming_request_id()
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id") or incoming_request_id()
        response.headers[REQUEST_ID_HEADER] = request_id
        if request.path not in {"/livez", "/readyz"}:
            _log_request(access, response)
        return response


def _log_request(access: logging.Logger, response: Response) -> None:
    """Log the request's line, when its outcome or the ACCESS_LOG setting calls for one."""
    duration_ms = round((time.perf_counter() - g.get("started", 0)) * 1000, 1)
    if response.status_code >= 500:
        level, message = logging.WARNING, "request failed"
    elif duration_ms > current_app.config["SLOW_REQUEST_MS"]:
        level, message = logging.WARNING, "slow request"
    elif current_app.config["ACCESS_LOG"]:
        level, message = logging.INFO, "request"
    else:
        return
    fields = {
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "duration_ms": duration_ms,
    }
    access.log(level, message, extra=fields)
