"""Idempotency-Key, exactly as API.md says."""

import hashlib
import uuid

import pytest

from order_service.idempotency import LEASE_SECONDS, body_hash


def _post(client, headers, product, quantity, key):
    return client.post(
        "/api/orders",
        json={"items": [{"product_id": product["id"], "quantity": quantity}]},
        headers={**headers, "Idempotency-Key": key},
    )


def _orders(db) -> int:
    with db.transaction() as cursor:
        cursor.execute("SELECT count(*) AS n FROM orders")
        return cursor.fetchone()["n"]


def test_a_repeat_returns_the_first_response_and_creates_nothing(client, db, alice, catalog):
    product = catalog.create(stock=5)
    first = _post(client, alice["headers"], product, 2, "key-1")
    again = _post(client, alice["headers"], product, 2, "key-1")
    assert first.status_code == again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _orders(db) == 1 and catalog.stock(product["id"]) == 3


def test_another_body_with_the_same_key_is_422(client, db, alice, catalog):
    product = catalog.create(stock=5)
    _post(client, alice["headers"], product, 2, "key-1")
    response = _post(client, alice["headers"], product, 1, "key-1")
    assert response.status_code == 422
    assert response.json["error"]["code"] == "idempotency_key_reused"
    assert _orders(db) == 1 and catalog.stock(product["id"]) == 3


def test_keys_are_per_user(client, db, alice, bob, catalog):
    product = catalog.create(stock=5)
    assert _post(client, alice["headers"], product, 1, "shared").status_code == 201
    assert _post(client, bob["headers"], product, 1, "shared").status_code == 201
    assert _orders(db) == 2


def test_a_client_error_is_replayed_too(client, alice, catalog):
    product = catalog.create(stock=1)
    first = _post(client, alice["headers"], product, 2, "key-oos")
    assert first.status_code == 409
    again = _post(client, alice["headers"], product, 2, "key-oos")
    assert again.status_code == 409 and again.get_data() == first.get_data()


def _running_key(db, user_id: int, key: str, items: list[dict], age_seconds: int) -> None:
    with db.transaction() as cursor:
        cursor.execute(
            "INSERT INTO idempotency_keys"
            " (user_id, key, request_hash, reservation_id, lease_expires_at)"
            " VALUES (%s, %s, %s, %s, now() + make_interval(secs => %s))",
            (
                user_id,
                key,
                body_hash({"items": items}),
                f"order-{key}-{uuid.uuid4().hex}",  # product-service's reservations outlive tests
                LEASE_SECONDS - age_seconds,
            ),
        )


def test_a_repeat_while_the_first_runs_is_409(client, db, alice, catalog):
    product = catalog.create(stock=5)
    _running_key(db, alice["id"], "busy", [{"product_id": product["id"], "quantity": 1}], 0)
    response = _post(client, alice["headers"], product, 1, "busy")
    assert response.status_code == 409
    assert response.json["error"]["code"] == "idempotency_conflict"
    assert _orders(db) == 0


def test_a_key_abandoned_by_a_dead_worker_is_taken_over(client, db, alice, catalog):
    product = catalog.create(stock=5)
    _running_key(db, alice["id"], "dead", [{"product_id": product["id"], "quantity": 1}], 3600)
    response = _post(client, alice["headers"], product, 1, "dead")
    assert response.status_code == 201
    assert _post(client, alice["headers"], product, 1, "dead").get_data() == response.get_data()
    assert catalog.stock(product["id"]) == 4


def test_keys_older_than_the_retention_are_forgotten(client, db, alice, catalog):
    product = catalog.create(stock=5)
    _post(client, alice["headers"], product, 1, "old")
    with db.transaction() as cursor:
        cursor.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
    assert _post(client, alice["headers"], product, 1, "old").status_code == 201
    assert _orders(db) == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "tab\there", "ünï"])
def test_bad_keys_are_400(client, db, alice, catalog, key):
    product = catalog.create(stock=5)
    response = client.post(
        "/api/orders",
        json={"items": [{"product_id": product["id"], "quantity": 1}]},
        headers={**alice["headers"], "Idempotency-Key": key.encode().decode("latin-1")},
    )
    assert response.status_code == 400
    assert _orders(db) == 0 and catalog.stock(product["id"]) == 5


def test_a_255_character_key_works(client, alice, catalog):
    key = hashlib.sha512(b"k").hexdigest() * 2  # 256 characters
    assert _post(client, alice["headers"], catalog.create(), 1, key[:255]).status_code == 201
