"""Forwarding a request to its upstream service and streaming the answer back.

urllib3 directly, not requests: a session's per-request work (merging settings, cookies,
hooks, its own Response) cost the gateway 0.16 ms of CPU per request (docs/performance.md).
"""

import logging
import posixpath
from collections.abc import Iterable, Iterator
from urllib.parse import quote

from flask import Response, g, request, stream_with_context
from urllib3 import BaseHTTPResponse, HTTPConnectionPool, Timeout
from urllib3.exceptions import ConnectTimeoutError, HTTPError, ProtocolError, ReadTimeoutError

from flotilla.breaker import CircuitBreaker, CircuitOpen
from flotilla.errors import ApiError
from flotilla.logs import REQUEST_ID_HEADER

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


def _end_to_end(
    headers: Iterable[tuple[str, str]], dropped: frozenset[str]
) -> list[tuple[str, str]]:
    """Return the headers to forward: neither dropped nor named in a Connection header."""
    headers = list(headers)
    dropped = dropped | {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
    }
    return [(name, value) for name, value in headers if name.lower() not in dropped]


def _request_headers() -> dict[str, str]:
    headers = dict(_end_to_end(request.headers.items(), REQUEST_DROPPED))
    headers[REQUEST_ID_HEADER] = g.request_id
    return headers


def _response_headers(upstream: BaseHTTPResponse) -> list[tuple[str, str]]:
    return _end_to_end(upstream.headers.items(), RESPONSE_DROPPED)


IDEMPOTENT = frozenset({"GET", "HEAD"})
# No connection, or one that broke before an answer: a GET or HEAD is sent once more.
UNREACHABLE = (ConnectTimeoutError, ProtocolError)  # NewConnectionError is a ConnectTimeoutError
# Every failure of the HTTP client once the request is on its way.
TRANSPORT_ERRORS = (HTTPError, OSError)


def forward(
    pool: HTTPConnectionPool,
    *,
    name: str,
    timeout: Timeout,
    breaker: CircuitBreaker,
) -> Response:
    """Send the current request through pool and stream the upstream's response back."""
    target = _target()
    body = request.get_data() or None  # bounded by MAX_CONTENT_LENGTH (1 MiB)
    headers = _request_headers()
    # A GET or HEAD that failed to connect is sent once more; anything else may have
    # reached the service already and is never repeated.
    attempts = 2 if request.method in IDEMPOTENT else 1
    for attempt in range(1, attempts + 1):
        try:
            upstream = _send(
                pool, target, body, headers, name=name, timeout=timeout, breaker=breaker
            )
            break
        except UNREACHABLE as error:
            if attempt == attempts:
                raise _unavailable(name, "is not reachable") from None
            log.info("retrying upstream", extra={"upstream": name, "error": str(error)})
    chunks = upstream.stream(CHUNK_BYTES, decode_content=False)  # as sent: still compressed
    head, complete = _head(upstream, chunks, name=name, breaker=breaker)
    headers = _response_headers(upstream)
    if complete:  # most answers: whole already, and their connection back in the pool
        # A list, not bytes: the upstream's own headers (Content-Length of a HEAD) stand.
        return Response([head], status=upstream.status, headers=headers)
    response = Response(
        stream_with_context(_relay(head, chunks, name)), status=upstream.status, headers=headers
    )
    response.call_on_close(upstream.close)
    return response


def _target() -> str:
    """Return the request target to send upstream; 400 when it cannot be forwarded."""
    target = clean_path(request.path)
    if not request.query_string:
        return target
    try:
        # A URI is ASCII (RFC 3986); the query is forwarded exactly as it was sent.
        return target + "?" + request.query_string.decode("ascii")
    except UnicodeError:
        raise ApiError(400, "bad_request", "The request cannot be forwarded") from None


def _send(
    pool: HTTPConnectionPool,
    target: str,
    body: bytes | None,
    headers: dict[str, str],
    *,
    name: str,
    timeout: Timeout,
    breaker: CircuitBreaker,
) -> BaseHTTPResponse:
    """Send once through the breaker; raise ApiError, or an UNREACHABLE error for a retry."""
    try:
        with breaker.call(TRANSPORT_ERRORS):
            return pool.urlopen(
                request.method,
                target,
                body=body,
                headers=headers,
                retries=False,
                redirect=False,
                timeout=timeout,
                preload_content=False,
                decode_content=False,
            )
    except CircuitOpen:
        message = f"{name} is unavailable (circuit open)"
        raise ApiError(503, "service_unavailable", message) from None
    except ReadTimeoutError:
        raise _timed_out(name) from None
    except UNREACHABLE:
        raise
    except TRANSPORT_ERRORS as error:
        raise _invalid_answer(name, error) from None


def _head(
    upstream: BaseHTTPResponse, body: Iterator[bytes], *, name: str, breaker: CircuitBreaker
) -> tuple[bytes, bool]:
    """Read the body's first CHUNK_BYTES (most answers whole) while a failure can still be
    answered with a JSON error; return them and whether that was the whole body."""
    head = b""
    try:
        while len(head) < CHUNK_BYTES:
            chunk = next(body, None)
            if chunk is None:
                return head, True
            head += chunk
    except TRANSPORT_ERRORS as error:
        upstream.close()
        breaker.failed()
        if isinstance(error, ReadTimeoutError):
            raise _timed_out(name) from None
        raise _invalid_answer(name, error) from None
    return head, False


def _relay(head: bytes, rest: Iterator[bytes], name: str) -> Iterator[bytes]:
    """Yield the body's head, then the rest as it arrives."""
    if head:
        yield head
    try:
        yield from rest
    except TRANSPORT_ERRORS as error:
        # The status line is gone already: the server can only cut the connection, which
        # it does on this exception, so the client never takes a part for the whole.
        log.warning("upstream answer cut off", extra={"upstream": name, "error": repr(error)})
        raise


def _timed_out(name: str) -> ApiError:
    log.warning("upstream timed out", extra={"upstream": name})
    return ApiError(504, "gateway_timeout", f"{name} did not answer in time")


def _invalid_answer(name: str, error: Exception) -> ApiError:
    log.warning("upstream answer unusable", extra={"upstream": name, "error": repr(error)})
    return ApiError(502, "bad_gateway", f"{name} sent an invalid answer")


def _unavailable(name: str, why: str) -> ApiError:
    log.warning("upstream unavailable", extra={"upstream": name, "reason": why})
    return ApiError(503, "service_unavailable", f"{name} {why}")
