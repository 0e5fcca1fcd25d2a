"""Each service serves the OpenAPI 3.1 document of its public routes at /openapi.json, made
from its url_map and what each view declares with flotilla.validation.endpoint: the models
it reads and answers with, its summary (the docstring) and who may call it."""

import re
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from flask import Flask, Response, jsonify
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from werkzeug.routing import Rule

# Flask's "<int:id>" and OpenAPI's "{id}" name the same path parameter.
_FLASK_PARAM = re.compile(r"<(?:([a-z]+):)?([A-Za-z_][A-Za-z0-9_]*)>")
_IGNORED_METHODS = {"HEAD", "OPTIONS"}
JSON = "application/json"
REF = "#/components/schemas/{model}"
# flotilla.app's IdConverter: the ids a route matches (1-18 digits).
PATH_SCHEMAS = {"int": {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}}
TEXT = {"type": "string"}
BEARER = {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}

# API.md's error document: flotilla.errors makes every error of every service in this shape.
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "request_id"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "request_id": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}


def error_response(description: str) -> dict:
    """Return an OpenAPI response of API.md's error document."""
    content = {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {"description": description, "content": content}


# check_request_bytes refuses these before any view runs, whatever the operation.
BAD_REQUEST = error_response("A path, query string or header value that is not clean text")
# What every operation that reads more answers by itself, and who may call it.
READS = {
    "body": {
        "400": error_response("Malformed JSON, or bytes that are not clean text"),
        "415": error_response("Not application/json"),
        "422": error_response("Invalid fields (validation_error, with the fields named)"),
    },
    "query": {"400": error_response("A query parameter is not valid, or not clean text")},
    "headers": {"400": error_response("A header is not valid, or not clean text")},
}
UNAUTHORIZED = {"401": error_response("No valid access token")}
CALLERS = {"user": UNAUTHORIZED, "admin": {**UNAUTHORIZED, "403": error_response("Not an admin")}}


class _Schema(GenerateJsonSchema):
    def field_title_should_be_set(self, schema: Any) -> bool:
        return False  # a property's title only repeats its name


def register_openapi(app: Flask, *, title: str, description: str) -> None:
    """Serve the document of the app's routes at /openapi.json (internal: not routed).

    Call it after the blueprints are registered. The document is built at its first request,
    once per process: not in every worker, CLI command and test app that never serves it.
    """

    @cache
    def document() -> dict:
        return build_document(app, title=title, description=description)

    @app.get("/openapi.json")
    def openapi() -> Response:
        return jsonify(document())


def build_document(app: Flask, *, title: str, description: str) -> dict:
    """Return the OpenAPI 3.1 document of the app's routes under /api/."""
    operations = list(routes(app, "/api/"))
    models = {
        (model, "serialization" if key == "responses" else "validation")
        for *_, view in operations
        for key, model in _models(view)
    }
    refs, defs = models_json_schema(
        sorted(models, key=str), ref_template=REF, schema_generator=_Schema
    )
    paths: dict[str, dict] = {}
    for method, path, rule, view in operations:
        paths.setdefault(path, {})[method.lower()] = _operation(rule, view, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0.0", "description": description.strip()},
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA, **defs.get("$defs", {})},
            "securitySchemes": BEARER,
        },
    }


def _models(view: Callable) -> Iterator[tuple[str, type[BaseModel]]]:
    declared = declaration(view)
    if declared.get("body"):  # query parameters and headers are written out in place
        yield "body", declared["body"]
    for answer in declared.get("responses", {}).values():
        if not isinstance(answer, str):
            yield "responses", answer


def declaration(view: Callable) -> dict:
    """Return what a view declared with @endpoint (empty when nothing)."""
    return getattr(view, "openapi", {})


def _operation(rule: Rule, view: Callable, refs: dict) -> dict:
    declared = declaration(view)
    caller = getattr(view, "caller", None)
    responses = {"400": BAD_REQUEST}
    operation: dict[str, Any] = {
        "tags": [rule.endpoint.rpartition(".")[0]],
        "operationId": re.sub(r"_([a-z])", lambda m: m[1].upper(), view.__name__),
        "summary": (view.__doc__ or "").strip().splitlines()[0].rstrip("."),
        "security": [{"bearerAuth": []}] if caller else [],
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": PATH_SCHEMAS.get(kind, TEXT)}
            for kind, name in _FLASK_PARAM.findall(rule.rule)
        ],
    }
    for where, key in (("query", "query"), ("header", "headers")):
        if model := declared.get(key):
            operation["parameters"] += _parameters(model, where)
            responses.update(READS[key])
    if model := declared.get("body"):
        schema = refs[(model, "validation")]
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": schema}}}
        responses.update(READS["body"])
    responses.update(CALLERS.get(caller, {}))
    for status, answer in declared.get("responses", {}).items():
        responses[str(status)] = _response(status, answer, refs)
    operation["responses"] = dict(sorted(responses.items()))
    if not operation["parameters"]:
        del operation["parameters"]
    return operation


def _parameters(model: type[BaseModel], where: str) -> list[dict]:
    schema = model.model_json_schema(ref_template=REF, schema_generator=_Schema, by_alias=True)
    found = []
    for name, field in schema["properties"].items():
        field = dict(field)
        if field.get("default", 0) is None:
            del field["default"]  # left out, not null
        parameter = {"name": name, "in": where, "required": name in schema.get("required", ())}
        if "description" in field:
            parameter["description"] = field.pop("description")
        found.append({**parameter, "schema": field})
    return found


def _response(status: int, answer: type[BaseModel] | str, refs: dict) -> dict:
    if isinstance(answer, str):
        return error_response(answer) if status >= 400 else {"description": answer}
    description = (answer.__doc__ or answer.__name__).strip().splitlines()[0]
    schema = refs[(answer, "serialization")]
    return {"description": description, "content": {JSON: {"schema": schema}}}


def routes(app: Flask, prefix: str = "/") -> Iterator[tuple[str, str, Rule, Callable]]:
    """Yield (METHOD, OpenAPI path, rule, view) for every route of the app under prefix."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(prefix):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - _IGNORED_METHODS):
            yield method, _FLASK_PARAM.sub(r"{\2}", rule.rule), rule, view
