"""`make seed`: the demo catalog, loaded idempotently."""

from product_service.seed import demo_catalog, seed


def test_seeding_twice_changes_nothing(client, db):
    assert seed(db) == len(demo_catalog()) >= 24
    first = client.get("/api/products?limit=100").json
    assert seed(db) == 0
    assert client.get("/api/products?limit=100").json == first
