"""The events notification-service consumes: each stores one notification for its user."""

from collections.abc import Mapping

from psycopg2.extras import RealDictCursor

from flotilla.consumer import Consumer, Event, InvalidEventError, request_id_of
from flotilla.errors import ApiError
from flotilla.validation import BIGINT_MAX, EMAIL, Field, validate
from notification_service import messages, repository

USER_ID = Field(int, min=1, max=BIGINT_MAX)
ORDER = {"order_id": Field(int, min=1, max=BIGINT_MAX), "user_id": USER_ID}
USER_REGISTERED = {
    "user_id": USER_ID,
    "email": Field(str, min=3, max=320, pattern=EMAIL),
    "name": Field(str, min=1, max=1000),
}
ORDER_CONFIRMED = {**ORDER, "items": Field(list), "total_cents": Field(int, min=0)}
ORDER_LINE = {
    "name": Field(str, min=1, max=1000),
    "unit_price_cents": Field(int, min=0),
    "quantity": Field(int, min=1),
}
MAX_LINES = 1000


def checked(data: object, schema: Mapping[str, Field], what: str) -> dict:
    """Return the fields of data that schema names, valid; InvalidEventError otherwise.

    Fields it does not name are ignored: an event may grow new ones.
    """
    known = {k: v for k, v in data.items() if k in schema} if isinstance(data, dict) else data
    try:
        return validate(known, schema)
    except ApiError as error:
        raise InvalidEventError(f"{what}: {error.fields or error.message}") from None


def on_user_registered(cursor: RealDictCursor, event: Event) -> None:
    """Remember the new user's address and welcome them."""
    data = checked(event["data"], USER_REGISTERED, event["type"])
    repository.save_recipient(
        cursor, user_id=data["user_id"], email=data["email"], name=data["name"]
    )
    notify(cursor, event, data["user_id"], messages.welcome(name=data["name"], email=data["email"]))


def on_order_confirmed(cursor: RealDictCursor, event: Event) -> None:
    """Confirm an order with its lines and total."""
    data = checked(event["data"], ORDER_CONFIRMED, event["type"])
    items = data["items"]
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_LINES:
        raise InvalidEventError(f"{event['type']}: items must be a list of 1-{MAX_LINES} lines")
    lines = [checked(item, ORDER_LINE, f"{event['type']} items") for item in items]
    message = messages.order_confirmed(
        order_id=data["order_id"], items=lines, total_cents=data["total_cents"]
    )
    notify(cursor, event, data["user_id"], message)


def on_order_cancelled(cursor: RealDictCursor, event: Event) -> None:
    """Tell the user their order was cancelled."""
    data = checked(event["data"], ORDER, event["type"])
    notify(cursor, event, data["user_id"], messages.order_cancelled(order_id=data["order_id"]))


def on_order_failed(cursor: RealDictCursor, event: Event) -> None:
    """Tell the user their order could not be completed."""
    data = checked(event["data"], ORDER, event["type"])
    notify(cursor, event, data["user_id"], messages.order_failed(order_id=data["order_id"]))


def notify(cursor: RealDictCursor, event: Event, user_id: int, message: tuple[str, str]) -> None:
    """Store the event's notification; the worker's send-mail job mails it."""
    subject, body = message
    repository.insert_notification(
        cursor,
        event_id=event["id"],
        user_id=user_id,
        type=event["type"],
        subject=subject,
        body=body,
        request_id=request_id_of(event),
    )


CONSUMER = Consumer(
    "notification-service",
    {
        "user.registered": on_user_registered,
        "order.confirmed": on_order_confirmed,
        "order.cancelled": on_order_cancelled,
        "order.failed": on_order_failed,
    },
)
