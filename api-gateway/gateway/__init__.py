"""api-gateway: one door to every service, checking tokens before anything is forwarded."""

from concurrent.futures import ThreadPoolExecutor

import requests
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from requests.adapters import HTTPAdapter

from flotilla import create_base_app
from flotilla.auth import TokenVerifier, authenticate, init_tokens
from flotilla.errors import ApiError
from flotilla.health import register_health
from gateway.config import Config, Route
from gateway.proxy import forward

HEALTH_TIMEOUT_SECONDS = 2.0
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

edge = Blueprint("edge", __name__)


def create_app(config: Config | None = None) -> Flask:
    """Build the api-gateway app."""
    config = config or Config.from_env()
    app = create_base_app(__name__, service="api-gateway", log_level=config.log_level)
    app.config["SERVICE"] = config
    init_tokens(app, TokenVerifier(config.tokens))
    register_upstreams(app, config)
    app.register_blueprint(edge)
    # The gateway needs nothing to serve but its upstreams, which /health reports.
    register_health(app, {})
    return app


def register_upstreams(app: Flask, config: Config) -> None:
    """Give every upstream its own pool of keep-alive connections."""
    sessions = {}
    for name in config.upstreams:
        session = requests.Session()
        session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=32))
        session.trust_env = False
        sessions[name] = session
    app.extensions["upstreams"] = sessions


def _check_auth(route: Route) -> None:
    if route.auth == "user" or (route.auth == "writes" and request.method not in {"GET", "HEAD"}):
        authenticate()


@edge.route("/api/<path:rest>", methods=METHODS)
@edge.route("/api", methods=METHODS, defaults={"rest": ""})
def proxy(rest: str) -> Response:
    """Route a public API request to its service."""
    config: Config = current_app.config["SERVICE"]
    route = config.route_for(request.path)
    if route is None:
        raise ApiError(404, "not_found", f"No API route for {request.path}")
    _check_auth(route)
    return forward(
        current_app.extensions["upstreams"][route.upstream],
        config.upstreams[route.upstream],
        name=route.upstream,
        timeout=(config.connect_timeout, config.read_timeout),
    )


@edge.get("/health")
def health() -> tuple[Response, int]:
    """Report whether every upstream is ready."""
    config: Config = current_app.config["SERVICE"]
    sessions = current_app.extensions["upstreams"]
    with ThreadPoolExecutor(max_workers=len(config.upstreams)) as pool:
        checks = {
            name: pool.submit(_readiness, sessions[name], url)
            for name, url in config.upstreams.items()
        }
    states = {name: check.result() for name, check in checks.items()}
    healthy = all(state == "ok" for state in states.values())
    return jsonify(status="ok" if healthy else "degraded", services=states), (
        200 if healthy else 503
    )


def _readiness(session: requests.Session, base_url: str) -> str:
    try:
        response = session.get(f"{base_url}/readyz", timeout=HEALTH_TIMEOUT_SECONDS)
    except requests.RequestException:
        return "unreachable"
    return "ok" if response.status_code == 200 else "unavailable"
