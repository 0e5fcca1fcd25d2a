"""The public API's OpenAPI document: every service's own document, merged."""

import copy
import logging
from pathlib import Path

import flask_swagger_ui
import requests
from flask import Flask, Response, send_file

from flotilla.errors import ApiError
from flotilla.openapi import BAD_REQUEST, ERROR_SCHEMA, error_response
from gateway.config import Config
from gateway.memo import Memo

log = logging.getLogger(__name__)

FETCH_TIMEOUT_SECONDS = 3.0
# A complete document changes only with a deploy; an incomplete one is retried soon.
CACHE_SECONDS = 60.0
INCOMPLETE_CACHE_SECONDS = 5.0
# Swagger UI from a pinned package (flask-swagger-ui ships its dist files; its blueprint, with
# an inline script, is not used), so the page loads nothing from anywhere else.
SWAGGER_UI = Path(flask_swagger_ui.__file__).with_name("dist")
HERE = Path(__file__).parent
# /api/docs/<name> → (file, type); "" is /api/docs itself. Nothing else is served.
DOCS_FILES = {
    "": (HERE / "docs.html", "text/html"),
    "swagger-initializer.js": (HERE / "swagger-initializer.js", "text/javascript"),
    "swagger-ui-bundle.js": (SWAGGER_UI / "swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": (SWAGGER_UI / "swagger-ui.css", "text/css"),
    "favicon-32x32.png": (SWAGGER_UI / "favicon-32x32.png", "image/png"),
}
DOCS_MAX_AGE = 300
# Scripts and styles only from these files, never inline; Swagger UI's icons are data: URIs
# in its CSS; "Try it out" calls the API on this origin only.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

OPERATIONS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# What the gateway answers by itself for any proxied operation (docs/gateway.md).
GATEWAY_RESPONSES = {
    "429": error_response("Rate limited: wait Retry-After seconds"),
    "502": error_response("The service answered with something that is not HTTP"),
    "503": error_response("The service is unavailable (its circuit breaker is open)"),
    "504": error_response("The service did not answer in time"),
}
GATEWAY_PATHS = {
    "/api/openapi.json": {
        "get": {
            "tags": ["gateway"],
            "summary": "This document: the OpenAPI documents of every service, merged",
            "operationId": "getOpenApi",
            "security": [],
            "responses": {
                "200": {"description": "An OpenAPI 3 document"},
                "400": BAD_REQUEST,
                "429": GATEWAY_RESPONSES["429"],
            },
        }
    },
    "/api/docs": {
        "get": {
            "tags": ["gateway"],
            "summary": "Swagger UI for this document: read it, authorize, try the calls",
            "operationId": "getDocs",
            "security": [],
            "responses": {
                "200": {
                    "description": "An HTML page",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                },
                "400": BAD_REQUEST,
                "429": GATEWAY_RESPONSES["429"],
            },
        }
    },
}


def base_document() -> dict:
    """Return the gateway's own part of the merged document."""
    # Valid as 3.0 and as 3.1: the merged document takes the highest version of its parts.
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Flotilla API",
            "version": "1.0.0",
            "description": "Every public route, through NGINX and the api-gateway.",
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": "gateway", "description": "The api-gateway itself"}],
        "paths": copy.deepcopy(GATEWAY_PATHS),
        "components": {"schemas": {"Error": ERROR_SCHEMA}},
    }


def merge(documents: dict[str, dict]) -> dict:
    """Merge the services' documents (by service name) into one document."""
    merged = base_document()
    tags = {tag["name"] for tag in merged["tags"]}
    for service, document in documents.items():
        if _version(document.get("openapi", "3.0.0")) > _version(merged["openapi"]):
            merged["openapi"] = document["openapi"]
        for path, item in document.get("paths", {}).items():
            if path in merged["paths"]:
                log.warning("openapi path defined twice", extra={"path": path, "by": service})
                continue
            merged["paths"][path] = _as_served(item, document.get("security", []))
        for kind, entries in document.get("components", {}).items():
            target = merged["components"].setdefault(kind, {})
            for name, entry in entries.items():
                if name in target and target[name] != entry:
                    log.warning(
                        "openapi component defined differently",
                        extra={"component": f"{kind}/{name}", "by": service},
                    )
                target.setdefault(name, entry)
        for tag in document.get("tags", []):
            if tag.get("name") not in tags:
                tags.add(tag.get("name"))
                merged["tags"].append(tag)
    return merged


def _as_served(item: dict, security: list) -> dict:
    """Return a service's path item as the gateway serves it: every operation states its
    own security (a document's default would otherwise apply to every service's operations
    once merged) and the statuses the gateway itself can answer."""
    return {
        key: _through_gateway(value, security) if key in OPERATIONS else value
        for key, value in item.items()
    }


def _through_gateway(operation: dict, security: list) -> dict:
    served = {"security": security, **operation}
    served["responses"] = {**GATEWAY_RESPONSES, **operation.get("responses", {})}
    return served


def _version(text: str) -> tuple[int, ...]:
    """Return "3.1.0" as (3, 1, 0); anything unreadable counts as the lowest version."""
    try:
        return tuple(int(part) for part in str(text).split("."))
    except ValueError:
        return (0,)


class MergedDocument:
    """Fetches every upstream's /openapi.json and caches the merged result."""

    def __init__(self, sessions: dict[str, requests.Session], upstreams: dict[str, str]) -> None:
        self.sessions = sessions
        self.upstreams = upstreams
        self._merged = Memo(self._merge, lambda merged: merged[1])

    def get(self) -> dict:
        """Return the merged document, refetching it when the cached one is stale."""
        return self._merged.get()[0]

    def _merge(self) -> tuple[dict, float]:
        """Return the merged document and how long to keep it."""
        documents = {name: self._fetch(name) for name in self.upstreams}
        found = {name: doc for name, doc in documents.items() if doc is not None}
        complete = len(found) == len(documents)
        return merge(found), CACHE_SECONDS if complete else INCOMPLETE_CACHE_SECONDS

    def _fetch(self, name: str) -> dict | None:
        url = f"{self.upstreams[name]}/openapi.json"
        try:
            response = self.sessions[name].get(url, timeout=FETCH_TIMEOUT_SECONDS)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as error:
            log.warning("openapi document skipped", extra={"upstream": name, "error": str(error)})
            return None
        if not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
            log.warning("openapi document skipped", extra={"upstream": name, "error": "no paths"})
            return None
        return document


def docs_file(name: str) -> Response:
    """Serve the docs page ("") or one of its files, under the page's Content-Security-Policy."""
    if name not in DOCS_FILES:
        raise ApiError(404, "not_found", f"No docs file {name}")
    path, mimetype = DOCS_FILES[name]
    response = send_file(path, mimetype=mimetype, max_age=DOCS_MAX_AGE)
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response


def init_app(app: Flask, config: Config) -> None:
    """Give the app its merged document, fetched over the upstreams' sessions."""
    sessions = app.extensions["gateway.sessions"]
    app.extensions["gateway.openapi"] = MergedDocument(sessions, config.upstreams)
