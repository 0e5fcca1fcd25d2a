"""GET /api/openapi.json merges the services' documents; GET /api/docs renders it."""

import pytest

from gateway.openapi import MergedDocument, merge
from gateway.upstreams import UPSTREAMS

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
    sessions = UPSTREAMS.get(app)
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
    assert merged["components"]["schemas"] == {"X": {}, "Y": {}}


def test_the_docs_page_renders_the_document_without_any_cdn(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert 'fetch("/api/openapi.json")' in page
    assert "https://" not in page and "http://" not in page
