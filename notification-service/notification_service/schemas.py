"""What notification-service reads and answers: the events it consumes, its notifications."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from flotilla.schemas import EMAIL, Cents, Id, Paged

MAX_LINES = 1000
Text = Annotated[str, Field(min_length=1, max_length=1000)]


class EventData(BaseModel):
    """An event's data: each field of its JSON type; fields an event grows later are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)


class UserRegistered(EventData):
    """user.registered: a new account."""

    user_id: Id
    email: Annotated[str, Field(min_length=3, max_length=320, pattern=EMAIL)]
    name: Text


class OrderEvent(EventData):
    """order.cancelled and order.failed: which order, whose."""

    order_id: Id
    user_id: Id


class ConfirmedLine(EventData):
    """One line of a confirmed order."""

    name: Text
    unit_price_cents: Cents
    quantity: Annotated[int, Field(ge=1, le=2**63 - 1)]


class OrderConfirmed(OrderEvent):
    """order.confirmed: the order with its lines and total."""

    items: Annotated[list[ConfirmedLine], Field(min_length=1, max_length=MAX_LINES)]
    total_cents: Cents


class Notification(BaseModel):
    """A notification."""

    id: int
    type: Literal["user.registered", "order.confirmed", "order.cancelled", "order.failed"] = Field(
        description="The type of the event that caused it"
    )
    subject: str = Field(description="An order's notification names it as Order #<id>")
    body: str = Field(description="Plain text, as mailed")
    created_at: datetime
    email: Literal["queued", "sent", "failed"] = Field(
        description=(
            "Its mail: queued (waiting or retrying), sent (the SMTP server took it), failed "
            "(refused, or not sent within the retry window)"
        )
    )


class NotificationPage(Paged):
    """A page of the caller's notifications."""

    items: list[Notification]
