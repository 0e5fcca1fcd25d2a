"""Sessions: a visitor's CSRF token and flash messages ride in a signed cookie; a shopper's
tokens and cart stay server side in Redis, and the cookie carries a signed, random id only.

A visitor who has not logged in or filled a cart costs the session store nothing, so a flood
of anonymous page views cannot fill it; a new stored session counts against its client's
bound (SESSIONS_PER_CLIENT an hour)."""

import contextlib
import json
import logging
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import redis
from flask import Flask, Request, Response, current_app, request
from flask.sessions import SessionInterface, SessionMixin
from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer
from werkzeug.datastructures import CallbackDict

from flotilla.redis_client import fail_fast_redis
from storefront.config import Config
from storefront.security import FRIENDLY, ShopError

log = logging.getLogger(__name__)

COOKIE_NAME = "flotilla_session"
VISITOR_COOKIE = "flotilla_visitor"
KEY_PREFIX = "storefront:session:"
NEW_SESSIONS_PREFIX = "storefront:new-sessions:"
LOCK_PREFIX = "storefront:lock:"
NEW_SESSIONS_WINDOW_SECONDS = 3600
# What a visitor's signed cookie may hold: nothing that is a credential or worth stealing.
VISITOR_KEYS = frozenset({"csrf_token", "_flashes"})


def client_address() -> str:
    """Return the browser's address: NGINX's X-Forwarded-For (the gateway's rate limits
    then count each shopper, not the storefront)."""
    forwarded = request.headers.get("X-Forwarded-For", "")
    return forwarded.split(",")[-1].strip() or request.remote_addr or ""


class TooManySessionsError(Exception):
    """The client has started more stored sessions than its bound allows."""


class ServerSession(CallbackDict, SessionMixin):
    """A session: stored in Redis under `sid` once it holds more than a visitor's keys."""

    def __init__(
        self,
        data: dict | None = None,
        sid: str | None = None,
        *,
        admit: Callable[[], None] | None = None,
    ) -> None:
        def changed(_: Any) -> None:
            self.modified = True
            if self.sid is None and self.admit and self.stored:
                # The first key worth storing: count it against the client's bound now,
                # while the page can still answer 429, not after the response is built.
                admit, self.admit = self.admit, None
                try:
                    admit()
                except TooManySessionsError:
                    self.unavailable = True  # nothing of this request is stored
                    raise ShopError(429, FRIENDLY[429]) from None

        super().__init__(data or {}, changed)
        self.sid = sid
        self.admit = admit
        self.modified = False
        self.unavailable = False  # Redis could not be read: the page says so
        self.previous_sids: list[str] = []

    @property
    def stored(self) -> bool:
        """Whether the session holds anything beyond a visitor's keys (kept in Redis)."""
        return any(value for key, value in self.items() if key not in VISITOR_KEYS)

    def renew(self) -> None:
        """New id and CSRF token (at log-in and log-out), so planted ones are worthless."""
        if self.sid:
            self.previous_sids.append(self.sid)
        self.sid = None
        self.pop("csrf_token", None)
        self.modified = True


