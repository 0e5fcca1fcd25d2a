"""What user-service reads and answers: its request bodies and responses."""

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, Field

from flotilla.schemas import ONE_LINE, Body, Email, LoginEmail, Patch, Trimmed

Name = Annotated[
    str,
    Field(
        min_length=1, max_length=100, pattern=ONE_LINE, description="Checked as sent, then trimmed"
    ),
    Trimmed,
]
Password = Annotated[str, Field(min_length=8, max_length=128)]
# Checked like a login: only the shape, so that any content mismatch is the same 401 or 403.
GivenPassword = Annotated[str, Field(max_length=1024)]


class Register(Body):
    """A new customer account."""

    email: Email
    password: Password
    name: Name


class Login(Body):
    """Credentials: any mismatch is the same 401."""

    email: LoginEmail
    password: GivenPassword


class RefreshToken(Body):
    """A refresh token."""

    refresh_token: Annotated[str, Field(min_length=1, max_length=1024)]


class ChangeMe(Patch):
    """Any of name and password; the password only with current_password."""

    # A stolen access token lives minutes; it must not buy the account for good.
    requires: ClassVar = {"password": "current_password"}

    name: Name = None
    password: Password = None
    current_password: GivenPassword = Field(
        None, description="Required to change the password; checked whenever given"
    )


class User(BaseModel):
    """A user: never a password hash."""

    id: int
    email: str = Field(description="As registered: trimmed and lower-cased")
    name: str
    role: Literal["customer", "admin"]
    created_at: datetime


class TokenPair(BaseModel):
    """An access and a refresh token (sent with Cache-Control: no-store)."""

    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="Seconds until the access token expires")
