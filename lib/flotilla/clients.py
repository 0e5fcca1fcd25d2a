"""Calling another Flotilla service: pooled, with timeouts, request ids and API.md's errors."""

import logging
import os
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import requests
from flask import g, has_request_context
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError
from urllib3.util import parse_url

from flotilla.errors import ApiError
from flotilla.logs import REQUEST_ID_HEADER

log = logging.getLogger(__name__)

DEFAULT_RESOLVE_TIMEOUT = 2.0
# A pooled connection whose last request went out longer ago is closed instead of reused.
# gunicorn closes idle keep-alive connections after 75 s (flotilla.gunicorn_conf): a request
# sent on one just as the service closes it fails, and a POST that failed that way cannot
# be sent again.
POOL_IDLE_SECONDS = 30.0
_resolver: ThreadPoolExecutor | None = None
_resolver_pid: int | None = None
_lookups: dict[tuple[str, int], Future] = {}  # under way, by (host, port)
_resolver_lock = threading.Lock()


def resolves(host: str, port: int, timeout: float) -> bool:
    """Return whether host resolves within timeout.

    A socket's connect timeout does not cover the name lookup before it. On an internal
    network the name of a stopped container fails only when the resolver gives up (10 s by
    default, 2 s with docker-compose.yml's RES_OPTIONS), so a dead dependency would stall
    every caller; this bounds the wait (the lookup thread finishes on its own).
    Callers asking for a name whose lookup is under way wait for that one: lookups that
    hang take at most one thread per name, never all of them, so the names of live
    services still resolve.
    """
    try:
        _lookup(host, port).result(timeout=timeout)
    except (FutureTimeout, OSError):
        return False
    return True


def addresses(host: str, timeout: float) -> frozenset[str] | None:
    """Return the addresses host resolves to, or None when it does not within timeout.

    Bounded and shared as in resolves(). A name that is gone and a lookup that failed look
    alike: on an internal network Docker answers both with a temporary failure.
    """
    try:
        found = _lookup(host, 0).result(timeout=timeout)
    except (FutureTimeout, OSError):
        return None
    return frozenset(str(info[4][0]) for info in found)


def _lookup(host: str, port: int) -> Future:
    """Return the lookup of (host, port) under way, starting one when there is none."""
    global _resolver, _resolver_pid
    with _resolver_lock:
        if _resolver is None or _resolver_pid != os.getpid():  # threads do not survive fork()
            _resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="resolve")
            _resolver_pid = os.getpid()
            _lookups.clear()
        key = (host, port)
        future = _lookups.get(key)
        if future is not None:
            return future
        future = _resolver.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
        _lookups[key] = future
    # Outside the lock: a lookup done already runs the callback right here.
    future.add_done_callback(lambda done: _forget(key, done))
    return future


def _forget(key: tuple[str, int], future: Future) -> None:
    with _resolver_lock:
        if _lookups.get(key) is future:
            del _lookups[key]


class UpstreamError(ApiError):
    """A call to another service that failed; `sent` says whether it may have been processed.

    sent=False: the connection was never made, so the other service did nothing.
    sent=True: the outcome is unknown (timed out, cut off, or a server error) and a caller
    that changed state there must undo it with an idempotent call.
    """

    def __init__(self, status: int, code: str, message: str, *, sent: bool) -> None:
        super().__init__(status, code, message)
        self.sent = sent


# urllib3 has no setting for either: a bounded name lookup, an idle limit on pooled connections.
class _Connection(HTTPConnection):
    """An HTTP connection that resolves within its connect timeout and outstays no keep-alive."""

    sent_at: float | None = None  # when it last sent a request

    def connect(self) -> None:
        """Connect, failing within the connect timeout when the name does not resolve."""
        timeout = self.timeout if isinstance(self.timeout, int | float) else None
        timeout = timeout or DEFAULT_RESOLVE_TIMEOUT
        if not resolves(self.host, self.port, timeout):
            raise NewConnectionError(self, f"Cannot resolve {self.host} within {timeout} s")
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        """Send a request, on a new connection when this one has been idle too long."""
        now = time.monotonic()
        if self.sent_at is not None and now - self.sent_at > POOL_IDLE_SECONDS:
            # Before the service closes it; a closed connection connects again to send.
            self.close()
        self.sent_at = now
        super().request(*args, **kwargs)


