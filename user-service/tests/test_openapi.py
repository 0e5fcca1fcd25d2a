"""user-service's OpenAPI document describes exactly the routes it serves."""

from flotilla.openapi import documented_operations, routed_operations


def test_every_route_is_documented_and_nothing_else(app):
    document = app.test_client().get("/openapi.json").json
    assert documented_operations(document) == routed_operations(app)


def test_every_operation_has_an_id_and_its_success_response(client):
    document = client.get("/openapi.json").json
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["operationId"], (method, path)
            assert any(status.startswith("2") for status in operation["responses"]), (method, path)
