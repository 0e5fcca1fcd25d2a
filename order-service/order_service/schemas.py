"""What order-service reads and answers: an order to place, its key, and orders."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from flotilla.schemas import Body, Id, Paged, Parameters, UniqueBy, pattern

MAX_LINES = 50
Quantity = Annotated[int, Field(ge=1, le=1000)]


class OrderLine(Body):
    """A product and how many of it."""

    product_id: Id
    quantity: Quantity


class NewOrder(Body):
    """An order to place at the current prices."""

    items: Annotated[
        list[OrderLine], Field(min_length=1, max_length=MAX_LINES), UniqueBy("product_id")
    ]


class OrderHeaders(Parameters):
    """The headers placing an order reads."""

    idempotency_key: str = Field(
        None,
        alias="Idempotency-Key",
        # Visible ASCII: what a header carries unchanged.
        pattern=pattern(r"[\x21-\x7e]{1,255}"),
        description=(
            "Per user, kept at least 24 hours. A repeat with the same body returns the first "
            "response (header Idempotent-Replayed: true); another body is 422 "
            "idempotency_key_reused; a repeat while the first runs is 409 idempotency_conflict. "
            "After a 5xx or no answer, repeat with the same key: it finishes the order or "
            "returns its final outcome, never a second order."
        ),
    )


class OrderItem(BaseModel):
    """A line of an order."""

    product_id: int
    name: str | None = Field(description="null until confirmed")
    unit_price_cents: int | None = Field(ge=0, description="null until confirmed")
    quantity: Quantity


class Order(BaseModel):
    """An order: `failed` when its placement was interrupted before it took the stock."""

    id: int
    user_id: int
    status: Literal["pending", "confirmed", "cancelled", "failed"]
    items: list[OrderItem]
    total_cents: int | None = Field(ge=0, description="null while pending and for a failed order")
    created_at: datetime


class OrderPage(Paged):
    """A page of the caller's orders."""

    items: list[Order]
