"""GET /api/openapi.json merges the services' documents; GET /api/docs is Swagger UI for it."""

import re

import pytest

from flotilla.openapi import ERROR_SCHEMA
from gateway.openapi import MergedDocument, merge

from conftest import answer


def test_the_merged_document_holds_every_reachable_service(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for path in ["/api/auth/login", "/api/auth/register", "/api/users/me", "/api/openapi.json"]:
        assert path in paths, path
    assert "bearerAuth" in document["components"]["securitySchemes"]


@pytest.mark.parametrize(
    "reply",
    [
        None,  # nothing listens
        lambda _: answer("404 Not Found", body=b'{"error": {}}'),
        lambda _: answer(body=b"not json"),
        lambda _: answer(body=b'{"openapi": "3.0.3", "paths": ["/api/ghost"]}'),
    ],
    ids=["unreachable", "404", "not-json", "no-paths-object"],
)
def test_a_missing_or_unusable_document_is_skipped_and_logged(
    app, config, stub_upstream, reply, caplog
):
    ghost = stub_upstream(reply).url if reply else "http://127.0.0.1:9"
    sessions = app.extensions["gateway.sessions"]
    upstreams = {"user-service": config.upstreams["user-service"], "ghost": ghost}
    merged = MergedDocument({**sessions, "ghost": sessions["user-service"]}, upstreams).get()
    alone = MergedDocument(sessions, {"user-service": config.upstreams["user-service"]}).get()
    assert merged == alone  # exactly user-service's part: nothing of the ghost's
    assert "/api/users/me" in merged["paths"]
    assert [r.upstream for r in caplog.records if r.message == "openapi document skipped"] == [
        "ghost"
    ]


def test_the_first_definition_of_a_path_or_component_wins():
    one = {"paths": {"/api/a": {"get": {"summary": "one"}}}, "components": {"schemas": {"X": {}}}}
    two = {
        "paths": {"/api/a": {"get": {"summary": "two"}}, "/api/b": {}},
        "components": {"schemas": {"X": {"type": "string"}, "Y": {}}},
    }
    merged = merge({"one": {**one, "openapi": "3.1.0"}, "two": {**two, "openapi": "3.0.3"}})
    assert merged["openapi"] == "3.1.0"  # the highest version of the parts
    assert merged["paths"]["/api/a"]["get"]["summary"] == "one"
    assert "/api/b" in merged["paths"]
    assert merged["components"]["schemas"] == {"Error": ERROR_SCHEMA, "X": {}, "Y": {}}


def test_every_merged_operation_states_its_security_and_the_gateways_statuses():
    secured = {
        "security": [{"bearerAuth": []}],
        "paths": {"/api/a": {"get": {"responses": {"200": {}}}}},
    }
    public = {"paths": {"/api/b": {"post": {"responses": {"201": {}, "503": {"x": 1}}}}}}
    merged = merge({"secured": secured, "public": public})
    assert "security" not in merged
    a, b = merged["paths"]["/api/a"]["get"], merged["paths"]["/api/b"]["post"]
    assert a["security"] == [{"bearerAuth": []}]
    assert b["security"] == []
    for operation in (a, b):
        assert {"429", "502", "503", "504"} <= operation["responses"].keys()
    assert b["responses"]["503"] == {"x": 1}  # the service's own description stays


def _policy(response) -> dict[str, list[str]]:
    """Return the response's Content-Security-Policy as {directive: [sources]}."""
    directives = response.headers["Content-Security-Policy"].split(";")
    return {name: sources for name, *sources in (d.split() for d in directives if d.strip())}


def test_the_docs_page_is_swagger_ui_under_a_strict_policy(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    policy = _policy(response)
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == policy["style-src"] == ["'self'"]  # nothing inline
    assert policy["connect-src"] == ["'self'"]  # "Try it out" calls this gateway only
    assert policy["frame-ancestors"] == ["'none'"]
    page = response.get_data(as_text=True)
    assert "https://" not in page and "http://" not in page
    scripts = re.findall(r"<script([^>]*)>", page)
    assert scripts and all(' src="/api/docs/' in attributes for attributes in scripts)


def test_every_file_the_page_loads_is_served_by_the_gateway(client):
    page = client.get("/api/docs").get_data(as_text=True)
    loaded = re.findall(r'(?:src|href)="(/api/docs/[^"]+)"', page)
    assert {"/api/docs/swagger-ui-bundle.js", "/api/docs/swagger-initializer.js"} <= set(loaded)
    for path in loaded:
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize(
    "name, mimetype",
    [
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-initializer.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
        ("favicon-32x32.png", "image/png"),
    ],
)
def test_each_docs_file_has_its_type_and_the_page_policy(client, name, mimetype):
    response = client.get(f"/api/docs/{name}")
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert response.content_length > 0
    assert _policy(response) == _policy(client.get("/api/docs"))


def test_swagger_ui_is_started_on_the_merged_document(client):
    initializer = client.get("/api/docs/swagger-initializer.js").get_data(as_text=True)
    assert 'url: "/api/openapi.json"' in initializer
    assert "SwaggerUIBundle(" in initializer
    assert "SwaggerUIBundle" in client.get("/api/docs/swagger-ui-bundle.js").get_data(as_text=True)


@pytest.mark.parametrize(
    "name", ["index.html", "swagger-ui.js", "oauth2-redirect.html", "VERSION", "docs.html"]
)
def test_no_other_file_is_served_under_docs(client, name):
    response = client.get(f"/api/docs/{name}")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
