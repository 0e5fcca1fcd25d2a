"""README's "Adding a service" recipe works: a throwaway service written the way it says
(config, one route, one migration) is prepared and served against the real database.

It borrows product-service's database and role (a new service would get its own) and
removes its table and migration record afterwards."""

import sys
import textwrap

import pytest

from flotilla.service import load

FILES = {
    "__init__.py": '''
        """shipping_service: a throwaway service built from README's recipe."""

        from pathlib import Path

        from flask import Flask

        from flotilla.service import Service
        from shipping_service.config import Config
        from shipping_service.routes import shipments

        service = Service(
            name="shipping-service",
            import_name=__name__,
            config=Config,
            blueprints=[shipments],
            migrations=[Path(__file__).parent / "migrations"],
        )


        def create_app(config: Config | None = None) -> Flask:
            """Build the shipping-service app."""
            return service.create_app(config)
    ''',
    "config.py": """
        from dataclasses import dataclass
        from typing import Any

        from flotilla.config import Env
        from flotilla.service import ServiceConfig


        @dataclass(frozen=True)
        class Config(ServiceConfig):
            database = "shipping"

            carrier: str

            @classmethod
            def own(cls, env: Env) -> dict[str, Any]:
                return {"carrier": env.get("CARRIER", "Flotilla Post")}
    """,
    "routes.py": """
        from flask import Blueprint, Response, jsonify

        from flotilla.db import get_db
        from shipping_service.config import Config

        shipments = Blueprint("shipments", __name__, url_prefix="/api/shipments")


        @shipments.post("")
        def create() -> tuple[Response, int]:
            with get_db().transaction() as cursor:
                cursor.execute("INSERT INTO recipe_shipments DEFAULT VALUES RETURNING id")
                shipment = cursor.fetchone()
            return jsonify(id=shipment["id"], carrier=Config.current().carrier), 201
    """,
    "migrations/001_recipe_shipments.sql": """
        CREATE TABLE recipe_shipments (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);
    """,
}


@pytest.fixture
def shipping_service(tmp_path, monkeypatch, db):
    """The throwaway package on sys.path, pointed at this test stack's database."""
    for name, text in FILES.items():
        path = tmp_path / "shipping_service" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    monkeypatch.syspath_prepend(str(tmp_path))
    yield load("shipping_service")
    for module in [m for m in sys.modules if m.startswith("shipping_service")]:
        del sys.modules[module]
    with db.transaction() as cursor:
        cursor.execute("DROP TABLE IF EXISTS recipe_shipments")
        cursor.execute("DELETE FROM schema_migrations WHERE version = '001_recipe_shipments'")


def test_a_service_built_from_the_recipe_migrates_once_and_serves(shipping_service, config):
    shipping_config = shipping_service.config.from_env()
    # Its own settings come from its own fields; the shared ones from the skeleton.
    assert shipping_config.carrier == "Flotilla Post"
    # DB_* of this container win over the default name: it borrows products' database.
    assert shipping_config.database_url == config.database_url
    shipping_service.prepare(shipping_config)
    shipping_service.prepare(shipping_config)  # a second replica: nothing to apply
    client = shipping_service.create_app(shipping_config).test_client()
    assert client.get("/readyz").json["checks"] == {"database": "ok"}
    created = client.post("/api/shipments")
    assert created.status_code == 201
    assert created.json == {"id": 1, "carrier": "Flotilla Post"}
    assert client.get("/api/shipments/nothing").json["error"]["code"] == "not_found"
