"""The events notification-service consumes: each stores one notification for its user."""

from typing import TypeVar

from psycopg2.extras import RealDictCursor
from pydantic import BaseModel

from flotilla.consumer import Consumer, Event, InvalidEventError, request_id_of
from flotilla.errors import ApiError
from flotilla.validation import validated
from notification_service import messages, repository
from notification_service.schemas import OrderConfirmed, OrderEvent, UserRegistered

M = TypeVar("M", bound=BaseModel)


def checked(event: Event, model: type[M]) -> M:
    """Return the event's data as model; InvalidEventError when it is not valid."""
    try:
        return validated(model, event["data"])
    except ApiError as error:
        raise InvalidEventError(f"{event['type']}: {error.fields or error.message}") from None


def on_user_registered(cursor: RealDictCursor, event: Event) -> None:
    """Remember the new user's address and welcome them."""
    data = checked(event, UserRegistered)
    repository.save_recipient(cursor, user_id=data.user_id, email=data.email, name=data.name)
    notify(cursor, event, data.user_id, messages.welcome(name=data.name, email=data.email))


def on_order_confirmed(cursor: RealDictCursor, event: Event) -> None:
    """Confirm an order with its lines and total."""
    data = checked(event, OrderConfirmed)
    lines = [line.model_dump() for line in data.items]
    message = messages.order_confirmed(
        order_id=data.order_id, items=lines, total_cents=data.total_cents
    )
    notify(cursor, event, data.user_id, message)


def on_order_cancelled(cursor: RealDictCursor, event: Event) -> None:
    """Tell the user their order was cancelled."""
    data = checked(event, OrderEvent)
    notify(cursor, event, data.user_id, messages.order_cancelled(order_id=data.order_id))


def on_order_failed(cursor: RealDictCursor, event: Event) -> None:
    """Tell the user their order could not be completed."""
    data = checked(event, OrderEvent)
    notify(cursor, event, data.user_id, messages.order_failed(order_id=data.order_id))


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
