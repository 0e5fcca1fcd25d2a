"""api-gateway: one door to every service, checking tokens and limits before forwarding."""

from concurrent.futures import ThreadPoolExecutor

import requests
from flask import Blueprint, Flask, Response, g, jsonify, request, send_file
from requests.adapters import HTTPAdapter

from flotilla.app import Slot
from flotilla.auth import authenticate
from flotilla.errors import ApiError
from flotilla.service import Service
from gateway import ratelimit
from gateway.breaker import CircuitBreaker
from gateway.config import Config, Route
from gateway.openapi import DOCS_PAGE, MergedDocument
from gateway.proxy import forward

HEALTH_TIMEOUT_SECONDS = 2.0
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

api = Blueprint("api", __name__, url_prefix="/api")
edge = Blueprint("edge", __name__)


UPSTREAMS: Slot[dict[str, requests.Session]] = Slot("upstreams")
BREAKERS: Slot[dict[str, CircuitBreaker]] = Slot("breakers")
LIMITER: Slot[ratelimit.RateLimiter] = Slot("rate_limiter")
OPENAPI: Slot[MergedDocument] = Slot("openapi")


def register_upstreams(app: Flask, config: Config) -> None:
    """Give every upstream its own pool of keep-alive connections and circuit breaker."""
    sessions, breakers = {}, {}
    for name in config.upstreams:
        session = requests.Session()
        session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=32))
        session.trust_env = False
        sessions[name] = session
        breakers[name] = CircuitBreaker(config.breaker.failures, config.breaker.open_seconds)
    UPSTREAMS.set(app, sessions)
    BREAKERS.set(app, breakers)
    LIMITER.set(app, ratelimit.RateLimiter(config.rate_limits))
    OPENAPI.set(app, MergedDocument(sessions, config.upstreams))


def _caller_id() -> int | None:
    """Return the user id of a valid token, None without one; remember why a token failed."""
    if "Authorization" not in request.headers:
        return None
    try:
        return authenticate()["id"]
    except ApiError as error:
        g.auth_error = error
        return None


@api.before_request
def _limit() -> None:
    ratelimit.enforce(LIMITER.get(), _caller_id())


@api.after_request
def _limit_headers(response: Response) -> Response:
    return ratelimit.add_headers(response)


def _check_auth(route: Route) -> None:
    needs_user = route.auth == "user" or (
        route.auth == "writes" and request.method not in {"GET", "HEAD"}
    )
    if needs_user and "user" not in g:
        raise g.get("auth_error") or ApiError(
            401, "unauthorized", "Missing bearer token", headers={"WWW-Authenticate": "Bearer"}
        )


@api.get("/openapi.json")
def openapi() -> Response:
    """Serve the merged OpenAPI document of every service."""
    return jsonify(OPENAPI.get().get())


@api.get("/docs")
def docs() -> Response:
    """Serve a small self-contained page that renders the OpenAPI document."""
    response = send_file(DOCS_PAGE, mimetype="text/html", max_age=300)
    # Its one inline script and the document it fetches, nothing else.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; frame-ancestors 'none'"
    )
    return response


@api.route("/<path:rest>", methods=METHODS)
@api.route("", methods=METHODS, defaults={"rest": ""})
def proxy(rest: str) -> Response:
    """Route a public API request to its service."""
    config = Config.current()
    route = config.route_for(request.path)
    if route is None:
        raise ApiError(404, "not_found", f"No API route for {request.path}")
    _check_auth(route)
    return forward(
        UPSTREAMS.get()[route.upstream],
        config.upstreams[route.upstream],
        name=route.upstream,
        timeout=(config.connect_timeout, config.read_timeout),
        breaker=BREAKERS.get()[route.upstream],
    )


@edge.get("/health")
def health() -> tuple[Response, int]:
    """Report whether every upstream is ready."""
    config = Config.current()
    sessions = UPSTREAMS.get()
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


# The gateway needs nothing to serve but its upstreams, which /health reports.
service = Service(
    name="api-gateway",
    import_name=__name__,
    config=Config,
    blueprints=[api, edge],
    extensions=[register_upstreams],
)


def create_app(config: Config | None = None) -> Flask:
    """Build the api-gateway app."""
    return service.create_app(config)