class _Pool(HTTPConnectionPool):
    """A pool of _Connection."""

    ConnectionCls = _Connection


class _PoolAdapter(HTTPAdapter):
    """A requests adapter whose plain-HTTP connections come from _Pool."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Create the pool manager, with _Pool for http."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            **self.poolmanager.pool_classes_by_scheme,
            "http": _Pool,
        }


def connection_pool(base_url: str, pool_size: int) -> HTTPConnectionPool:
    """Return urllib3's pool of keep-alive connections to one service, for callers that
    need its raw answers (the gateway): no session machinery per request."""
    url = parse_url(base_url)
    pool_class = _Pool if url.scheme == "http" else HTTPSConnectionPool
    return pool_class(url.host, url.port, maxsize=pool_size)


def pooled_session(pool_size: int) -> requests.Session:
    """Return a session for one service: keep-alive connections that never outstay the
    service's keep-alive, bounded name lookups, no proxies from the environment."""
    session = requests.Session()
    session.mount("http://", _PoolAdapter(pool_connections=1, pool_maxsize=pool_size))
    session.mount("https://", HTTPAdapter(pool_connections=1, pool_maxsize=pool_size))
    session.trust_env = False
    return session


class ServiceClient:
    """A keep-alive HTTP client for one upstream service, one session per worker process.

    Transport failures become ApiError: 503 when the service cannot be reached, 504 when
    it does not answer in time, 502 when it answers with a server error or not with JSON.
    Client errors (4xx) are returned for the caller to interpret. Nothing is retried: the
    calls this client makes change state, and a retried POST may run twice.
    """

    def __init__(
        self,
        base_url: str,
        *,
        name: str,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        headers: dict[str, str] | None = None,
        pool_size: int = 16,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.timeout = (connect_timeout, read_timeout)
        self.headers = dict(headers or {})
        self.pool_size = pool_size
        self._session: requests.Session | None = None
        self._session_pid: int | None = None
        self._lock = threading.Lock()

    def _get_session(self) -> requests.Session:
        # Sockets inherited across gunicorn's fork() are shared with the parent: start anew.
        if self._session is None or self._session_pid != os.getpid():
            with self._lock:
                if self._session is None or self._session_pid != os.getpid():
                    self._session = pooled_session(self.pool_size)
                    self._session_pid = os.getpid()
        return self._session

    def request(
        self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> requests.Response:
        """Send a request (with extra headers, if any); return the response unless it failed
        as described above."""
        headers = {**self.headers, **(headers or {})}
        if has_request_context() and g.get("request_id"):
            headers[REQUEST_ID_HEADER] = g.request_id
        try:
            response = self._get_session().request(
                method,
                self.base_url + path,
                json=json,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.ConnectTimeout:
            raise self._failure(
                503, "service_unavailable", "is not reachable", sent=False
            ) from None
        except requests.ReadTimeout:
            raise self._failure(504, "gateway_timeout", "did not answer in time") from None
        except requests.ConnectionError as error:
            raise self._failure(
                503, "service_unavailable", "is not reachable", sent=_was_sent(error)
            ) from None
        except requests.RequestException as error:
            raise self._failure(502, "bad_gateway", f"failed: {type(error).__name__}") from None
        if response.status_code == 503:
            raise self._failure(503, "service_unavailable", "is unavailable")
        if response.status_code >= 500:
            raise self._failure(502, "bad_gateway", f"answered {response.status_code}")
        is_json = response.headers.get("Content-Type", "").startswith("application/json")
        if not is_json and response.status_code != 204:
            raise self._failure(502, "bad_gateway", "did not answer with JSON")
        return response

    def _failure(self, status: int, code: str, why: str, *, sent: bool = True) -> UpstreamError:
        log.warning(
            "upstream call failed", extra={"upstream": self.name, "status": status, "sent": sent}
        )
        return UpstreamError(status, code, f"{self.name} {why}", sent=sent)

    def close(self) -> None:
        """Close the pooled connections of this process."""
        if self._session is not None and self._session_pid == os.getpid():
            self._session.close()
        self._session = None


def _was_sent(error: requests.ConnectionError) -> bool:
    """Return False only when no connection was ever made (refused, or no such host)."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return not isinstance(reason, NewConnectionError)


def error_of(response: requests.Response) -> dict:
    """Return the `error` object of an upstream's JSON error response ({} when absent)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}
