"""What product-service reads and answers: the catalog's requests and responses."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from flotilla.schemas import (
    NOT_BLANK,
    QUERY_TEXT,
    Body,
    Id,
    Page,
    Paged,
    Patch,
    Trimmed,
    UniqueBy,
    pattern,
)

# Bounds that keep any order total (50 lines x 1000 units) far inside a BIGINT.
MAX_PRICE_CENTS = 10**12
MAX_STOCK = 10**9

Name = Annotated[
    str,
    Field(
        min_length=1, max_length=200, pattern=NOT_BLANK, description="Checked as sent, then trimmed"
    ),
    Trimmed,
]
Description = Annotated[str, Field(max_length=5000)]
Price = Annotated[int, Field(ge=0, le=MAX_PRICE_CENTS)]
Stock = Annotated[int, Field(ge=0, le=MAX_STOCK)]


class NewProduct(Body):
    """A product to add to the catalog."""

    sku: Annotated[str, Field(min_length=1, max_length=64, pattern=pattern(r"[A-Za-z0-9._-]+"))]
    name: Name
    description: Description = ""
    price_cents: Price
    stock: Stock


class ProductChanges(Patch):
    """Any of a product's name, description, price and stock."""

    name: Name = None
    description: Description = None
    price_cents: Price = None
    stock: Stock = None


class ProductSearch(Page):
    """A page of the catalog, optionally filtered by name."""

    q: Annotated[
        str,
        Field(
            max_length=200, pattern=QUERY_TEXT, description="Case-insensitive substring of the name"
        ),
    ] = ""


class Product(BaseModel):
    """A product."""

    id: int
    sku: str
    name: str
    description: str
    price_cents: int = Field(ge=0)
    stock: int = Field(ge=0)
    created_at: datetime
    updated_at: datetime


class ProductPage(Paged):
    """A page of the catalog."""

    items: list[Product]


class ReservedLine(Body):
    """One line of a reservation."""

    product_id: Id
    quantity: Annotated[int, Field(ge=1, le=1000)]


class Reservation(Body):
    """Stock to take for an order: every line or none (internal)."""

    reservation_id: Annotated[str, Field(pattern=pattern(r"[A-Za-z0-9._:-]{1,100}"))]
    items: Annotated[list[ReservedLine], Field(min_length=1, max_length=50), UniqueBy("product_id")]
