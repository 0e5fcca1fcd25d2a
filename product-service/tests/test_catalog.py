"""The public catalog: CRUD for admins, pages and search for everyone."""

import pytest


def test_create_read_update_delete(client, admin_headers):
    created = client.post(
        "/api/products",
        json={"sku": "MUG-1", "name": " Mug ", "price_cents": 1200, "stock": 5},
        headers=admin_headers,
    )
    assert created.status_code == 201
    product = created.json
    assert product["name"] == "Mug" and product["description"] == ""
    assert set(product) == {
        "id", "sku", "name", "description", "price_cents", "stock", "created_at", "updated_at"
    }  # fmt: skip
    assert client.get(f"/api/products/{product['id']}").json == product

    patched = client.patch(
        f"/api/products/{product['id']}", json={"price_cents": 1300}, headers=admin_headers
    )
    assert patched.status_code == 200
    assert patched.json["price_cents"] == 1300 and patched.json["stock"] == 5

    assert client.delete(f"/api/products/{product['id']}", headers=admin_headers).status_code == 204
    assert client.get(f"/api/products/{product['id']}").status_code == 404
    assert client.delete(f"/api/products/{product['id']}", headers=admin_headers).status_code == 404


def test_a_duplicate_sku_is_409(client, admin_headers, make_product):
    make_product(sku="SAME")
    response = client.post(
        "/api/products",
        json={"sku": "SAME", "name": "Again", "price_cents": 1, "stock": 1},
        headers=admin_headers,
    )
    assert response.status_code == 409
    assert response.json["error"]["code"] == "conflict"


def test_pages_search_and_total(client, make_product):
    for name in ["Red mug", "Blue mug", "Notebook", "100% mug_x"]:
        make_product(name=name)
    page = client.get("/api/products?limit=2&offset=1").json
    assert page["total"] == 4 and page["limit"] == 2 and page["offset"] == 1
    assert [p["name"] for p in page["items"]] == ["Blue mug", "Notebook"]
    found = client.get("/api/products?q=MUG").json
    assert found["total"] == 3
    # LIKE wildcards in q are matched literally.
    assert client.get("/api/products?q=%25").json["total"] == 1
    assert client.get("/api/products?q=_x").json["total"] == 1
    assert client.get("/api/products?limit=1000").json["limit"] == 100


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=-1", "limit=abc", "limit=1.5", "offset=-1", "offset=x", "q=" + "a" * 201],
)
def test_bad_query_parameters_are_400(client, query):
    response = client.get(f"/api/products?{query}")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"


def test_customers_cannot_write(client, customer_headers, make_product):
    product = make_product()
    body = {"sku": "X", "name": "X", "price_cents": 1, "stock": 1}
    assert client.post("/api/products", json=body, headers=customer_headers).status_code == 403
    path = f"/api/products/{product['id']}"
    assert client.patch(path, json={"stock": 1}, headers=customer_headers).status_code == 403
    assert client.delete(path, headers=customer_headers).status_code == 403
    assert client.post("/api/products", json=body).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"sku": "A", "name": "A", "price_cents": -1, "stock": 1},
        {"sku": "A", "name": "A", "price_cents": 1, "stock": -1},
        {"sku": "A", "name": "A", "price_cents": 2**63, "stock": 1},
        {"sku": "A", "name": "A", "price_cents": 1.5, "stock": 1},
        {"sku": "A", "name": "A", "price_cents": True, "stock": 1},
        {"sku": "A", "name": "A", "price_cents": "1", "stock": 1},
        {"sku": "A", "name": "A\u0000", "price_cents": 1, "stock": 1},
        {"sku": "A B", "name": "A", "price_cents": 1, "stock": 1},
        {"sku": "A", "name": "x" * 10_000, "price_cents": 1, "stock": 1},
        {"sku": "A", "name": "A", "price_cents": 1, "stock": 1, "id": 5},
        {"sku": "A", "name": "A", "price_cents": 1},
        {"sku": None, "name": "A", "price_cents": 1, "stock": 1},
        [],
    ],
)
def test_bad_products_are_422_and_not_stored(client, admin_headers, body):
    response = client.post("/api/products", json=body, headers=admin_headers)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "validation_error"
    assert client.get("/api/products").json["total"] == 0


def test_an_id_beyond_bigint_is_404(client, admin_headers):
    huge = 2**63
    assert client.get(f"/api/products/{huge}").status_code == 404
    response = client.patch(f"/api/products/{huge}", json={"stock": 1}, headers=admin_headers)
    assert response.status_code == 404
    assert client.delete(f"/api/products/{huge}", headers=admin_headers).status_code == 404
