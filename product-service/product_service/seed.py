"""`python -m product_service.seed`: load the demo catalog. Running it again changes nothing:
products are matched by SKU and existing ones are left as they are."""

import logging

from flotilla import cli
from flotilla.config import Env
from flotilla.db import Database, get_db
from product_service import MIGRATIONS, create_app, repository

log = logging.getLogger("product_service.seed")

# (kind, adjectives, base price in cents): 6 x 6 = 36 demo products.
KINDS = [
    ("Mug", 1200),
    ("Notebook", 800),
    ("Backpack", 5900),
    ("Water bottle", 1900),
    ("Desk lamp", 3400),
    ("Headphones", 8900),
]
STYLES = ["Classic", "Compact", "Deluxe", "Eco", "Nautical", "Travel"]


def demo_catalog() -> list[dict]:
    """Return the demo products."""
    catalog = []
    for kind_index, (kind, base_price) in enumerate(KINDS):
        for style_index, style in enumerate(STYLES):
            catalog.append(
                {
                    "sku": f"DEMO-{kind_index + 1:02d}{style_index + 1:02d}",
                    "name": f"{style} {kind.lower()}",
                    "description": f"A {style.lower()} {kind.lower()} from the Flotilla demo.",
                    "price_cents": base_price + 100 * style_index,
                    "stock": 25 + 5 * style_index,
                }
            )
    return catalog


def seed(db: Database) -> int:
    """Insert the demo products that are missing; return how many were inserted."""
    inserted = 0
    with db.transaction() as cursor:
        for product in demo_catalog():
            if repository.insert_product(cursor, **product):
                inserted += 1
    return inserted


def main() -> None:
    """Seed the database that the environment configures."""
    env = Env()
    if env.production:
        raise SystemExit("seed: refusing to load demo data in production")
    app = create_app()
    cli.prepare(app, MIGRATIONS, startup=[])
    with app.app_context():
        inserted = seed(get_db())
    log.info("demo catalog loaded", extra={"inserted": inserted, "total": len(demo_catalog())})


if __name__ == "__main__":
    main()