class RedisSessionInterface(SessionInterface):
    """Keeps each stored session as one JSON value in Redis, expiring after `seconds` idle."""

    def __init__(
        self, url: str, *, secret: str, seconds: int, secure: bool, per_client: int
    ) -> None:
        self.redis = fail_fast_redis(url, timeout=1.0)
        self.signer = Signer(secret, salt="storefront-session")
        self.visitor = URLSafeTimedSerializer(secret, salt="storefront-visitor")
        self.seconds = seconds
        self.secure = secure
        self.per_client = per_client
        # A __Host- cookie cannot be set by a sibling subdomain (needs Secure, so HTTPS only).
        self.visitor_cookie = ("__Host-" if secure else "") + VISITOR_COOKIE

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        """Load the session named by the cookie; else the visitor's cookie, or a new one."""
        sid = self._sid_of(request.cookies.get(COOKIE_NAME, ""))
        if not sid:
            return ServerSession(self._visitor_data(request), admit=self.admit)
        try:
            raw = self.redis.get(KEY_PREFIX + sid)
        except redis.RedisError as error:
            log.warning("session store unavailable", extra={"error": str(error)})
            session = ServerSession(sid=sid)
            session.unavailable = True
            return session
        if raw is None:  # expired or ended: a fresh session, never the old id
            return ServerSession(self._visitor_data(request), admit=self.admit)
        return ServerSession(json.loads(raw), sid=sid)

    def save_session(self, app: Flask, session: ServerSession, response: Response) -> None:  # type: ignore[override]
        """Store a session worth storing (else the visitor cookie) and set its cookie."""
        if session.unavailable:
            return
        try:
            ended = [*session.previous_sids]
            if session.sid and not session.stored:
                ended.append(session.sid)  # emptied (logged out, cart cleared): back to a cookie
                session.sid = None
            if ended:
                self.redis.delete(*(KEY_PREFIX + sid for sid in ended))
            if session.stored:
                self._store(session)
        except redis.RedisError as error:
            log.warning("session not saved", extra={"error": str(error)})
            return
        if ended and not session.sid:
            response.delete_cookie(COOKIE_NAME, httponly=True, samesite="Lax")
        if session.sid:
            self._set_cookie(response, COOKIE_NAME, self.signer.sign(session.sid).decode())
            if request.cookies.get(self.visitor_cookie):
                response.delete_cookie(self.visitor_cookie, httponly=True, samesite="Lax")
        else:
            self._save_visitor(session, response)
        response.vary.add("Cookie")

    def admit(self) -> None:
        """Count a new stored session against its client; past the bound, raise."""
        key = NEW_SESSIONS_PREFIX + client_address()
        with self.redis.pipeline() as pipe:
            count, _ = pipe.incr(key).expire(key, NEW_SESSIONS_WINDOW_SECONDS, nx=True).execute()
        if count > self.per_client:
            raise TooManySessionsError

    def write_now(self, session: ServerSession) -> None:
        """Store a stored session at once (another request of the same shopper may read it)."""
        self._store(session)
        session.modified = False

    def read(self, sid: str) -> dict | None:
        """Return what Redis holds now for a session id."""
        raw = self.redis.get(KEY_PREFIX + sid)
        return None if raw is None else json.loads(raw)

    @contextlib.contextmanager
    def lock(self, sid: str, *, timeout: float) -> Iterator[bool]:
        """Hold the session's lock while the block runs; yield False when it stayed taken."""
        lock = self.redis.lock(LOCK_PREFIX + sid, timeout=timeout + 5, blocking_timeout=timeout)
        acquired = lock.acquire()
        try:
            yield acquired
        finally:
            if acquired:
                # Expired meanwhile: nothing of ours is left to release.
                with contextlib.suppress(redis.exceptions.LockError):
                    lock.release()

    def _store(self, session: ServerSession) -> None:
        if session.sid is None:
            session.sid = secrets.token_urlsafe(32)  # unguessable
            session.modified = True
        key = KEY_PREFIX + session.sid
        if session.modified:
            self.redis.set(key, json.dumps(dict(session)), ex=self.seconds)
        else:
            self.redis.expire(key, self.seconds)

    def _save_visitor(self, session: ServerSession, response: Response) -> None:
        data = {key: value for key, value in session.items() if key in VISITOR_KEYS and value}
        if data and (session.modified or session.previous_sids):
            self._set_cookie(response, self.visitor_cookie, self.visitor.dumps(data))
        elif not data and request.cookies.get(self.visitor_cookie):
            response.delete_cookie(self.visitor_cookie, httponly=True, samesite="Lax")

    def _set_cookie(self, response: Response, name: str, value: str) -> None:
        response.set_cookie(
            name,
            value,
            max_age=self.seconds,
            httponly=True,
            secure=self.secure,
            samesite="Lax",
            path="/",
        )

    def _visitor_data(self, request: Request) -> dict:
        cookie = request.cookies.get(self.visitor_cookie, "")
        try:
            data = self.visitor.loads(cookie, max_age=self.seconds) if cookie else {}
        except BadSignature:
            return {}
        if not isinstance(data, dict):
            return {}
        return {key: value for key, value in data.items() if key in VISITOR_KEYS}

    def _sid_of(self, cookie: str) -> str | None:
        try:
            return self.signer.unsign(cookie).decode() if cookie else None
        except BadSignature:
            return None


def interface() -> RedisSessionInterface:
    """Return the current app's session store."""
    store = current_app.session_interface
    assert isinstance(store, RedisSessionInterface)
    return store


def init_app(app: Flask, config: Config) -> None:
    """Keep the app's sessions in Redis (the session store, apart from every cache)."""
    app.session_interface = RedisSessionInterface(
        config.sessions_redis_url,
        secret=config.session_secret,
        seconds=config.session_seconds,
        secure=config.secure_cookies,
        per_client=config.sessions_per_client,
    )
    app.secret_key = config.session_secret  # flash() needs one; the session is not a cookie


def redis_ping() -> None:
    """Raise unless the session store answers (readiness)."""
    interface().redis.ping()
