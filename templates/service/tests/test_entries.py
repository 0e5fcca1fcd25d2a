"""__SERVICE__'s entries: anyone reads them, a signed-in user adds one."""


def test_the_first_page_is_empty(client):
    response = client.get("__PREFIX__")
    assert response.status_code == 200
    assert response.json == {"items": [], "total": 0, "limit": 20, "offset": 0}


def test_a_user_adds_an_entry_that_anyone_reads(client, customer_headers):
    created = client.post("__PREFIX__", json={"name": "  First  "}, headers=customer_headers)
    assert created.status_code == 201, created.json
    assert created.json["name"] == "First"
    entry = client.get(f"__PREFIX__/{created.json['id']}")
    assert entry.status_code == 200
    assert entry.json == created.json
    assert client.get("__PREFIX__").json["total"] == 1


def test_adding_an_entry_needs_a_token(client):
    response = client.post("__PREFIX__", json={"name": "Anonymous"})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_an_entry_that_does_not_exist_is_a_json_404(client):
    response = client.get("__PREFIX__/999999")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
