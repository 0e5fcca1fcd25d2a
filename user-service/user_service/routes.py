"""HTTP endpoints of user-service: auth, users and the public keys."""

import uuid
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, g, jsonify

from flotilla.auth import require_user
from flotilla.db import get_db
from flotilla.errors import ApiError, found
from flotilla.outbox import add_event
from flotilla.validation import endpoint
from user_service import repository
from user_service.config import settings
from user_service.passwords import hash_password, needs_rehash, verify_password
from user_service.schemas import ChangeMe, Login, RefreshToken, Register, TokenPair, User
from user_service.tokens import new_refresh_token, refresh_token_hash, signer

auth = Blueprint("auth", __name__, url_prefix="/api/auth")
users = Blueprint("users", __name__, url_prefix="/api/users")
keys = Blueprint("keys", __name__)

BAD_LOGIN = "Email or password is incorrect"


def _token_pair(cursor, *, user_id: int, role: str, family: str) -> Response:
    config = settings()
    refresh_token = new_refresh_token()
    repository.insert_refresh_token(
        cursor,
        user_id=user_id,
        token_hash=refresh_token_hash(refresh_token),
        family=family,
        expires_at=datetime.now(UTC) + timedelta(seconds=config.refresh_token_seconds),
    )
    response = jsonify(
        access_token=signer().access_token(user_id=user_id, role=role),
        refresh_token=refresh_token,
        token_type="Bearer",
        expires_in=config.access_token_seconds,
    )
    # Tokens are credentials: no browser or proxy cache may keep a copy (RFC 6749, 5.1).
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@auth.post("/register")
@endpoint(body=Register, responses={201: User, 409: "An account with this email exists already"})
def register(body: Register) -> tuple[Response, int]:
    """Create a customer account."""
    password_hash = hash_password(body.password)
    with get_db().transaction() as cursor:
        user = repository.insert_user(
            cursor, email=body.email, name=body.name, password_hash=password_hash
        )
        if user:
            # In the user's transaction: the event exists exactly when the account does.
            add_event(
                cursor,
                type="user.registered",
                data={"user_id": user["id"], "email": user["email"], "name": user["name"]},
            )
    if user is None:
        raise ApiError(409, "email_taken", "An account with this email already exists")
    return jsonify(user), 201


@auth.post("/login")
@endpoint(body=Login, responses={200: TokenPair, 401: "Email or password is incorrect"})
def login(body: Login) -> Response:
    """Exchange email and password for an access and a refresh token."""
    with get_db().transaction() as cursor:
        user = repository.get_credentials(cursor, email=body.email)
    # Unknown emails are checked against a dummy hash: same answer, similar time.
    if not verify_password(user and user["password_hash"], body.password):
        raise ApiError(401, "unauthorized", BAD_LOGIN)
    with get_db().transaction() as cursor:
        if needs_rehash(user["password_hash"]):
            repository.set_password_hash(
                cursor, user_id=user["id"], password_hash=hash_password(body.password)
            )
        return _token_pair(cursor, user_id=user["id"], role=user["role"], family=str(uuid.uuid4()))


@auth.post("/refresh")
@endpoint(body=RefreshToken, responses={200: TokenPair, 401: "Invalid, expired or used already"})
def refresh(body: RefreshToken) -> Response:
    """Rotate a refresh token: the old one stops working, a new pair is returned."""
    token_hash = refresh_token_hash(body.refresh_token)
    with get_db().transaction() as cursor:
        revoked = repository.revoke_refresh_token(cursor, token_hash=token_hash)
        user = revoked and repository.get_user(cursor, user_id=revoked["user_id"])
        if user:
            return _token_pair(
                cursor, user_id=user["id"], role=user["role"], family=revoked["family"]
            )
    # A rotated token presented again was stolen or replayed: end its whole chain.
    with get_db().transaction() as cursor:
        repository.revoke_family_of(cursor, token_hash=token_hash)
    raise ApiError(401, "invalid_token", "Refresh token is invalid, expired or already used")


@auth.post("/logout")
@endpoint(body=RefreshToken, responses={204: "Logged out; also for an unknown or revoked token"})
def logout(body: RefreshToken) -> tuple[str, int]:
    """End a session: the refresh token and every token rotated from it stop working."""
    with get_db().transaction() as cursor:
        repository.revoke_family_of(cursor, token_hash=refresh_token_hash(body.refresh_token))
    # Unknown and already revoked tokens get the same answer: there is nothing to tell.
    return "", 204


@users.get("/me")
@require_user
@endpoint(responses={200: User})
def get_me() -> Response:
    """Return the caller's account."""
    return jsonify(_existing_user(g.user["id"]))


@users.patch("/me")
@require_user
@endpoint(body=ChangeMe, responses={200: User, 403: "The current password is incorrect"})
def patch_me(body: ChangeMe) -> Response:
    """Change the caller's name and/or password; the password only with the current one."""
    if body.current_password is not None:
        _check_current_password(g.user["id"], body.current_password)
    password_hash = hash_password(body.password) if body.password is not None else None
    with get_db().transaction() as cursor:
        user = repository.update_user(
            cursor, user_id=g.user["id"], name=body.name, password_hash=password_hash
        )
        if password_hash:
            # A new password ends every session that the old one started.
            repository.revoke_user_refresh_tokens(cursor, user_id=g.user["id"])
    return jsonify(found(user, "User"))


@users.get("/<int:user_id>")
@require_user
@endpoint(responses={200: User, 404: "No such user, or not the caller (unless an admin)"})
def get_user(user_id: int) -> Response:
    """Return a user to an admin or to that user; everyone else sees 404."""
    if g.user["role"] != "admin" and g.user["id"] != user_id:
        raise ApiError(404, "not_found", "User not found")
    return jsonify(_existing_user(user_id))


def _check_current_password(user_id: int, password: str) -> None:
    with get_db().transaction() as cursor:
        user = found(repository.get_credentials(cursor, user_id=user_id), "User")
    if not verify_password(user["password_hash"], password):
        raise ApiError(403, "forbidden", "The current password is incorrect")


def _existing_user(user_id: int) -> dict:
    with get_db().transaction() as cursor:
        return found(repository.get_user(cursor, user_id=user_id), "User")


@keys.get("/.well-known/jwks.json")
def jwks() -> Response:
    """Publish the public keys that verify access tokens."""
    response = jsonify(signer().jwks())
    response.cache_control.max_age = 300
    return response
