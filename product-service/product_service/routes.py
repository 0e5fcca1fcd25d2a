"""Public HTTP endpoints of product-service: the catalog."""

from flask import Blueprint, Response, current_app, jsonify

from flotilla.auth import require_admin
from flotilla.db import get_db
from flotilla.errors import ApiError, found
from flotilla.validation import endpoint
from product_service import repository
from product_service.cache import product_cache
from product_service.schemas import (
    NewProduct,
    Product,
    ProductChanges,
    ProductPage,
    ProductSearch,
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
@endpoint(query=ProductSearch, responses={200: ProductPage})
def list_products(query: ProductSearch) -> Response:
    """Return a page of the catalog, optionally filtered by name."""
    limit, offset = query.limit, query.offset
    pattern = _name_pattern(query.q)
    with get_db().transaction() as cursor:
        items = repository.list_products(cursor, limit=limit, offset=offset, name_pattern=pattern)
        total = repository.count_products(cursor, name_pattern=pattern)
    return jsonify(items=items, total=total, limit=limit, offset=offset)


@products.get("/<int:product_id>")
@endpoint(responses={200: Product, 404: "No such product"})
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
@endpoint(body=NewProduct, responses={201: Product, 409: "A product with this SKU exists"})
def create_product(body: NewProduct) -> tuple[Response, int]:
    """Add a product to the catalog."""
    with get_db().transaction() as cursor:
        product = repository.insert_product(
            cursor,
            sku=body.sku,
            name=body.name,
            description=body.description,
            price_cents=body.price_cents,
            stock=body.stock,
        )
    if product is None:
        raise ApiError(409, "conflict", f"A product with SKU {body.sku} exists already")
    return jsonify(product), 201


@products.patch("/<int:product_id>")
@require_admin
@endpoint(body=ProductChanges, responses={200: Product, 404: "No such product"})
def update_product(product_id: int, body: ProductChanges) -> Response:
    """Change a product's name, description, price or stock."""
    with get_db().transaction() as cursor:
        product = repository.update_product(
            cursor,
            product_id=product_id,
            name=body.name,
            description=body.description,
            price_cents=body.price_cents,
            stock=body.stock,
        )
    found(product, "Product")
    product_cache().invalidate(product_id)
    return jsonify(product)


@products.delete("/<int:product_id>")
@require_admin
@endpoint(responses={204: "Deleted", 404: "No such product"})
def delete_product(product_id: int) -> tuple[str, int]:
    """Remove a product from the catalog."""
    with get_db().transaction() as cursor:
        deleted = repository.delete_product(cursor, product_id=product_id)
    if not deleted:
        raise ApiError(404, "not_found", "Product not found")
    product_cache().invalidate(product_id)
    return "", 204
