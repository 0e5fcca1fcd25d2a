"""Sessions: none stored for a visitor, a bound per client, a CSRF token renewed at log-in,
and one refresh for every request of a session at once."""

import json
import threading
import uuid

import redis

from storefront.sessions import KEY_PREFIX, NEW_SESSIONS_PREFIX

from conftest import PASSWORD, add_to_cart, csrf_of


def session_keys(store: redis.Redis) -> set[bytes]:
    """Every stored session's key."""
    return set(store.scan_iter(match=KEY_PREFIX + "*", count=1000))


def test_a_flood_of_anonymous_page_views_stores_no_session(app, store, make_product):
    product = make_product()
    before = session_keys(store)
    paths = ("/", "/login", "/signup", f"/products/{product['id']}", "/cart", "/orders")
    for _ in range(20):
        for path in paths:
            client = app.test_client()  # a new visitor every time, as a script's loop is
            assert client.get(path).status_code in (200, 302)
            assert client.get_cookie("flotilla_session") is None
    assert session_keys(store) == before


def test_an_anonymous_form_works_with_the_signed_visitor_cookie(app, shopper):
    client = app.test_client()
    token = csrf_of(client, "/login")
    assert client.get_cookie("flotilla_visitor").http_only
    response = client.post(
        "/login", data={"email": shopper["email"], "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    assert client.get("/orders").status_code == 200


def test_a_forged_visitor_cookie_carries_no_csrf_token(app):
    client = app.test_client()
    client.set_cookie("flotilla_visitor", '{"csrf_token": "mine"}')
    response = client.post("/login", data={"email": "a@example.com", "csrf_token": "mine"})
    assert response.status_code == 400 and "This form has expired" in response.text


def test_log_in_renews_the_csrf_token(app, shopper):
    client = app.test_client()
    before = csrf_of(client, "/login")
    client.post(
        "/login", data={"email": shopper["email"], "password": PASSWORD, "csrf_token": before}
    )
    after = csrf_of(client, "/")
    assert after != before
    # A token learnt before log-in (a planted one, say) no longer sends any form.
    refused = client.post("/logout", data={"csrf_token": before})
    assert refused.status_code == 400
    assert client.get("/orders").status_code == 200


def test_a_filled_cart_stores_a_session_and_an_emptied_one_ends_it(app, store, make_product):
    client = app.test_client()
    product = make_product()
    add_to_cart(client, product["id"], 2)
    sid = client.get_cookie("flotilla_session").value.rpartition(".")[0]
    assert json.loads(store.get(KEY_PREFIX + sid))["cart"] == {str(product["id"]): 2}
    token = csrf_of(client, "/cart")
    client.post(f"/cart/{product['id']}", data={"quantity": 0, "csrf_token": token})
    assert not store.exists(KEY_PREFIX + sid)
    assert client.get_cookie("flotilla_session") is None


def test_each_client_starts_a_bounded_number_of_stored_sessions(app_with, store, make_product):
    app = app_with(sessions_per_client=2)
    product = make_product()
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    store.delete(NEW_SESSIONS_PREFIX + address)
    before = session_keys(store)
    statuses = []
    for _ in range(4):
        client = app.test_client()
        client.environ_base["HTTP_X_FORWARDED_FOR"] = address
        token = csrf_of(client, f"/products/{product['id']}")
        response = client.post(
            "/cart", data={"product_id": product["id"], "quantity": 1, "csrf_token": token}
        )
        statuses.append(response.status_code)
    assert statuses == [302, 302, 429, 429]
    assert len(session_keys(store) - before) == 2


def test_simultaneous_refreshes_keep_the_session_logged_in(app, shopper, store):
    client = shopper["client"]
    cookie = client.get_cookie("flotilla_session")
    key = KEY_PREFIX + cookie.value.rpartition(".")[0]
    session = json.loads(store.get(key))
    session["expires_at"] = 0  # every page now refreshes the token pair first
    store.set(key, json.dumps(session), ex=600)
    barrier = threading.Barrier(4)
    statuses = []

    def open_page() -> None:
        browser_tab = app.test_client()
        browser_tab.set_cookie(cookie.key, cookie.value)
        barrier.wait()
        statuses.append(browser_tab.get("/orders").status_code)

    tabs = [threading.Thread(target=open_page) for _ in range(4)]
    for tab in tabs:
        tab.start()
    for tab in tabs:
        tab.join()
    assert statuses == [200] * 4
    assert client.get("/orders").status_code == 200
    assert json.loads(store.get(key))["refresh_token"] != session["refresh_token"]
