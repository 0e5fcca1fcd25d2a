"""The public API, through the gateway: the storefront's only way to the services."""

import contextlib
import time
from typing import Any

from flask import Flask, current_app, session

from flotilla.clients import ServiceClient, error_of
from flotilla.errors import ApiError
from storefront import sessions
from storefront.config import Config

# Refreshed this long before it expires, so a page never sends an expired token.
REFRESH_MARGIN_SECONDS = 60
# How long a request waits for another of the same session that is refreshing its tokens.
REFRESH_WAIT_SECONDS = 10


def init_app(app: Flask, config: Config) -> None:
    """Give the app its client of the gateway."""
    client = ServiceClient(config.api_url, name="The shop", read_timeout=config.api_timeout)
    app.extensions["storefront.api"] = client


def call(
    method: str,
    path: str,
    *,
    json: Any = None,
    auth: bool = False,
    headers: dict[str, str] | None = None,
) -> Any:
    """Call the API; return the JSON answer, or raise ApiError with the API's code and message.

    With auth, the session's access token goes along, refreshed when it is about to expire.
    """
    extra = {"X-Forwarded-For": sessions.client_address(), **(headers or {})}
    if auth:
        extra["Authorization"] = f"Bearer {access_token()}"
    response = current_app.extensions["storefront.api"].request(
        method, path, json=json, headers=extra
    )
    if response.status_code == 401 and auth:
        # The gateway refused it before forwarding anything: ending the session is safe.
        raise session_ended()
    if response.status_code >= 400:
        error = error_of(response)
        retry_after = response.headers.get("Retry-After")
        raise ApiError(
            response.status_code,
            error.get("code", "error"),
            error.get("message", "The shop could not do that."),
            fields=error.get("fields"),
            headers={"Retry-After": retry_after} if retry_after else {},
        )
    return response.json() if response.status_code != 204 else None


def log_in(email: str, password: str) -> None:
    """Log in through the API and keep the tokens in the (server-side) session."""
    tokens = call("POST", "/api/auth/login", json={"email": email, "password": password})
    session.renew()  # type: ignore[attr-defined]
    keep_tokens(tokens)
    session["user"] = call("GET", "/api/users/me", auth=True)


def log_out() -> None:
    """End the API session (its refresh token) and forget everything about this one."""
    refresh = session.get("refresh_token")
    if refresh:
        # The session ends here anyway; a refresh token not revoked expires on its own.
        with contextlib.suppress(ApiError):
            call("POST", "/api/auth/logout", json={"refresh_token": refresh})
    session.clear()
    session.renew()  # type: ignore[attr-defined]


def keep_tokens(tokens: dict) -> None:
    """Store a token pair in the session."""
    session["access_token"] = tokens["access_token"]
    session["refresh_token"] = tokens["refresh_token"]
    session["expires_at"] = time.time() + int(tokens.get("expires_in", 900))


def session_ended() -> ApiError:
    """Log the session out locally (the API refused its tokens); return the error to raise."""
    for key in ("access_token", "refresh_token", "expires_at", "user"):
        session.pop(key, None)
    return ApiError(401, "unauthorized", "Your session has ended: please log in again.")


def access_token() -> str:
    """Return a usable access token, refreshing the pair when it is about to expire."""
    if "access_token" not in session:
        raise ApiError(401, "unauthorized", "Please log in first.")
    if session.get("expires_at", 0) - time.time() < REFRESH_MARGIN_SECONDS:
        refresh_tokens()
    return session["access_token"]


def refresh_tokens() -> None:
    """Rotate the session's refresh token, once for all of its requests at the same time.

    user-service takes a refresh token presented twice for a stolen one and ends its whole
    chain; two pages of one shopper refreshing together would log the shopper out. The
    session's lock lets one request rotate; the others wait and take the pair it stored.
    """
    store = sessions.interface()
    sid = session.sid  # type: ignore[attr-defined]
    if sid is None:  # not stored yet: no other request can hold it
        rotate()
        return
    with store.lock(sid, timeout=REFRESH_WAIT_SECONDS) as locked:
        stored = store.read(sid) or {}
        if stored.get("refresh_token") not in (None, session["refresh_token"]):
            keep_tokens_of(stored)  # another request rotated it meanwhile
            return
        if not locked:
            raise ApiError(503, "service_unavailable", "The shop is busy: please try again.")
        rotate()
        store.write_now(session)  # type: ignore[arg-type]


def rotate() -> None:
    """Exchange the session's refresh token for a new pair; log out locally when refused."""
    try:
        refresh = {"refresh_token": session["refresh_token"]}
        keep_tokens(call("POST", "/api/auth/refresh", json=refresh))
    except ApiError as error:
        if error.status in (400, 401, 422):
            raise session_ended() from None
        raise


def keep_tokens_of(stored: dict) -> None:
    """Take the token pair another request of this session stored."""
    for key in ("access_token", "refresh_token", "expires_at"):
        session[key] = stored[key]
