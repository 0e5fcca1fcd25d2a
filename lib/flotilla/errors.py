"""The one JSON error shape of API.md, produced here for every error path."""

import logging
from typing import Any, TypeVar

from flask import Flask, Response, g, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)
T = TypeVar("T")

# Werkzeug's own exceptions (routing, body size, ...) mapped to API.md's codes.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


class ApiError(Exception):
    """An error that becomes API.md's JSON error response."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = headers or {}


def found(row: T | None, what: str) -> T:
    """Return row, or raise API.md's 404 saying what was not found."""
    if row is None:
        raise ApiError(404, "not_found", f"{what} not found")
    return row


def error_body(code: str, message: str, *, request_id: str | None = None, **extra: Any) -> dict:
    """Return API.md's error document."""
    error = {"code": code, "message": message, "request_id": request_id or g.get("request_id")}
    error.update({key: value for key, value in extra.items() if value is not None})
    return {"error": error}


def error_response(error: ApiError) -> Response:
    """Return the error as a JSON response in API.md's shape."""
    response = jsonify(error_body(error.code, error.message, fields=error.fields))
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def _handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    if status < 400:  # routing redirects are answers, not errors
        return error.get_response()
    headers = {}
    if status == 405 and error.valid_methods:
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    code = HTTP_CODES.get(status, "bad_request" if status < 500 else "internal_error")
    return error_response(ApiError(status, code, error.description or code, headers=headers))


def _handle_unexpected(error: Exception) -> Response:
    # A bug: log the stack trace, never send it.
    log.exception("unhandled error")
    return error_response(ApiError(500, "internal_error", "Internal server error"))


def register_error_handlers(app: Flask) -> None:
    """Make every error path answer with the JSON error shape."""
    app.register_error_handler(ApiError, error_response)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)
