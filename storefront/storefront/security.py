"""What keeps the shop's pages safe in a browser: CSRF tokens, strict headers, and errors
shown as pages a person can read, never a stack trace."""

import hmac
import logging
import secrets

from flask import Flask, Response, flash, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from flotilla.errors import ApiError

log = logging.getLogger(__name__)

# No script at all, no inline style, no framing, forms post only here.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ShopError(Exception):
    """An error whose message is written for shoppers: shown as it is."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


FRIENDLY = {
    400: "That request did not look right. Please go back and try again.",
    401: "Please log in first.",
    403: "That is not yours to see.",
    404: "We could not find that page.",
    405: "That is not something this page does.",
    409: "That could not be done right now.",
    413: "That was too much to send at once.",
    422: "Some of what you entered is not valid.",
    429: "Too many requests right now. Please wait a moment and try again.",
    500: "Something went wrong on our side. Please try again.",
    502: "Part of the shop is not answering right now. Please try again in a moment.",
    503: "Part of the shop is not available right now. Please try again in a moment.",
    504: "The shop took too long to answer. Please try again in a moment.",
}


def csrf_token() -> str:
    """Return this session's CSRF token (created on first use); every form carries it."""
    if "csrf_token" not in session:
        session["csrf_token"] = secrets.token_urlsafe(32)
    return session["csrf_token"]


def check_csrf() -> None:
    """Refuse a form post whose token is not this session's (a cross-site request)."""
    # A path or method no route takes is routing's 404 or 405, whatever its form holds.
    if request.method not in UNSAFE_METHODS or request.routing_exception is not None:
        return
    sent = request.form.get("csrf_token", "")
    expected = session.get("csrf_token", "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        log.info("csrf token missing or wrong")
        raise ShopError(
            400, "This form has expired. Please go back, reload the page and try again."
        )


def refuse_without_sessions() -> Response | None:
    """Answer 503 while the session store cannot be read (health checks still answer)."""
    if getattr(session, "unavailable", False) and request.endpoint not in {
        "health.livez",
        "health.readyz",
        "static",
    }:
        return error_page(503, FRIENDLY[503])
    return None


def security_headers(response: Response) -> Response:
    """Add the Content-Security-Policy and keep pages with personal data out of caches."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response


def error_page(status: int, message: str, *, retry_after: str | None = None) -> Response:
    """Return the friendly error page."""
    response = Response(
        render_template("error.html", status=status, message=message), status=status
    )
    if retry_after:
        response.headers["Retry-After"] = retry_after
    return response


def friendly_message(error: ApiError) -> str:
    """Say what an API error means for a shopper."""
    if error.status == 429 and error.headers.get("Retry-After"):
        return f"Too many requests right now. Please try again in {error.headers['Retry-After']} s."
    if error.status in (401, 409, 422) or error.status < 400:
        return error.message
    return FRIENDLY.get(error.status, FRIENDLY[500])


def _api_error(error: ApiError) -> Response:
    if error.status == 401 and request.method == "GET":
        # The API session ended (refresh token expired or revoked): log in, then come back.
        flash(error.message, "info")
        return redirect(url_for("shop.login", next=request.full_path.rstrip("?")))
    return error_page(
        error.status, friendly_message(error), retry_after=error.headers.get("Retry-After")
    )


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if status < 400:
        return error.get_response()
    return error_page(status, FRIENDLY.get(status, FRIENDLY[500]))


def _shop_error(error: ShopError) -> Response:
    return error_page(error.status, error.message)


def _unexpected(error: Exception) -> Response:
    log.exception("unhandled error")
    return error_page(500, FRIENDLY[500])


def init_app(app: Flask) -> None:
    """CSRF checks, headers and friendly HTML errors (replacing the JSON ones)."""
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.before_request(refuse_without_sessions)
    app.before_request(check_csrf)
    app.after_request(security_headers)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(ShopError, _shop_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
