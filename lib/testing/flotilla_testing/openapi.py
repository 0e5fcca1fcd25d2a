"""OpenAPI checks every service with public routes passes: a service's test_openapi.py runs
them by subclassing (`class TestOpenAPI(DocumentChecks): ...`) and checks its table of
requests, bound by bound, with bound_cases and check_bound.
"""

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flotilla.openapi import declaration, routes

# JSON Schema keyword -> the step from a bound to the nearest value beyond it.
BOUND_KEYWORDS = {
    "minimum": -1,
    "maximum": 1,
    "minLength": -1,
    "maxLength": 1,
    "minItems": -1,
    "maxItems": 1,
}
OPERATIONS = {"get", "put", "post", "delete", "patch"}


def _keys(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            yield key
            yield from _keys(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _keys(value)


class DocumentChecks:
    """The service's generated document: every public route, each bound in JSON Schema,
    each operation named, summarised and answered."""

    def test_openapi_documents_every_public_route_and_nothing_else(self, app, client):
        document = client.get("/openapi.json").json
        assert document["openapi"].startswith("3.")
        documented = {
            (method.upper(), path)
            for path, item in document["paths"].items()
            for method in item
            if method in OPERATIONS
        }
        assert documented == {(method, path) for method, path, *_ in routes(app, "/api/")}

    def test_every_bound_is_written_in_json_schema(self, client):
        # pydantic writes a constraint it cannot place (after a validator) under its own name.
        keys = set(_keys(client.get("/openapi.json").json))
        assert not keys & {"ge", "gt", "le", "lt", "min_length", "max_length"}

    def test_every_operation_has_an_id_a_summary_and_its_success_response(self, client):
        document = client.get("/openapi.json").json
        for path, item in document["paths"].items():
            for method, operation in item.items():
                assert operation["operationId"], (method, path)
                assert operation["summary"], (method, path)
                assert any(status.startswith("2") for status in operation["responses"]), (
                    method,
                    path,
                )

    def test_every_public_view_declares_its_responses(self, app):
        for method, path, _, view in routes(app, "/api/"):
            assert declaration(view).get("responses"), f"{method} {path}: no @endpoint(responses=)"


def request_views(app: Flask) -> dict[str, Callable]:
    """Return, by "METHOD path", the view of every public operation that reads a request."""
    return {
        f"{method} {path}": view
        for method, path, _, view in routes(app, "/api/")
        if declaration(view).get("body") or declaration(view).get("query")
    }


@dataclass(frozen=True)
class Bound:
    """A value at, or just beyond, one bound that a schema documents for a field."""

    field: str  # "name", or "items[0].quantity" for a field of a list's entries
    keyword: str  # the JSON Schema keyword: "maxLength", "minimum", ...
    size: int  # the value itself, or the length or number of entries it has
    inside: bool  # at the bound (valid) or one step beyond it (invalid)
    location: str = "body"  # or "query": where the field is sent

    def __str__(self) -> str:
        return f"{self.field}:{self.keyword}:{'inside' if self.inside else 'outside'}"

    def value(self, text: Callable[[int], str], entries: Callable[[int], list]) -> Any:
        """Return the value itself, or a text or list of entries of this size."""
        if self.keyword in ("minimum", "maximum"):
            return self.size
        return text(self.size) if self.keyword in ("minLength", "maxLength") else entries(self.size)

    def placed(self, body: dict, value: Any) -> dict:
        """Return a copy of body with value as this bound's field (also "items[0].quantity")."""
        body = copy.deepcopy(body)
        *entries, name = self.field.split(".")
        target = body
        for entry in entries:  # "items[0]"
            key, index = entry[:-1].split("[")
            target = target[key][int(index)]
        target[name] = value
        return body


def bounds(schema: dict, location: str, prefix: str = "") -> list[Bound]:
    """Return a value at and one just beyond every bound of every field of an object schema
    (pydantic's, with its $defs)."""
    found = []
    for name, prop in schema["properties"].items():
        field = prefix + name
        for keyword, step in BOUND_KEYWORDS.items():
            if keyword in prop:
                found.append(Bound(field, keyword, prop[keyword], True, location))
                if prop[keyword] + step >= 0:  # no length is below zero
                    found.append(Bound(field, keyword, prop[keyword] + step, False, location))
        if "$ref" in prop.get("items", {}):
            entry = schema["$defs"][prop["items"]["$ref"].rsplit("/", 1)[1]]
            found += bounds({**entry, "$defs": schema["$defs"]}, location, f"{field}[0].")
    return found


def bound_cases(views: Mapping[str, Callable]) -> list[tuple[str, Bound]]:
    """Return (operation, bound) for every bound documented for the views, by operation."""
    cases = []
    for operation, view in views.items():
        for location, key in (("body", "body"), ("query", "query")):
            if model := declaration(view).get(key):
                schema = model.model_json_schema(by_alias=True)
                cases += [(operation, bound) for bound in bounds(schema, location)]
    return cases


def check_bound(
    client: FlaskClient,
    operation: str,
    bound: Bound,
    value: Any,
    *,
    valid: dict,
    accepted: int | None,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    """Send operation ("METHOD path") the valid request with value at bound's field; assert
    that a value at the bound gets accepted (the status accepted; None: the caller checks)
    and one beyond it API.md's error naming the field. Return the response."""
    method, path = operation.split()
    if bound.location == "query":
        sent = {"query_string": {**valid, bound.field: value}}
    else:
        sent = {"json": bound.placed(valid, value)}
    response = client.open(path, method=method, headers=headers or {}, **sent)
    if bound.inside:
        assert accepted is None or response.status_code == accepted, response.json
    elif bound.location == "query":
        assert response.status_code == 400, response.json
        assert response.json["error"]["message"].startswith(f"{bound.field} "), response.json
    else:
        assert response.status_code == 422, response.json
        assert bound.field in response.json["error"]["fields"], response.json
    return response
