"""Server-side sessions: the cookie carries a signed, random id; the data (tokens, cart)
stays in Redis, so no token ever reaches the browser."""

import json
import logging
import secrets
from typing import Any

import redis
from flask import Flask, Request, Response, current_app
from flask.sessions import SessionInterface, SessionMixin
from itsdangerous import BadSignature, Signer
from werkzeug.datastructures import CallbackDict

from flotilla.redis_client import fail_fast_redis
from storefront.config import Config

log = logging.getLogger(__name__)

COOKIE_NAME = "flotilla_session"
KEY_PREFIX = "storefront:session:"


class ServerSession(CallbackDict, SessionMixin):
    """A session whose data lives in Redis under `sid`."""

    def __init__(self, data: dict | None = None, sid: str | None = None) -> None:
        def changed(_: Any) -> None:
            self.modified = True

        super().__init__(data or {}, changed)
        self.sid = sid or new_session_id()
        self.modified = False
        self.unavailable = False  # Redis could not be read: the page says so
        self.previous_sids: list[str] = []

    def renew(self) -> None:
        """Give the session a new id (at log-in and log-out), so a planted id is worthless."""
        self.previous_sids.append(self.sid)
        self.sid = new_session_id()
        self.modified = True


def new_session_id() -> str:
    """Return a new unguessable session id."""
    return secrets.token_urlsafe(32)


class RedisSessionInterface(SessionInterface):
    """Keeps each session as one JSON value in Redis, expiring after `seconds` idle."""

    def __init__(self, url: str, *, secret: str, seconds: int, secure: bool) -> None:
        self.redis = fail_fast_redis(url, timeout=1.0)
        self.signer = Signer(secret, salt="storefront-session")
        self.seconds = seconds
        self.secure = secure

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        """Load the session named by the cookie; a new, empty one when there is none."""
        sid = self._sid_of(request.cookies.get(COOKIE_NAME, ""))
        if not sid:
            return ServerSession()
        try:
            raw = self.redis.get(KEY_PREFIX + sid)
        except redis.RedisError as error:
            log.warning("session store unavailable", extra={"error": str(error)})
            session = ServerSession(sid=sid)
            session.unavailable = True
            return session
        if raw is None:
            return ServerSession()  # expired or ended: a fresh id, never the old one
        return ServerSession(json.loads(raw), sid=sid)

    def save_session(self, app: Flask, session: ServerSession, response: Response) -> None:  # type: ignore[override]
        """Store a changed session and set its cookie; refresh an unchanged one's expiry."""
        if session.unavailable:
            return
        try:
            for old in session.previous_sids:
                self.redis.delete(KEY_PREFIX + old)
            if not session:
                if session.modified:
                    self.redis.delete(KEY_PREFIX + session.sid)
                    response.delete_cookie(COOKIE_NAME, httponly=True, samesite="Lax")
                return
            if session.modified:
                self.redis.set(KEY_PREFIX + session.sid, json.dumps(dict(session)), ex=self.seconds)
            else:
                self.redis.expire(KEY_PREFIX + session.sid, self.seconds)
        except redis.RedisError as error:
            log.warning("session not saved", extra={"error": str(error)})
            return
        response.set_cookie(
            COOKIE_NAME,
            self.signer.sign(session.sid).decode(),
            max_age=self.seconds,
            httponly=True,
            secure=self.secure,
            samesite="Lax",
            path="/",
        )
        response.vary.add("Cookie")

    def _sid_of(self, cookie: str) -> str | None:
        try:
            return self.signer.unsign(cookie).decode() if cookie else None
        except BadSignature:
            return None


def init_app(app: Flask, config: Config) -> None:
    """Keep the app's sessions in Redis (a db index of their own)."""
    app.session_interface = RedisSessionInterface(
        config.sessions_redis_url,
        secret=config.session_secret,
        seconds=config.session_seconds,
        secure=config.secure_cookies,
    )
    app.secret_key = config.session_secret  # flash() needs one; the session is not a cookie


def redis_ping() -> None:
    """Raise unless the session store answers (readiness)."""
    interface = current_app.session_interface
    assert isinstance(interface, RedisSessionInterface)
    interface.redis.ping()
