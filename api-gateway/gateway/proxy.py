"""Forwarding a request to its upstream service and streaming the answer back."""

import logging
import posixpath
from urllib.parse import quote

import requests
from flask import Response, g, request, stream_with_context

from flotilla.errors import ApiError
from flotilla.logs import REQUEST_ID_HEADER
from gateway.breaker import CircuitBreaker

log = logging.getLogger(__name__)

# RFC 9110 section 7.6.1: these describe one connection and are never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Set again by the gateway or by the HTTP stack for the new hop.
REQUEST_DROPPED = HOP_BY_HOP | {"host", "content-length", REQUEST_ID_HEADER.lower()}
RESPONSE_DROPPED = HOP_BY_HOP | {"date", "server", REQUEST_ID_HEADER.lower()}
PATH_SAFE = "/:@!$&'()*+,;=-._~"
CHUNK_BYTES = 64 * 1024


def clean_path(path: str) -> str:
    """Return the path to forward; 404 for dot segments that could escape the route."""
    # An HTTP client normalises "/api/auth/../../internal" before sending; refuse it here
    # so that a public prefix can never reach an internal path.
    if posixpath.normpath(path) != path.rstrip("/") and path != "/":
        raise ApiError(404, "not_found", "Not found")
    return quote(path, safe=PATH_SAFE)


def _request_headers() -> dict[str, str]:
    connection_tokens = {
        token.strip().lower() for token in request.headers.get("Connection", "").split(",")
    }
    headers = {
        name: value
        for name, value in request.headers.items()
        if name.lower() not in REQUEST_DROPPED and name.lower() not in connection_tokens
    }
    headers[REQUEST_ID_HEADER] = g.request_id
    return headers


def _response_headers(upstream: requests.Response) -> list[tuple[str, str]]:
    return [
        (name, value)
        for name, value in upstream.raw.headers.items()
        if name.lower() not in RESPONSE_DROPPED
    ]


IDEMPOTENT = frozenset({"GET", "HEAD"})


def forward(
    session: requests.Session,
    base_url: str,
    *,
    name: str,
    timeout: tuple[float, float],
    breaker: CircuitBreaker,
) -> Response:
    """Send the current request to base_url and stream the upstream's response back."""
    url = base_url + clean_path(request.path)
    body = request.get_data() or None  # bounded by MAX_CONTENT_LENGTH (1 MiB)
    # A GET or HEAD that failed to connect is sent once more; anything else may have
    # reached the service already and is never repeated.
    attempts = 2 if request.method in IDEMPOTENT else 1
    for attempt in range(1, attempts + 1):
        if not breaker.allow():
            raise ApiError(503, "service_unavailable", f"{name} is unavailable (circuit open)")
        try:
            upstream = session.request(
                request.method,
                url,
                params=request.query_string or None,
                data=body,
                headers=_request_headers(),
                timeout=timeout,
                stream=True,
                allow_redirects=False,
            )
        except requests.ReadTimeout:
            _failed(breaker, name)
            log.warning("upstream timed out", extra={"upstream": name})
            raise ApiError(504, "gateway_timeout", f"{name} did not answer in time") from None
        except requests.ConnectionError as error:  # ConnectTimeout included
            _failed(breaker, name)
            if attempt < attempts:
                log.info("retrying upstream", extra={"upstream": name, "error": str(error)})
                continue
            raise _unavailable(name, "is not reachable") from None
        breaker.succeeded()
        break
    chunks = stream_with_context(upstream.raw.stream(CHUNK_BYTES, decode_content=False))
    response = Response(chunks, status=upstream.status_code, headers=_response_headers(upstream))
    response.call_on_close(upstream.close)
    return response


def _failed(breaker: CircuitBreaker, name: str) -> None:
    if breaker.failed():
        log.warning("circuit opened", extra={"upstream": name})


def _unavailable(name: str, why: str) -> ApiError:
    log.warning("upstream unavailable", extra={"upstream": name, "reason": why})
    return ApiError(503, "service_unavailable", f"{name} {why}")
