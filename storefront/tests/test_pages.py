"""The shop's pages against the real gateway: catalog, product, cart, checkout, orders."""

import threading

import pytest

from conftest import add_to_cart, api, checkout_form, csrf_of


def test_the_catalog_lists_and_searches_products(client, make_product):
    product = make_product(name="Storefront searchable teapot")
    page = client.get("/?q=searchable teapot")
    assert page.status_code == 200
    assert "text/html" in page.content_type
    assert product["name"] in page.text
    assert client.get("/?q=no-such-product-anywhere").text.count('class="card"') == 0


def test_the_catalog_pages(client, make_product, app_with, config):
    for _ in range(3):
        make_product(name="Storefront paging mug")
    small = app_with(page_size=2).test_client()
    first = small.get("/?q=paging mug")
    assert 'rel="next"' in first.text and "Page 1 of" in first.text
    second = small.get("/?q=paging mug&page=2")
    assert 'rel="prev"' in second.text and "Page 2 of" in second.text


@pytest.mark.parametrize("page", ["0", "-3", "x", "99999999999999999999"])
def test_odd_page_numbers_show_a_page(client, page):
    assert client.get(f"/?page={page}").status_code in (200, 400)


def test_the_product_page_shows_the_stock(client, make_product):
    product = make_product(stock=7)
    page = client.get(f"/products/{product['id']}")
    assert page.status_code == 200
    assert "7 in stock" in page.text
    assert 'for="quantity"' in page.text  # the field has a label


def test_an_unknown_product_is_a_friendly_404(client):
    page = client.get("/products/999999999")
    assert page.status_code == 404
    assert "We could not find that page." in page.text
    assert "Traceback" not in page.text


def test_checkout_places_one_order_and_empties_the_cart(shopper, make_product):
    client = shopper["client"]
    product = make_product(stock=5, price_cents=300)
    add_to_cart(client, product["id"], 2)
    assert "$6.00" in client.get("/cart").text
    response = client.post("/checkout", data=checkout_form(client))
    assert response.status_code == 302
    order_page = client.get(response.headers["Location"])
    assert "confirmed" in order_page.text
    orders = api("GET", "/api/orders", headers=shopper["headers"]).json()
    assert orders["total"] == 1
    assert orders["items"][0]["items"][0]["quantity"] == 2
    assert "Your cart is empty" in client.get("/cart").text


def test_the_same_checkout_form_sent_twice_places_one_order(shopper, make_product):
    client = shopper["client"]
    add_to_cart(client, make_product(stock=5)["id"], 1)
    form = checkout_form(client)
    first = client.post("/checkout", data=form)
    second = client.post("/checkout", data=form)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert api("GET", "/api/orders", headers=shopper["headers"]).json()["total"] == 1


def test_a_double_click_at_the_same_instant_places_one_order(shopper, make_product, app):
    client = shopper["client"]
    product = make_product(stock=5)
    add_to_cart(client, product["id"], 1)
    form = checkout_form(client)
    # Two browsers' worth of the same cookie, posting together as a double click does.
    cookie = client.get_cookie("flotilla_session")
    results = []

    def click() -> None:
        other = app.test_client()
        other.set_cookie(cookie.key, cookie.value)
        results.append(other.post("/checkout", data=form).status_code)

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()
    assert results == [302, 302]
    assert api("GET", "/api/orders", headers=shopper["headers"]).json()["total"] == 1
    assert api("GET", f"/api/products/{product['id']}").json()["stock"] == 4


def test_an_out_of_stock_checkout_says_which_product(shopper, make_product):
    client = shopper["client"]
    product = make_product(stock=1, name="Storefront rare vase")
    add_to_cart(client, product["id"], 3)
    response = client.post("/checkout", data=checkout_form(client))
    assert response.status_code == 409
    assert "Storefront rare vase has only 1 left" in response.text
    assert api("GET", "/api/orders", headers=shopper["headers"]).json()["total"] == 0


def test_an_order_can_be_cancelled(shopper, make_product):
    client = shopper["client"]
    product = make_product(stock=3)
    add_to_cart(client, product["id"], 3)
    placed = client.post("/checkout", data=checkout_form(client))
    order_path = placed.headers["Location"]
    token = csrf_of(client, order_path)
    cancelled = client.post(order_path + "/cancel", data={"csrf_token": token})
    assert cancelled.status_code == 302
    assert "cancelled" in client.get(order_path).text
    assert api("GET", f"/api/products/{product['id']}").json()["stock"] == 3


def test_orders_and_notifications_need_a_login(client):
    for path in ("/orders", "/notifications", "/checkout"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


def test_my_orders_and_notifications_pages(shopper):
    client = shopper["client"]
    assert "My orders" in client.get("/orders").text
    assert "<h1>Notifications</h1>" in client.get("/notifications").text


def test_another_users_order_is_not_found(shopper, make_product, client, app):
    add_to_cart(shopper["client"], make_product()["id"], 1)
    path = (
        shopper["client"]
        .post("/checkout", data=checkout_form(shopper["client"]))
        .headers["Location"]
    )
    stranger = app.test_client()
    email = f"stranger-{path.rsplit('/', 1)[-1]}-{id(stranger)}@example.com"
    stranger.post(
        "/signup",
        data={
            "name": "Eve",
            "email": email,
            "password": "correct horse battery",
            "csrf_token": csrf_of(stranger),
        },
    )
    assert stranger.get(path).status_code == 404
