"""Public HTTP endpoints of product-service: the catalog."""

import re

from flask import Blueprint, Response, current_app, jsonify

from flotilla.auth import require_admin
from flotilla.db import get_db
from flotilla.errors import ApiError, found
from flotilla.validation import NOT_BLANK, PAGE, Field, Query, accepts, query
from product_service import repository
from product_service.cache import product_cache

# Bounds that keep any order total (50 lines x 1000 units) far inside a BIGINT.
MAX_PRICE_CENTS = 10**12
MAX_STOCK = 10**9
MAX_QUERY_CHARS = 200
# PostgreSQL text cannot hold NUL; refusing it here makes it a 422, not a 500.
NO_NUL = re.compile(r"[^\x00]*")

NAME = Field(
    str, min=1, max=200, pattern=NOT_BLANK, normalize=str.strip, doc="Checked as sent, then trimmed"
)
DESCRIPTION = Field(str, required=False, max=5000, pattern=NO_NUL)
PRICE = Field(int, min=0, max=MAX_PRICE_CENTS)
STOCK = Field(int, min=0, max=MAX_STOCK)
CREATE = {
    "sku": Field(str, min=1, max=64, pattern=re.compile(r"[A-Za-z0-9._-]+")),
    "name": NAME,
    "description": DESCRIPTION,
    "price_cents": PRICE,
    "stock": STOCK,
}
UPDATE = {"name": NAME, "description": DESCRIPTION, "price_cents": PRICE, "stock": STOCK}
SEARCH = Query(
    "q",
    Field(str, max=MAX_QUERY_CHARS, doc="Case-insensitive substring of the name"),
    default="",
)

products = Blueprint("products", __name__, url_prefix="/api/products")


def _json(document: str, status: int = 200, *, cache: str | None = None) -> Response:
    response = Response(document, status=status, mimetype="application/json")
    if cache:
        response.headers["X-Cache"] = cache
    return response


def _name_pattern(q: str) -> str | None:
    """Return the ILIKE pattern of the q parameter, or None when there is none."""
    if not q.strip():
        return None
    escaped = q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@products.get("")
@query(*PAGE, SEARCH)
def list_products(limit: int, offset: int, q: str) -> Response:
    """Return a page of the catalog, optionally filtered by name."""
    pattern = _name_pattern(q)
    with get_db().transaction() as cursor:
        items = repository.list_products(cursor, limit=limit, offset=offset, name_pattern=pattern)
        total = repository.count_products(cursor, name_pattern=pattern)
    return jsonify(items=items, total=total, limit=limit, offset=offset)


@products.get("/<int:product_id>")
def get_product(product_id: int) -> Response:
    """Return one product, from the cache when it holds it."""
    cached, version = product_cache().get(product_id)
    if cached is not None:
        return _json(cached, cache="hit")
    document = current_app.json.dumps(_existing(product_id))
    product_cache().put(product_id, document, version=version)
    return _json(document, cache="miss")


def _existing(product_id: int) -> dict:
    with get_db().transaction() as cursor:
        return found(repository.get_product(cursor, product_id=product_id), "Product")


@products.post("")
@require_admin
@accepts(CREATE)
def create_product(data: dict) -> tuple[Response, int]:
    """Add a product to the catalog."""
    with get_db().transaction() as cursor:
        product = repository.insert_product(
            cursor,
            sku=data["sku"],
            name=data["name"],
            description=data.get("description", ""),
            price_cents=data["price_cents"],
            stock=data["stock"],
        )
    if product is None:
        raise ApiError(409, "conflict", f"A product with SKU {data['sku']} exists already")
    return jsonify(product), 201


@products.patch("/<int:product_id>")
@require_admin
@accepts(UPDATE, partial=True)
def update_product(product_id: int, data: dict) -> Response:
    """Change a product's name, description, price or stock."""
    with get_db().transaction() as cursor:
        product = repository.update_product(
            cursor,
            product_id=product_id,
            name=data.get("name"),
            description=data.get("description"),
            price_cents=data.get("price_cents"),
            stock=data.get("stock"),
        )
    found(product, "Product")
    product_cache().invalidate(product_id)
    return jsonify(product)


@products.delete("/<int:product_id>")
@require_admin
def delete_product(product_id: int) -> tuple[str, int]:
    """Remove a product from the catalog."""
    with get_db().transaction() as cursor:
        deleted = repository.delete_product(cursor, product_id=product_id)
    if not deleted:
        raise ApiError(404, "not_found", "Product not found")
    product_cache().invalidate(product_id)
    return "", 204
