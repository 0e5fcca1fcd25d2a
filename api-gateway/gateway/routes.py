"""The gateway's routes: the /api proxy, the merged OpenAPI document and its page, /health."""

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import MethodNotAllowed

from flotilla.errors import ApiError
from flotilla.metrics import label_route
from gateway.auth import caller_id, check_auth
from gateway.health import upstream_states
from gateway.openapi import GATEWAY_PATHS, docs_file
from gateway.proxy import forward
from gateway.ratelimit import add_headers, enforce

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
OWN_METHODS = ["GET", "HEAD", "OPTIONS"]

api = Blueprint("api", __name__, url_prefix="/api")
edge = Blueprint("edge", __name__)


@api.before_request
def _limit() -> None:
    enforce(current_app.extensions["gateway.limiter"], caller_id())


@api.after_request
def _limit_headers(response: Response) -> Response:
    return add_headers(response)


# The gateway's own routes answer OPTIONS in proxy() below: Flask's automatic answer would
# list the catch-all's methods too.
@api.get("/openapi.json", provide_automatic_options=False)
def openapi() -> Response:
    """Serve the merged OpenAPI document of every service."""
    return jsonify(current_app.extensions["gateway.openapi"].get())


@api.get("/docs", defaults={"name": ""}, provide_automatic_options=False)
@api.get("/docs/<name>", provide_automatic_options=False)
def docs(name: str) -> Response:
    """Serve Swagger UI for the merged document: its page and its files."""
    return docs_file(name)


@api.route("/<path:rest>", methods=METHODS)
@api.route("", methods=METHODS, defaults={"rest": ""})
def proxy(rest: str) -> Response:
    """Route a public API request to its service."""
    config = current_app.config["SETTINGS"]
    route = config.route_for(request.path)
    if route is None and _is_own_path(request.path):
        if request.method == "OPTIONS":
            return Response(headers={"Allow": ", ".join(OWN_METHODS)})
        raise MethodNotAllowed(valid_methods=OWN_METHODS)
    if route is None:
        raise ApiError(404, "not_found", f"No API route for {request.path}")
    label_route(route.prefix)
    check_auth(route)
    return forward(
        current_app.extensions["gateway.pools"][route.upstream],
        name=route.upstream,
        timeout=config.upstream_timeout,
        breaker=current_app.extensions["gateway.breakers"][route.upstream],
    )


def _is_own_path(path: str) -> bool:
    """Whether path is one of the gateway's own (GET-only) routes."""
    return path in GATEWAY_PATHS or path.startswith("/api/docs/")


@edge.get("/health")
def health() -> tuple[Response, int]:
    """Report whether every upstream is ready."""
    states = upstream_states()
    healthy = all(state == "ok" for state in states.values())
    return jsonify(status="ok" if healthy else "degraded", services=states), (
        200 if healthy else 503
    )
