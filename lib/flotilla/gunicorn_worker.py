"""gunicorn's threaded worker, answering the requests gunicorn itself refuses in API.md's JSON."""

import json
import threading
import uuid
from http import HTTPStatus
from typing import Any

from gunicorn import util
from gunicorn.glogging import Logger
from gunicorn.http import errors
from gunicorn.workers.gthread import ThreadWorker

from flotilla.errors import HTTP_CODES, error_body
from flotilla.logs import REQUEST_ID_HEADER

# gunicorn refuses these before the app sees a byte: most specific first, as in gunicorn's
# own handle_error. What is no ParseException (or a bad header our app sent) is a bug: 500.
REFUSALS: list[tuple[type[Exception], int, str, str]] = [
    (errors.InvalidResponseHeader, 500, "internal_error", "Internal server error"),
    (errors.InvalidResponseHeaderName, 500, "internal_error", "Internal server error"),
    (errors.LimitRequestLine, 414, "uri_too_long", "Request line too long"),
    (errors.LimitRequestHeaders, 431, "request_header_fields_too_large", "Headers too large"),
    (errors.UnsupportedTransferCoding, 501, "not_implemented", "Transfer coding not supported"),
    (errors.ExpectationFailed, 417, "expectation_failed", "Expectation not supported"),
    (errors.ForbiddenProxyRequest, 403, "forbidden", "Request forbidden"),
    (errors.ConfigurationProblem, 500, "internal_error", "Internal server error"),
    (errors.ParseException, 400, "bad_request", "Malformed request"),
]


def refusal(error: Exception) -> tuple[int, str, str]:
    """Return the status, API.md code and message that answer error."""
    for kind, status, code, message in REFUSALS:
        if isinstance(error, kind):
            return status, code, message
    return 500, HTTP_CODES[500], "Internal server error"


def json_error_bytes(status: int, code: str, message: str) -> bytes:
    """Return a whole HTTP/1.1 response carrying API.md's error document."""
    request_id = uuid.uuid4().hex
    body = json.dumps(error_body(code, message, request_id=request_id)).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"{REQUEST_ID_HEADER}: {request_id}\r\n\r\n"
    )
    return head.encode("ascii") + body


class JsonErrorWorker(ThreadWorker):
    """gunicorn's gthread worker whose own error answers are JSON, not HTML pages, and whose
    graceful stop waits GUNICORN_SHUTDOWN_DELAY seconds (flotilla.gunicorn_conf) first."""

    draining = False

    def handle_exit(self, sig: int, frame: Any) -> None:
        """On SIGTERM: serve new connections for the shutdown delay, each answer closing its
        connection so that clients open the next one elsewhere; then stop gracefully."""
        from flotilla.gunicorn_conf import shutdown_delay  # loaded by gunicorn already

        if self.draining or not shutdown_delay:
            super().handle_exit(sig, frame)
            return
        self.draining = True
        self.log.info("draining before the graceful stop", extra={"seconds": shutdown_delay})
        # gthread answers with "Connection: close" while keepalive is 0.
        self.cfg.set("keepalive", 0)
        stop = threading.Timer(shutdown_delay, super().handle_exit, (sig, frame))
        stop.daemon = True
        stop.start()

    def handle_error(self, req: Any, client: Any, addr: Any, exc: Exception) -> None:
        """Log the error and answer it in API.md's JSON shape."""
        status, code, message = refusal(exc)
        if status >= 500:
            self.log.exception("error handling request")
        else:
            self.log.warning("invalid request refused", extra={"error": str(exc)})
        try:
            util.write_nonblock(client, json_error_bytes(status, code, message))
        except Exception:  # the client may be gone already
            self.log.debug("failed to send the error answer")


class AppAccessLogger(Logger):
    """gunicorn's logger without its access lines: NGINX writes one per request, and each app
    its own, in JSON with the request id, when ACCESS_LOG is on. gunicorn builds an access
    line whenever logging is configured by dict, even one its logger's level then drops (3 %
    of the gateway's CPU per request)."""

    access_log_enabled = False

    def access(self, resp: Any, req: Any, environ: dict, request_time: Any) -> None:
        """Log nothing."""
