"""Fixtures every service's tests share. A service names its package in pytest.ini:

[pytest]
flotilla_app = product_service
"""

import dataclasses
import importlib
from collections.abc import Callable

import pytest

from flotilla_testing import accounts


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the ini setting that names the service under test."""
    parser.addini("flotilla_app", "the package of the service under test (its `service`)")


@pytest.fixture(scope="session")
def package(pytestconfig: pytest.Config):
    """The package of the service under test (its create_app, MIGRATIONS)."""
    name = pytestconfig.getini("flotilla_app")
    if not name:
        pytest.fail("set flotilla_app in pytest.ini to use the service fixtures")
    return importlib.import_module(name)


@pytest.fixture(scope="session")
def config(package):
    """The service's configuration, read from the test container's environment."""
    return importlib.import_module(f"{package.__name__}.config").Config.from_env()


@pytest.fixture(scope="session")
def app(package, config):
    """The service's app, against the real database of the test stack."""
    return package.create_app(config)


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture(scope="session")
def db(app):
    """The app's database."""
    return app.extensions["flotilla.db"]


@pytest.fixture(scope="session")
def admin_headers() -> dict[str, str]:
    """The configured first admin's bearer header, issued by the real user-service."""
    return accounts.admin_headers()


@pytest.fixture(scope="session")
def customer_headers() -> dict[str, str]:
    """A new customer's bearer header, issued by the real user-service."""
    return accounts.new_customer("tests")["headers"]


@pytest.fixture
def service_headers(config) -> dict[str, str]:
    """The service-to-service credential of this stack."""
    from flotilla.internal import service_headers

    return service_headers(config.internal_token)


@pytest.fixture(scope="session")
def app_with(package, config) -> Callable:
    """Build extra apps of the service with changed settings: app_with(read_timeout=0.5)."""

    def build(**changes):
        return package.create_app(dataclasses.replace(config, **changes))

    return build
