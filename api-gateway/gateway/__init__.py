"""api-gateway: one door to every service, checking tokens and limits before forwarding."""

from flask import Flask

from flotilla.service import Service
from gateway.config import Config
from gateway.health import register_readiness
from gateway.openapi import register_document
from gateway.ratelimit import register_limiter
from gateway.routes import api, edge
from gateway.upstreams import register_upstreams

# The gateway needs nothing to serve but its upstreams, which /health reports.
service = Service(
    name="api-gateway",
    import_name=__name__,
    config=Config,
    blueprints=[api, edge],
    # /health and the merged document use the upstreams' sessions: registered after them.
    extensions=[register_upstreams, register_limiter, register_readiness, register_document],
)


def create_app(config: Config | None = None) -> Flask:
    """Build the api-gateway app."""
    return service.create_app(config)
