"""Fixtures: the app against the real database and a client."""

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flotilla.db import Database
from product_service import create_app
from product_service.config import Config


@pytest.fixture(scope="session")
def config() -> Config:
    return Config.from_env()


@pytest.fixture(scope="session")
def app(config: Config) -> Flask:
    return create_app(config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(app: Flask) -> Database:
    return app.extensions["db"]
