"""Each service serves the OpenAPI 3 document of its own public routes at /openapi.json.

The service's openapi.json says what only people can: summaries, tags, responses. What a
request may carry (JSON bodies, query parameters) is added from the views' own
declarations (@accepts, @query in flotilla.validation): the code that checks a request is
the one source of its description.
"""

import copy
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from werkzeug.routing import Rule

from flotilla.schema import Bound, bounds, object_schema, parameter_bounds, query_parameter
from flotilla.validation import Body

# Flask's "<int:id>" and OpenAPI's "{id}" name the same path parameter.
_FLASK_PARAM = re.compile(r"<(?:[a-z]+:)?([A-Za-z_][A-Za-z0-9_]*)>")
_PARAM = re.compile(r"<(?:([a-z]+):)?([A-Za-z_][A-Za-z0-9_]*)>")
_IGNORED_METHODS = {"HEAD", "OPTIONS"}
JSON = "application/json"
REF = "#/components/schemas/{model}"
# flotilla.app's IdConverter: the ids a route matches (1-18 digits).
PATH_SCHEMAS = {"int": {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}}
TEXT = {"type": "string"}
BEARER = {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}


def load_document(path: Path) -> dict:
    """Read an OpenAPI document from a JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))


def register_openapi(
    app: Flask, document: dict | None = None, *, title: str = "", description: str = ""
) -> None:
    """Serve the service's OpenAPI document at /openapi.json: the one given, with its views'
    requests; without one, the document of its routes and their declarations.

    Call it after the blueprints are registered. /openapi.json is internal: not routed.
    """
    if document is None:
        complete = build_document(app, title=title, description=description)
    else:
        complete = describe_requests(app, document)

    @app.get("/openapi.json")
    def openapi() -> Response:
        return jsonify(complete)


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
BAD_REQUEST = error_response(
    "A path, query string or header value that is not clean text, or a malformed body"
)


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
CALLERS = {
    "user": {"401": error_response("No valid access token")},
    "admin": {
        "401": error_response("No valid access token"),
        "403": error_response("Not an admin"),
    },
}


class _Schema(GenerateJsonSchema):
    def field_title_should_be_set(self, schema: Any) -> bool:
        return False  # a property's title only repeats its name


def describe_requests(app: Flask, document: dict) -> dict:
    """Return a copy of document with every documented operation's body and query
    parameters, the error schema, and the 400 that every operation can answer."""
    document = copy.deepcopy(document)
    document.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for method, path, view in _routes(app):
        operation = document.get("paths", {}).get(path, {}).get(method.lower())
        if operation is not None:
            _describe(document, operation, view, where=f"{method} {path}")
            operation["responses"].setdefault("400", BAD_REQUEST)
    return document


def _describe(document: dict, operation: dict, view: Callable, *, where: str) -> None:
    given = operation.get("parameters", [])
    if "requestBody" in operation or any(param.get("in") == "query" for param in given):
        raise ValueError(f"{where}: its body and query come from the view, not openapi.json")
    body = request_schema(view)
    if body is not None:
        name = _schema_name(operation, where)
        document.setdefault("components", {}).setdefault("schemas", {})[name] = body
        schema = {"$ref": f"#/components/schemas/{name}"}
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": schema}}}
    if query := query_parameters(view):
        operation["parameters"] = [*given, *query]


def _schema_name(operation: dict, where: str) -> str:
    # operationIds are unique across the merged document, so these names are too.
    operation_id = operation.get("operationId")
    if not operation_id:
        raise ValueError(f"{where}: an operation with a request body needs an operationId")
    return f"{operation_id[0].upper()}{operation_id[1:]}Request"


def request_schema(view: Callable) -> dict | None:
    """Return the schema of the JSON body a view accepts (None: it takes none)."""
    body: Body | None = getattr(view, "request_body", None)
    if body is None:
        return None
    return object_schema(body.fields, partial=body.partial, requires=body.requires)


def query_parameters(view: Callable) -> list[dict]:
    """Return the OpenAPI description of the query parameters a view reads."""
    return [query_parameter(param) for param in getattr(view, "query_params", ())]


def request_bounds(view: Callable) -> list[Bound]:
    """Return values at and just beyond every bound of a view's body fields and query."""
    body = request_schema(view)
    return (bounds(body) if body else []) + parameter_bounds(query_parameters(view))


def request_views(app: Flask) -> dict[str, Callable]:
    """Return, by "METHOD path", the view of every public operation that reads a request."""
    return {
        f"{method} {path}": view
        for method, path, view in _routes(app, "/api/")
        if request_schema(view) or query_parameters(view)
    }


def request_mismatches(app: Flask, document: dict) -> list[str]:
    """Return how document's requests differ from what the app's views validate, field by
    field, one line each: an empty list when they agree."""
    found = []
    for method, path, view in _routes(app, "/api/"):
        operation = document["paths"].get(path, {}).get(method.lower(), {})
        served = _resolve(document, operation.get("requestBody", {}))
        where = f"{method} {path}"
        found += _differences(where, served, request_schema(view) or {})
        query = [param for param in operation.get("parameters", []) if param["in"] == "query"]
        found += _differences(f"{where} query", _by_name(query), _by_name(query_parameters(view)))
    return found


def _resolve(document: dict, request_body: dict) -> dict:
    """Return the schema of a JSON request body, following its $ref ({} when there is none)."""
    schema = request_body.get("content", {}).get(JSON, {}).get("schema", {})
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _by_name(parameters: list[dict]) -> dict:
    return {"properties": {param["name"]: param for param in parameters}}


def _differences(where: str, served: dict, validated: dict) -> list[str]:
    """Compare two object schemas field by field, then their other keywords."""
    served, validated = dict(served), dict(validated)
    documented, checked = served.pop("properties", {}), validated.pop("properties", {})
    lines = [
        f"{where} {name}: documented {documented.get(name)}, validated {checked.get(name)}"
        for name in sorted(documented.keys() | checked.keys())
        if documented.get(name) != checked.get(name)
    ]
    if served != validated:
        lines.append(f"{where}: documented {served}, validated {validated}")
    return lines


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
    return {(method, path) for method, path, _ in _routes(app, prefix)}


def _routes(app: Flask, prefix: str = "/") -> Iterator[tuple[str, str, Callable]]:
    """Yield (METHOD, OpenAPI path, view) for every route of the app under prefix."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(prefix):
            continue
        view = app.view_functions[rule.endpoint]
        for method in (rule.methods or set()) - _IGNORED_METHODS:
            yield method, _FLASK_PARAM.sub(r"{\1}", rule.rule), view


def build_document(app: Flask, *, title: str, description: str) -> dict:
    """Return the OpenAPI 3.1 document of the app's routes under /api/."""
    operations = [(method, path, rule, view) for method, path, rule, view in routes(app, "/api/")]
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
    for key in ("body", "query", "headers"):
        if declared.get(key):
            yield key, declared[key]
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
            for kind, name in _PARAM.findall(rule.rule)
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
            yield method, _PARAM.sub(r"{\2}", rule.rule), rule, view
