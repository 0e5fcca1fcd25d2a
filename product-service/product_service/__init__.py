"""product-service: the catalog and its stock."""

from pathlib import Path

from flask import Flask

from flotilla.service import Job, Service
from product_service.cache import register_cache
from product_service.config import Config
from product_service.internal import internal
from product_service.jobs import release_stale_reservations
from product_service.routes import products

service = Service(
    name="product-service",
    import_name=__name__,
    config=Config,
    blueprints=[products, internal],
    migrations=[Path(__file__).parent / "migrations"],
    openapi="The catalog. Reads are public; writes need an admin access token.",
    # Redis only caches: readiness depends on the database alone (the skeleton's check).
    extensions=[register_cache],
    jobs=[Job("release-stale-reservations", 60, release_stale_reservations)],
)


def create_app(config: Config | None = None) -> Flask:
    """Build the product-service app."""
    return service.create_app(config)
