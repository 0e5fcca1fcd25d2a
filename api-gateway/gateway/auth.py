"""The gateway's auth policy: which requests need a valid access token before forwarding."""

from flask import g, request

from flotilla.auth import authenticate
from flotilla.errors import ApiError
from gateway.config import Route

READS = frozenset({"GET", "HEAD"})


def caller_id() -> int | None:
    """Return the user id of a valid token, None without one; remember why a token failed."""
    if "Authorization" not in request.headers:
        return None
    try:
        return authenticate()["id"]
    except ApiError as error:
        # Raised only where the route needs a user (check_auth): public routes ignore it.
        g.auth_error = error
        return None


def needs_user(route: Route, method: str) -> bool:
    """Whether a request with method on route needs a valid access token."""
    return route.auth == "user" or (route.auth == "writes" and method not in READS)


def check_auth(route: Route) -> None:
    """Raise 401 when the current request needs a user and has no valid token."""
    if needs_user(route, request.method) and "user" not in g:
        raise g.get("auth_error") or ApiError(
            401, "unauthorized", "Missing bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
