"""storefront: the shop's web pages, server-rendered, a client of the public API only."""

from flask import Flask

from flotilla.service import Service
from storefront.api import register_api
from storefront.config import Config
from storefront.routes import shop
from storefront.security import register_security
from storefront.sessions import redis_check, register_sessions
from storefront.templating import register_templating

service = Service(
    name="storefront",
    import_name=__name__,
    config=Config,
    blueprints=[shop],
    extensions=[register_sessions, register_api, register_security, register_templating],
    checks=redis_check,
)


def create_app(config: Config | None = None) -> Flask:
    """Build the storefront app."""
    return service.create_app(config)
