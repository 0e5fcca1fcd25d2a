"""Each service serves the OpenAPI 3 document of its own public routes at /openapi.json."""

import json
import re
from pathlib import Path

from flask import Flask, Response, jsonify

# Flask's "<int:id>" and OpenAPI's "{id}" name the same path parameter.
_FLASK_PARAM = re.compile(r"<(?:[a-z]+:)?([A-Za-z_][A-Za-z0-9_]*)>")
_IGNORED_METHODS = {"HEAD", "OPTIONS"}


def load_document(path: Path) -> dict:
    """Read an OpenAPI document from a JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))


def register_openapi(app: Flask, document: dict) -> None:
    """Serve the service's OpenAPI document at /openapi.json (internal: not routed)."""

    @app.get("/openapi.json")
    def openapi() -> Response:
        return jsonify(document)


def documented_operations(document: dict) -> set[tuple[str, str]]:
    """Return (METHOD, path) for every operation in an OpenAPI document."""
    methods = {"get", "put", "post", "delete", "patch"}
    return {
        (method.upper(), path)
        for path, item in document.get("paths", {}).items()
        for method in item
        if method in methods
    }


def routed_operations(app: Flask, prefix: str = "/api/") -> set[tuple[str, str]]:
    """Return (METHOD, path) for every route of the app under prefix, in OpenAPI syntax."""
    return {
        (method, _FLASK_PARAM.sub(r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(prefix)
        for method in rule.methods or ()
        if method not in _IGNORED_METHODS
    }
