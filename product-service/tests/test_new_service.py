"""README's "Adding a service" recipe works: a throwaway service written the way it says
(config, one route, one migration) is prepared and served against the real database.

It borrows product-service's database and role (a new service would get its own) and
removes its table and migration record afterwards."""

import importlib
import sys
import textwrap

import pytest

from flotilla.cli import prepare

FILES = {
    "__init__.py": '''
        """shipping_service: a throwaway service built from README's recipe."""

        from pathlib import Path

        from flask import Flask

        from flotilla import health
        from flotilla.app import create_base_app
        from flotilla.db import Database
        from shipping_service.config import Config
        from shipping_service.routes import shipments

        MIGRATIONS = [Path(__file__).parent / "migrations"]


        def create_app(config: Config | None = None) -> Flask:
            """Build the shipping-service app."""
            config = config or Config.from_env()
            app = create_base_app(__name__, service="shipping-service")
            app.config["SETTINGS"] = config
            db = Database(config.database_url)
            db.init_app(app)
            app.register_blueprint(shipments)
            health.init_app(app, {"database": db.ping})
            return app
    ''',
    "config.py": """
        from dataclasses import dataclass

        from flotilla.config import Env, database_url


        @dataclass(frozen=True)
        class Config:
            database_url: str
            carrier: str

            @classmethod
            def from_env(cls, env: Env | None = None) -> "Config":
                env = env or Env()
                return cls(
                    database_url=database_url(env, default_name="shipping"),
                    carrier=env.get("CARRIER", "Flotilla Post"),
                )
    """,
    "routes.py": """
        from flask import Blueprint, Response, current_app, jsonify

        from flotilla.db import get_db

        shipments = Blueprint("shipments", __name__, url_prefix="/api/shipments")


        @shipments.post("")
        def create() -> tuple[Response, int]:
            with get_db().transaction() as cursor:
                cursor.execute("INSERT INTO recipe_shipments DEFAULT VALUES RETURNING id")
                shipment = cursor.fetchone()
            return jsonify(id=shipment["id"], carrier=current_app.config["SETTINGS"].carrier), 201
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
    yield importlib.import_module("shipping_service")
    for module in [m for m in sys.modules if m.startswith("shipping_service")]:
        del sys.modules[module]
    with db.transaction() as cursor:
        cursor.execute("DROP TABLE IF EXISTS recipe_shipments")
        cursor.execute("DELETE FROM schema_migrations WHERE version = '001_recipe_shipments'")


def test_a_service_built_from_the_recipe_migrates_once_and_serves(shipping_service, config):
    shipping_config = importlib.import_module("shipping_service.config").Config.from_env()
    assert shipping_config.carrier == "Flotilla Post"
    # DB_* of this container win over the default name: it borrows products' database.
    assert shipping_config.database_url == config.database_url
    app = shipping_service.create_app(shipping_config)
    prepare(app, shipping_service.MIGRATIONS, startup=[])
    prepare(app, shipping_service.MIGRATIONS, startup=[])  # a second replica: nothing to apply
    client = app.test_client()
    assert client.get("/readyz").json["checks"] == {"database": "ok"}
    created = client.post("/api/shipments")
    assert created.status_code == 201
    assert created.json == {"id": 1, "carrier": "Flotilla Post"}
    assert client.get("/api/shipments/nothing").json["error"]["code"] == "not_found"
