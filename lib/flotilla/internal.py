"""The service-to-service credential: who may call another service's /internal endpoints."""

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, current_app, request

from flotilla.errors import ApiError

SERVICE_TOKEN_HEADER = "X-Service-Token"


def init_app(app: Flask, token: str) -> None:
    """Set the credential this app's /internal endpoints ask of their callers."""
    app.extensions["flotilla.internal_token"] = token


def service_headers(token: str) -> dict[str, str]:
    """Return the header a caller presents to another service's /internal endpoints."""
    return {SERVICE_TOKEN_HEADER: token}


def require_service(view: Callable) -> Callable:
    """Let only callers presenting the shared service credential in."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        expected = current_app.extensions["flotilla.internal_token"].encode()
        given = request.headers.get(SERVICE_TOKEN_HEADER, "").encode()
        if not expected or not hmac.compare_digest(given, expected):
            raise ApiError(401, "unauthorized", "Service credential missing or wrong")
        return view(*args, **kwargs)

    return wrapper
